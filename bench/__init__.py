"""Benchmarks: `make bench` (python -m bench). Ratios are against a baseline measured in the same run."""

import os as _os

if _os.environ.get("LISTENER_SOURCE_ONLY") == "1":  # measure the pure-Python build beside the compiled one
    from bench.pure import source_only as _source_only

    _source_only()
