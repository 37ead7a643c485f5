"""Issue 14.4: malformed markup that makes feedparser superlinear marks that feed, and the cycle goes on."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys

import pytest
from feedgen import Entry, Watchlist, rss

from listener.budget import OutOfTime, cpu_budget
from listener.errors import ParseError
from listener.parse import parse_feed

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
HEAD = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>'
        b"<item><title>t</title><description>")


def pathological(mib: float) -> bytes:
    """Unclosed tags in a description: 2 MiB of this costs feedparser's loose parser ~26 s of CPU."""
    return HEAD + b"<a><b>" * int(mib * 1024 * 1024 / 6)


def test_a_pathological_body_runs_out_of_its_parse_budget():
    with pytest.raises(ParseError) as raised:
        parse_feed(pathological(2), url="https://slow.example/feed", budget=0.5)
    assert raised.value.kind == "parse_timeout"


def test_a_normal_feed_parses_within_the_default_budget_and_the_timer_is_disarmed():
    parsed = parse_feed(rss([Entry(title="Hello", body="Quillfeather", guid="1")]).encode(), url="https://a.example/")
    assert [item.title for item in parsed.items] == ["Hello"]
    with cpu_budget(None):  # no budget: nothing armed
        pass
    import signal
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)


def test_cpu_budget_is_not_swallowed_by_except_exception():
    with pytest.raises(OutOfTime):
        with cpu_budget(0.2):
            while True:
                try:
                    sum(range(10_000))
                except Exception:  # noqa: BLE001 - what library code does
                    pass


def test_14_mib_of_malformed_markup_marks_that_feed_and_the_cycle_goes_on(tmp_path, feed_server):
    feed_server.add("/slow.xml", pathological(14), gzip=True)  # ~30 KB on the wire
    feeds = [{"name": "Slow", "url": feed_server.url("/slow.xml")}]
    for n in range(9):
        feed_server.add(f"/good{n}.xml", rss([Entry(title=f"Quillfeather {n}", body="fine", guid=f"g{n}",
                                                     published=NOW - dt.timedelta(hours=1))]))
        feeds.append({"name": f"Good {n}", "url": feed_server.url(f"/good{n}.xml")})
    watchlist = Watchlist(feeds=feeds)
    text = watchlist.text().replace("fetch: {timeout: 2, connect_timeout: 1}",
                                    "fetch: {timeout: 10, connect_timeout: 1, parse_timeout: 1}")
    (tmp_path / "feeds.yaml").write_text(text)
    polled = subprocess.run([sys.executable, "-m", "listener", "--config", str(tmp_path / "feeds.yaml"), "poll"],
                            capture_output=True, text=True, timeout=120)
    assert polled.returncode == 0, polled.stderr
    with sqlite3.connect(tmp_path / "listener.db") as conn:
        kinds = dict(conn.execute("SELECT name, error_kind FROM feeds"))
        counts = dict(conn.execute("SELECT feeds.name, count(items.id) FROM feeds"
                                   " LEFT JOIN items ON items.feed_id = feeds.id GROUP BY feeds.id"))
    assert kinds["Slow"] == "parse_timeout" and counts["Slow"] == 0
    assert all(counts[f"Good {n}"] == 1 and kinds[f"Good {n}"] is None for n in range(9)), (counts, kinds)
