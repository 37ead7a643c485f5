"""RELIABILITY rows that had no test of their own (see tests/RELIABILITY_MAP.md)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess

from conftest import run_cli
from feedgen import Entry, Watchlist, rss

from listener import store

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def listener(config: str, *args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, config=config)


def test_e4_the_database_is_durable_with_wal_and_synchronous_full(tmp_path):
    """E4: power loss cannot be simulated on loopback; what it depends on is checked instead."""
    db = store.open_db(tmp_path / "listener.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_d7_tracking_pixels_and_remote_images_never_reach_the_report_or_the_digest(tmp_path, feed_server):
    pixel = feed_server.url("/pixel.gif")
    body = (f'<p>Quillfeather lost my notes.</p><img src="{pixel}" width="1" height="1">'
            f'<img src="{pixel}?big" style="display:none"><p>Still angry.</p>')
    feed_server.add("/blog.xml", rss([Entry(title="Quillfeather outage", body=body, guid="p1",
                                            link="https://blog.example/p1", published=NOW - dt.timedelta(hours=1))]))
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)
    assert listener(config, "poll").returncode == 0
    report = listener(config, "report")
    digest = listener(config, "digest")
    assert report.returncode == 0 and digest.returncode == 0, (report.stderr, digest.stderr)
    pages = [p.read_text() for p in (tmp_path / "reports").glob("*.html")]
    for text in [digest.stdout, *pages]:
        assert "pixel.gif" not in text and "<img" not in text.lower()
    with sqlite3.connect(tmp_path / "listener.db") as conn:
        (content,) = conn.execute("SELECT content FROM items").fetchone()
    assert "Quillfeather lost my notes." in content and "<" not in content
    assert feed_server.hits("/pixel.gif") == 0
