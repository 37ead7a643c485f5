"""Fuzz: parse + store never raise, never lose a parsed entry, never store tags in text (issue 14.8).

`make test` runs a short budget; `make fuzz` sets LISTENER_FUZZ_EXAMPLES for the long run.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from pathlib import Path

from fuzzfeeds import FuzzFeed, feeds, render
from hypothesis import HealthCheck, given, settings

from listener import store
from listener.errors import ParseError
from listener.match import compile_watchlist
from listener.models import FeedSpec, ItemPlacement, WatchSpec
from listener.pipeline import process_body

EXAMPLES = int(os.environ.get("LISTENER_FUZZ_EXAMPLES", "40"))
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone.utc)
WATCHLIST = compile_watchlist([WatchSpec("quillfeather", ("quillfeather",))])
TAG = re.compile(r"</?(?:b|i|p|a|br|div|img|svg|table|tr|td|script|style)\b[^<>]*>", re.I)
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def store_feed(body: bytes) -> tuple[int, list[tuple[str, str]]]:
    """(entries parsed, stored (title, content) rows), through the real process_body and save_poll."""
    processed = process_body(body, url="https://fuzz.example/feed", headers={}, known={}, watchlist=WATCHLIST,
                             match_all=True, score_all=True)
    with tempfile.TemporaryDirectory() as folder:
        db = store.open_db(Path(folder) / "fuzz.db")
        try:
            store.sync_feeds(db, [FeedSpec("Fuzz", "https://fuzz.example/feed")])
            feed_id = db.execute("SELECT id FROM feeds").fetchone()[0]
            update = store.FeedUpdate(status="ok", http_status=200, etag=None, last_modified=None,
                                      next_poll_at=NOW + dt.timedelta(minutes=15))
            placements = {s.item.key: ItemPlacement(f"t{n}", s.item.key) for n, s in enumerate(processed.items)}
            store.save_poll(db, feed_id, update, processed.items, now=NOW, placements=placements,
                            seen=len(processed.parsed.items))
            rows = db.execute("SELECT title, content FROM items").fetchall()
        finally:
            db.close()
    return len(processed.parsed.items), rows


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds())
def test_parse_and_store_never_raise_lose_an_entry_or_store_tags(feed: FuzzFeed):
    try:
        parsed, rows = store_feed(render(feed))
    except ParseError:
        assert not (feed.well_formed and feed.entries), "a well-formed feed with entries was refused"
        return
    assert len(rows) == parsed  # every parsed entry is stored, once
    if feed.well_formed:
        assert parsed == len(feed.entries)
    for title, content in rows:
        for text in (title or "", content or ""):
            assert not TAG.search(text), text
            assert not CONTROLS.search(text), repr(text)
