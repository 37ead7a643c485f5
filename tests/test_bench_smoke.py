"""`make bench` end to end on a tiny farm: the Python fallback server, no rss2email (no PyPI), RESULTS written.

The figures themselves are not asserted (speed lives in the benchmark, not in tests).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_quick_writes_results(tmp_path):
    results = tmp_path / "RESULTS.md"
    env = {**os.environ, "BENCH_QUICK": "1", "BENCH_SERVER": "python", "BENCH_RSS2EMAIL": "0",
           "BENCH_FEEDS": "4", "BENCH_REPEATS": "1", "BENCH_DB_ITEMS": "300", "BENCH_QUERY_REPEATS": "1",
           "BENCH_WORK": str(tmp_path / "work"), "BENCH_RESULTS": str(results)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-m", "bench"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=110)
    assert done.returncode == 0, done.stderr[-2000:]
    text = results.read_text()
    assert "python http.server (fallback: asked for)" in text
    for row in ("straightforward: fetch + feedparser", "listener, first poll", "listener, re-poll, all 304",
                "listener, re-poll, 10 % of feeds changed", "`listener mentions`", "`listener feeds`",
                "`listener threads --needs-reply --limit 50`", "`listener report`", "`listener digest`"):
        assert row in text, row
    assert "failed" not in text
    assert "rss2email left out" in text
    assert "4 WordPress-like feeds x 20 items" in text


def test_the_scoring_target_is_judged_on_the_share_and_says_the_build():
    sys.path.insert(0, str(REPO))
    from bench import report

    results = report.Results(command="make bench", server="", feeds=0, repeats=1, settings={})
    assert not [line for line in report.target_lines(results) if line[0].startswith("issue 10: VADER")]
    for share, holds in ((0.84, True), (0.61, False)):
        results.scoring_share, results.scoring_build = share, "compiled"
        [(_, measured, ok)] = [line for line in report.target_lines(results) if line[0].startswith("issue 10: VADER")]
        assert (measured, ok) == (f"{share:.2f} (compiled)", holds)
