"""listener's modules from their source, even where a compiled one (setup.py, mypyc) lies beside it.

Python prefers an extension module to the .py of the same name; `source_only` makes the finder of
listener's folders see only source files, so that one process can run the source as written: to
measure the pure-Python build, and to prove the compiled modules give what their source gives.
`LISTENER_SOURCE_ONLY=1 python -m bench...` calls it before anything imports listener.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "listener"


def source_only() -> None:
    """From now on, every module of the listener package loads from its .py file."""
    if any(name == "listener" or name.startswith("listener.") for name in sys.modules):
        raise RuntimeError("listener is imported already: call source_only() first")
    root = str(PACKAGE)

    def listener_sources(path: str) -> importlib.machinery.FileFinder:
        if path != root and not path.startswith(root + "/"):
            raise ImportError(path)  # not listener's: the next hook finds it as usual
        return importlib.machinery.FileFinder(
            path, (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES))

    sys.path_hooks.insert(0, listener_sources)
    sys.path_importer_cache.clear()


def is_compiled(name: str) -> bool:
    """Whether this process runs module `name` from a compiled file rather than its source."""
    return not str(importlib.import_module(name).__file__).endswith(".py")


def build() -> str:
    """Which build of the scoring modules this process runs: "compiled" or "pure Python"."""
    return "compiled" if is_compiled("listener.vader") else "pure Python"
