"""The all-304 re-poll (issue 15): a cycle in which every feed answers 304 Not Modified stores each
feed's new schedule and loads nothing it never uses (the parser, VADER, the verdict model, Jinja,
the scheduler, the alert senders), because at 1,000 feeds those imports cost more than the fetches."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

from conftest import run_cli
from feedgen import Entry, Watchlist, rss

NEVER_FOR_304S = ("feedparser", "numpy", "vaderSentiment", "jinja2", "apscheduler", "apprise", "listener.verdict",
                  "listener.parse", "listener.pipeline.workers", "listener.triage", "listener.pipeline.alerts")
PROBE = """
import json, runpy, sys
sys.argv = ["listener", *json.loads(sys.argv[1])]
try:
    runpy.run_module("listener", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
loaded = sorted(name for name in %r if name in sys.modules)
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def probe_poll(config, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE % (NEVER_FOR_304S,),
                             json.dumps(["--config", str(config), "poll", *args])],
                            capture_output=True, text=True, timeout=120)
    return {**json.loads(result.stderr.strip().splitlines()[-1]), "stdout": result.stdout}


def test_an_all_304_repoll_loads_no_parser_model_or_alerts(tmp_path, feed_server):
    feeds = []
    for i in range(10):  # more than WORKERS_FROM_FEEDS: the pool would start at a first body
        feed_server.add(f"/f{i}.xml", rss([Entry(f"Quillfeather news {i}", guid=f"g{i}")]), etag=f'"e{i}"')
        feeds.append({"name": f"F{i}", "url": feed_server.url(f"/f{i}.xml")})
    config = Watchlist(feeds=feeds).write(tmp_path)
    assert run_cli("poll", "--all", config=config).returncode == 0
    with sqlite3.connect(tmp_path / "listener.db") as conn:
        polled_before = conn.execute("SELECT max(last_polled_at) FROM feeds").fetchone()[0]

    again = probe_poll(config, "--all")

    assert again["code"] == 0
    assert "10 not modified, 0 failed" in again["stdout"]
    assert again["loaded"] == []
    with sqlite3.connect(tmp_path / "listener.db") as conn:
        rows = conn.execute("SELECT status, http_status, etag, last_polled_at FROM feeds ORDER BY id").fetchall()
    assert [(status, http, etag) for status, http, etag, _ in rows] == [
        ("not_modified", 304, f'"e{i}"') for i in range(10)]
    assert all(polled >= polled_before for *_, polled in rows)


def test_a_repoll_with_one_changed_feed_still_parses_and_scores_it(tmp_path, feed_server):
    feeds = []
    for i in range(10):
        feed_server.add(f"/f{i}.xml", rss([Entry(f"Quillfeather news {i}", guid=f"g{i}")]), etag=f'"e{i}"')
        feeds.append({"name": f"F{i}", "url": feed_server.url(f"/f{i}.xml")})
    config = Watchlist(feeds=feeds).write(tmp_path)
    assert run_cli("poll", "--all", config=config).returncode == 0
    feed_server.add("/f4.xml", rss([Entry("Quillfeather is lovely", guid="g4"),
                                    Entry("Quillfeather lost my notes, furious", guid="new")]), etag='"e4b"')

    again = probe_poll(config, "--all")

    assert again["code"] == 0
    assert "1 new items, 1 new mentions, 9 not modified, 0 failed" in again["stdout"]
    with sqlite3.connect(tmp_path / "listener.db") as conn:
        assert conn.execute("SELECT etag FROM feeds WHERE name = 'F4'").fetchone() == ('"e4b"',)
        scored = conn.execute("SELECT sentiment IS NOT NULL, verdict_version IS NOT NULL, thread_id IS NOT NULL"
                              " FROM items WHERE key LIKE '%new%'").fetchall()
    assert scored == [(1, 1, 1)]
