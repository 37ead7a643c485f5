"""listener: a social-listening watchlist daemon."""

import sys

__version__ = "0.1.0"


def _import_sqlite_utils_without_numpy() -> None:
    """sqlite-utils imports numpy and pandas when it loads, only to map their scalar types to
    column types; listener never hands it such values. That import is most of a read command's
    time (~150 ms of `listener mentions`), so sqlite-utils is loaded with both hidden; a later
    `import numpy` (the verdict's model) works as usual."""
    if "sqlite_utils" in sys.modules:
        return
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import numpy` raise ImportError
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name) is None:
                del sys.modules[name]


_import_sqlite_utils_without_numpy()
