"""Loads httpx without its command-line client; imported by the fetch package before httpx itself.

httpx imports `httpx._main` (click, rich and pygments) when it loads, only to offer `httpx.main`,
the `httpx` command; listener never calls it, and it was ~27 ms of every `listener poll`. The
module is hidden while httpx loads (as listener/__init__ hides numpy from sqlite-utils), so httpx
falls back to the stub it ships for installs without the CLI extras.
"""

from __future__ import annotations

import sys


def load_httpx() -> None:
    if "httpx" in sys.modules:
        return
    hidden = "httpx._main" not in sys.modules
    if hidden:
        sys.modules["httpx._main"] = None  # type: ignore[assignment]  # makes `from ._main import main` raise ImportError
    try:
        import httpx  # noqa: F401
    finally:
        if hidden and sys.modules.get("httpx._main") is None:
            del sys.modules["httpx._main"]


load_httpx()
