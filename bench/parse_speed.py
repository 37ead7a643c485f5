"""`python -m bench.parse_speed [FEEDS]`: parse_feed's items per CPU second, fast path vs feedparser.

Parses the bench farm's blogs and comment feeds (bench/farm.py, FEEDS blogs, default 60) and the real
feeds in ../shared/realfeeds (when present), with parse.FAST_PATH on and off, interleaved, and prints
the best of PARSE_RUNS (default 5) runs of each with the load average. CPU time, not wall time: the
machine is shared.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.farm import build_farm
from listener import parse
from listener.errors import ParseError

NOW = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
REALFEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "realfeeds"


def _cpu_seconds(bodies: list[tuple[str, bytes]], fast: bool) -> tuple[int, float]:
    parse.FAST_PATH = fast
    items, start = 0, time.process_time()
    for name, body in bodies:
        try:
            items += len(parse.parse_feed(body, url=f"https://feeds.example/{name}", now=NOW).items)
        except ParseError:
            pass
    return items, time.process_time() - start


def measure(label: str, bodies: list[tuple[str, bytes]], runs: int) -> str:
    best = {True: float("inf"), False: float("inf")}
    items = 0
    for _ in range(runs):
        for fast in (False, True):
            items, seconds = _cpu_seconds(bodies, fast)
            best[fast] = min(best[fast], seconds)
    parse.FAST_PATH = True
    return (f"{label}: {len(bodies)} bodies, {items} items; feedparser {items / best[False]:,.0f} items/s, "
            f"fast path {items / best[True]:,.0f} items/s (x{best[False] / best[True]:.2f}); "
            f"load {os.getloadavg()[0]:.2f}")


def main(argv: list[str]) -> int:
    feeds = int(argv[0]) if argv else 60
    runs = int(os.environ.get("PARSE_RUNS", "5"))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        build_farm(root, feeds, now=NOW)
        farm = [(p.name, p.read_bytes()) for d in ("f", "c") for p in sorted((root / d).iterdir())]
    print(measure("farm", farm, runs))
    if REALFEEDS.is_dir():
        real = [(p.name, p.read_bytes()) for p in sorted(REALFEEDS.iterdir())
                if p.name not in ("MANIFEST.md", "manifest.json")]
        print(measure("real feeds", real, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
