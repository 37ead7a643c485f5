"""The 53 real-world feeds of ../shared/realfeeds served over HTTP: every entry stored exactly once, no markup left."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from feedgen import Watchlist

from listener import pipeline
from listener.config import load_config
from listener.parse import parse_feed

REALFEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "realfeeds"
pytestmark = pytest.mark.skipif(not REALFEEDS.is_dir(), reason=f"no real-world feeds at {REALFEEDS}")
# Markup, not text that talks about angle brackets ("Mapper<LongWritable, Text>" is a real title).
TAG = re.compile(r"</?(?:p|div|span|a|img|br|hr|script|style|iframe|b|i|em|strong|ul|ol|li|table|tr|td|h[1-6]"
                 r"|blockquote|pre|code|font|center|object|embed|form|input)\b[^>]*>|<!--", re.I)


def feed_files() -> list[Path]:
    return sorted(p for p in REALFEEDS.iterdir() if p.suffix in {".xml", ".rss", ".atom", ".rdf"})


@pytest.fixture(scope="module")
def manifest() -> dict[str, dict]:
    return {entry["file"]: entry for entry in json.loads((REALFEEDS / "manifest.json").read_text())}


@pytest.fixture
def polled(tmp_path, feed_server):
    files = feed_files()
    for path in files:
        feed_server.add(f"/{path.name}", path.read_bytes(), content_type="application/xml",
                        etag=f'"{path.stat().st_size}"')
    feeds = [{"name": path.name, "url": feed_server.url(f"/{path.name}"), "match": "all"} for path in files]
    config = load_config(Watchlist(feeds=feeds).write(tmp_path))
    summary = pipeline.poll(config, force=True)
    conn = sqlite3.connect(config.database)
    conn.row_factory = sqlite3.Row
    yield config, summary, conn
    conn.close()


def test_every_entry_is_stored_once_and_clean(polled, manifest):
    config, summary, conn = polled
    assert not summary.failed, summary.failed
    stored = dict(conn.execute("SELECT feeds.name, count(*) FROM items JOIN feeds ON feeds.id = items.feed_id"
                               " GROUP BY feeds.name").fetchall())
    for path in feed_files():
        entries = manifest[path.name]["entries"]
        keys = {item.key for item in parse_feed(path.read_bytes(), url=f"http://x/{path.name}").items}
        assert stored.get(path.name, 0) == len(keys), path.name
        assert len(keys) <= entries and len(keys) >= entries - 2, f"{path.name}: ids collapse too much"
    assert sum(stored.values()) == summary.new_items
    for row in conn.execute("SELECT title, content, author, url FROM items"):
        for field in ("title", "content", "author"):
            assert not TAG.search(row[field] or ""), (field, row[field][:200])
        assert row["url"] is None or row["url"].startswith(("http://", "https://"))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_second_poll_of_the_real_feeds_gets_304s_and_stores_nothing(polled, feed_server):
    config, first, conn = polled
    again = pipeline.poll(config, force=True)
    assert again.count("not_modified") == len(feed_files())
    assert again.new_items == 0
    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == first.new_items
