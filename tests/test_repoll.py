"""The all-304 re-poll (issue 15): a cycle in which every feed answers 304 Not Modified stores each
feed's new schedule and loads nothing it never uses (the parser, VADER, the verdict model, Jinja,
the scheduler, the alert senders), because at 1,000 feeds those imports cost more than the fetches."""

from __future__ import annotations

import sqlite3

from conftest import modules_loaded, run_cli
from feedgen import Entry, Watchlist, rss

NEVER_FOR_304S = ("feedparser", "numpy", "vaderSentiment", "jinja2", "apscheduler", "apprise", "listener.verdict",
                  "listener.parse", "listener.pipeline.workers", "listener.triage", "listener.pipeline.alerts",
                  "httpx._main", "rich", "pygments")  # the last three: httpx's command-line client


def probe_poll(config, *args: str) -> dict:
    return modules_loaded(["--config", str(config), "poll", *args], NEVER_FOR_304S)


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


def test_a_batched_304_writes_the_row_save_poll_writes_for_a_304(db):
    """store.save_not_modified (many 304s in one statement) and save_poll for a 304 without items
    leave a feed in the same state, from a failing state with a redirect count and stale counts."""
    import datetime as dt

    from conftest import NOW

    from listener import store
    from listener.models import FeedSpec

    store.sync_feeds(db, [FeedSpec("A", "https://a.example/feed"), FeedSpec("B", "https://b.example/feed")])
    with store.write(db):
        db.execute("UPDATE feeds SET status = 'error', http_status = 500, etag = '\"old\"', consecutive_errors = 3,"
                   " failing_since = '2026-11-20T00:00:00Z', error_kind = 'http', last_error = 'HTTP 500',"
                   " redirect_target = 'https://moved.example/feed', redirect_count = 2, item_count = 7,"
                   " title = 'Kept', link = 'https://a.example/', last_new_item_at = '2026-11-19T00:00:00Z'")
    ids = dict(db.execute("SELECT name, id FROM feeds").fetchall())
    next_poll = NOW + dt.timedelta(minutes=30)
    store.save_poll(db, ids["A"], store.FeedUpdate(status="not_modified", http_status=304, etag='"v2"',
                                                   last_modified="Tue, 24 Nov 2026 10:00:00 GMT",
                                                   next_poll_at=next_poll), [], placements={}, now=NOW, seen=0)
    store.save_not_modified(db, [store.NotModified(ids["B"], '"v2"', "Tue, 24 Nov 2026 10:00:00 GMT", next_poll, NOW)])

    def state(name: str) -> dict:
        row = next(db.query("SELECT * FROM feeds WHERE name = ?", [name]))
        return {k: v for k, v in row.items() if k not in ("id", "ident", "name", "url", "config_url")}

    assert state("A") == state("B")
    assert state("B")["status"] == "not_modified" and state("B")["etag"] == '"v2"'
    assert state("B")["consecutive_errors"] == 0 and state("B")["item_count"] == 0 and state("B")["title"] == "Kept"


def test_batched_304s_whose_write_fails_are_store_failures_and_keep_their_validators(tmp_path, feed_server,
                                                                                      monkeypatch):
    from listener import pipeline, store
    from listener.config import load_config

    for i in range(5):
        feed_server.add(f"/f{i}.xml", rss([Entry(f"Quillfeather news {i}", guid=f"g{i}")]), etag=f'"e{i}"')
    config = load_config(Watchlist(feeds=[{"name": f"F{i}", "url": feed_server.url(f"/f{i}.xml")}
                                          for i in range(5)]).write(tmp_path))
    assert pipeline.poll(config, pool=pipeline.ParsePool(workers=1)).new_items == 5
    for i in range(3):  # two feeds change: they are stored as usual, beside the failing 304s
        feed_server.add(f"/f{i}.xml", rss([Entry(f"Quillfeather news {i}", guid=f"g{i}"),
                                           Entry(f"Quillfeather more {i}", guid=f"h{i}")]), etag=f'"n{i}"')

    def full_disk(db, answers):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "save_not_modified", full_disk)
    announced = []
    summary = pipeline.poll(config, force=True, pool=pipeline.ParsePool(workers=1), on_outcome=announced.append)

    assert summary.new_items == 3
    assert sorted(o.name for o in summary.not_stored) == ["F3", "F4"]
    assert sorted(o.name for o in announced) == [f"F{i}" for i in range(5)]
    with sqlite3.connect(tmp_path / "listener.db") as conn:
        rows = conn.execute("SELECT name, etag, status, error_kind FROM feeds ORDER BY name").fetchall()
    assert rows == [("F0", '"n0"', "ok", None), ("F1", '"n1"', "ok", None), ("F2", '"n2"', "ok", None),
                    ("F3", '"e3"', "error", "store"), ("F4", '"e4"', "error", "store")]


def test_syncing_an_unchanged_config_writes_nothing_and_changes_still_land(db):
    """sync_feeds runs every poll: with feeds.yaml as it was it changes no row (it used to rewrite
    them all); a removed feed goes inactive, a re-added one active, a new URL clears the validators."""
    from listener import store
    from listener.models import FeedSpec

    specs = [FeedSpec("A", "https://a.example/feed"), FeedSpec("B", "https://b.example/feed")]
    store.sync_feeds(db, specs)
    with store.write(db):
        db.execute("UPDATE feeds SET etag = '\"v1\"', url = 'https://moved.example/a' WHERE name = 'A'")
        db.execute("UPDATE feeds SET etag = '\"v1\"' WHERE name = 'B'")
    before = db.conn.total_changes
    store.sync_feeds(db, specs)
    assert db.conn.total_changes == before

    def rows() -> list[tuple]:
        return db.execute("SELECT name, url, config_url, etag, match_all, active FROM feeds ORDER BY name").fetchall()

    assert rows() == [("A", "https://moved.example/a", "https://a.example/feed", '"v1"', 0, 1),
                      ("B", "https://b.example/feed", "https://b.example/feed", '"v1"', 0, 1)]
    store.sync_feeds(db, [FeedSpec("A", "https://a.example/feed", match="all")])
    assert rows() == [("A", "https://moved.example/a", "https://a.example/feed", '"v1"', 1, 1),
                      ("B", "https://b.example/feed", "https://b.example/feed", '"v1"', 0, 0)]
    store.sync_feeds(db, [FeedSpec("A", "https://a.example/new"), FeedSpec("B", "https://b.example/feed"),
                          FeedSpec("C", "https://c.example/feed")])
    assert rows() == [("A", "https://a.example/new", "https://a.example/new", None, 0, 1),
                      ("B", "https://b.example/feed", "https://b.example/feed", '"v1"', 0, 1),
                      ("C", "https://c.example/feed", "https://c.example/feed", None, 0, 1)]
