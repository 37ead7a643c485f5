"""What feeds.yaml said last time, kept as JSON in the user's cache folder.

Every command reads feeds.yaml, and PyYAML takes ~15 ms for 500 feeds (its import and its
Python constructor), more than the query of `listener mentions`. The cache is keyed by the
file's bytes (BLAKE2b), so an edit is never missed however soon it follows the last read, and
it holds the YAML data only: validation runs on every load, so every error is still found and
said the same way. Only data JSON keeps exactly is kept (strings, numbers, booleans, null,
lists, string-keyed maps; a YAML date is not). A cache that cannot be read or written is no
cache: the file is parsed as before, and nothing is said.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

try:
    from _blake2 import blake2b  # what hashlib uses, without loading OpenSSL (~2 ms)
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b

MISSING = object()
MAX_BYTES = 4 * 1024 * 1024  # a config this big is parsed every time rather than kept twice


def cache_folder() -> Path:
    """$XDG_CACHE_HOME/listener, else ~/.cache/listener; OSError when there is no such place."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    if not folder.is_absolute():  # no HOME: "~" is not expanded, and a relative folder is not ours
        raise OSError("no cache folder")
    return folder / "listener"


def _entry(path: Path) -> Path:
    """One cache file per config file, named by its absolute path."""
    name = blake2b(str(path.resolve()).encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
    return cache_folder() / f"config-{name}.json"


def _key(data: bytes) -> str:
    return blake2b(data, digest_size=32).hexdigest()


def cached(path: Path, data: bytes) -> Any:
    """The YAML data of these exact bytes as parsed before, or MISSING."""
    try:
        entry = json.loads(_entry(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RuntimeError):
        return MISSING
    if not isinstance(entry, dict) or entry.get("key") != _key(data) or "data" not in entry:
        return MISSING
    return entry["data"]


def remember(path: Path, data: bytes, parsed: Any) -> None:
    """Keep `parsed` for the next read of these bytes, when JSON gives it back unchanged."""
    if len(data) > MAX_BYTES:
        return
    try:
        text = json.dumps({"key": _key(data), "data": parsed}, ensure_ascii=False, allow_nan=False)
        if json.loads(text)["data"] != parsed or not _same_types(json.loads(text)["data"], parsed):
            return
        entry = _entry(path)
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_name(f".{entry.name}.{os.getpid()}")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, entry)
    except (OSError, TypeError, ValueError, RecursionError, RuntimeError):
        return


def _same_types(copy: Any, original: Any) -> bool:
    """JSON gives back what it was given, type for type (True is not 1, 1.0 is not 1, keys are str)."""
    if type(copy) is not type(original):
        return False
    if isinstance(original, dict):
        return all(type(k) is str for k in original) and all(_same_types(copy[k], v) for k, v in original.items())
    if isinstance(original, list):
        return all(_same_types(c, o) for c, o in zip(copy, original))
    return True
