"""The build: the modules every item runs through compiled with mypyc, pure Python where that cannot be.

Scoring an item is a few hundred small steps in Python (VADER's word loop, the rules' look-ups,
the model's sums); mypyc compiles the same typed source to C, and VADER's numbers with the verdict
come 30-40 % faster (`python -m bench.sentiment_eval --share`). The numbers and verdicts are the
same: tests/test_compiled.py compares the compiled modules with their source on 2,300 texts. Without a C compiler, or
with LISTENER_COMPILE=0, the package installs as plain Python, slower and otherwise the same.
Metadata lives in setup.cfg.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

COMPILED = [
    "listener/vader.py",
    "listener/sentiment.py",
    "listener/verdict/judging.py",
    "listener/verdict/languages.py",
    "listener/verdict/masking.py",
    "listener/verdict/model.py",
    "listener/verdict/rules.py",
]


def compiled_modules() -> list:
    if os.environ.get("LISTENER_COMPILE", "1") == "0":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("listener: mypyc is not installed, building pure Python", file=sys.stderr)
        return []
    # The build runs in its own venv, without listener's dependencies: their types are Any there
    # (`make test`'s mypy checks them, in the development venv). `separate`: each module's C runtime
    # lives beside it in the package, which an editable install finds (a shared one would be top level).
    extensions = mypycify(["--ignore-missing-imports", *COMPILED], opt_level="3", separate=True)
    for extension in extensions:
        extension.optional = True  # no C compiler: the package works from its source
    return extensions


setup(ext_modules=compiled_modules())
