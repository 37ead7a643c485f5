"""listener: a social-listening watchlist daemon."""

import sys
from importlib.machinery import PathFinder
from typing import Any

__version__ = "0.1.0"


class _WithoutNumpy:
    """The loader of sqlite-utils, run with numpy and pandas hidden: sqlite-utils imports both when
    it loads, only to map their scalar types to column types, and listener never hands it such
    values. That import cost ~150 ms of every command; a later `import numpy` (the verdict's model)
    works as usual."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]  # makes `import numpy` raise ImportError
        try:
            self.loader.exec_module(module)
        finally:
            for name in hidden:
                if sys.modules.get(name) is None:
                    del sys.modules[name]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


class _SqliteUtilsFinder:
    """Finds sqlite-utils, whoever imports it first, and hands it to _WithoutNumpy. A finder rather
    than an import here: the read commands never load sqlite-utils at all (~70 ms)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "sqlite_utils":
            return None
        sys.meta_path.remove(self)
        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithoutNumpy(spec.loader)  # type: ignore[assignment]  # a Loader by duck typing
        return spec


if "sqlite_utils" not in sys.modules:
    sys.meta_path.insert(0, _SqliteUtilsFinder())
