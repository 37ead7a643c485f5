"""`listener mentions --search QUERY`: the FTS5 index on title and text, read (issue 15).

The query is SQLite FTS5 syntax, passed as a bound parameter; a malformed one is one clear line."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from conftest import run_cli

from listener import store
from listener.errors import UsageError
from listener.models import FeedSpec, Item, ItemPlacement, Match, ScoredItem, Sentiment

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone.utc)
TEXTS = {
    "sync": ("Sync broke again", "Acme sync lost my notes twice this week"),
    "price": ("Pricing", "Acme is too expensive for a small team"),
    "love": ("Love it", "The new Acme sidebar is lovely"),
    "quiet": ("Not a mention", "sync is fine here"),
}


def scored(key: str, title: str, text: str, *, hit: bool = True) -> ScoredItem:
    age = list(TEXTS).index(key) + 1  # "sync" is the newest
    item = Item(key=key, title=title, content=text, url=f"https://blog.example/{key}", author="Sam",
                published=NOW - dt.timedelta(hours=age))
    return ScoredItem(item, hashlib.sha1(key.encode()).hexdigest(), Match(hit, ("acme",) if hit else (), text),
                      Sentiment(-0.4, 0.1, 0.6, 0.3))


@pytest.fixture
def db(tmp_path):
    database = store.open_db(tmp_path / "listener.db")
    store.sync_feeds(database, [FeedSpec("Blog", "https://blog.example/feed")])
    feed = database.execute("SELECT id FROM feeds").fetchone()[0]
    items = [scored(key, title, text, hit=key != "quiet") for key, (title, text) in TEXTS.items()]
    placements = {s.item.key: ItemPlacement(f"t{s.item.key}", s.item.key) for s in items}
    update = store.FeedUpdate(status="ok", http_status=200, etag=None, last_modified=None, next_poll_at=NOW)
    store.save_poll(database, feed, update, items, placements=placements, now=NOW)
    yield database
    database.close()


def keys(rows) -> list[str]:
    return sorted(row["url"].rsplit("/", 1)[-1] for row in rows)


@pytest.mark.parametrize("query, expected", [
    ("sync", ["sync"]),                      # mentions only: "quiet" says sync but is no mention
    ("notes OR sidebar", ["love", "sync"]),
    ('"small team"', ["price"]),
    ("expens*", ["price"]),
    ("title:pricing", ["price"]),
    ("acme NOT lovely", ["price", "sync"]),
    ("zebra", []),
])
def test_search_is_fts5_over_title_and_text(db, query, expected):
    assert keys(store.mentions(db, search=query, limit=None)) == expected


@pytest.mark.parametrize("query", ['"NEAR(', "*", "NEAR(", "acme AND", "(", '"', "title:", "-", "^"])
def test_a_malformed_query_is_a_usage_error_not_a_crash(db, query):
    with pytest.raises(UsageError, match=r"^--search: not a valid FTS5 query"):
        store.mentions(db, search=query)


@pytest.mark.parametrize("query", ["'; DROP TABLE items;--", "x' OR '1'='1", "nul\x00byte", "é" * 500, "nothing-like-this"])
def test_hostile_queries_are_data_never_sql(db, query):
    schema = db.execute("SELECT group_concat(sql) FROM sqlite_master").fetchone()[0]
    try:
        store.mentions(db, search=query)
    except UsageError:
        pass
    assert db.execute("SELECT group_concat(sql) FROM sqlite_master").fetchone()[0] == schema
    assert db.execute("SELECT count(*) FROM items").fetchone()[0] == len(TEXTS)


def test_search_combines_with_the_other_filters(db):
    assert keys(store.mentions(db, search="acme", negative_at_most=-0.3, limit=None)) == ["love", "price", "sync"]
    assert keys(store.mentions(db, search="acme", limit=1)) == ["sync"]  # newest first


def cli(tmp_path, *args):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - name: Blog\n    url: https://blog.example/feed\n"
                      "watch:\n  - name: acme\n    terms: [acme]\n")
    return run_cli(*args, config=config)


def test_the_cli_searches_and_refuses_a_bad_query_in_one_line(tmp_path, db):
    found = cli(tmp_path, "mentions", "--search", "sidebar", "--format", "json")
    assert found.returncode == 0, found.stderr
    assert [row["title"] for row in json.loads(found.stdout)] == ["Love it"]
    bad = cli(tmp_path, "mentions", "--search", '"NEAR(')
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("listener: --search: not a valid FTS5 query")


def test_the_index_holds_mentions_only_and_follows_their_changes(tmp_path):
    db = store.open_db(tmp_path / "listener.db")
    try:
        def indexed(word: str) -> int:
            return db.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH ?", [word]).fetchone()[0]

        feed = db.execute("INSERT INTO feeds (ident, name, url, kind, active, created_at)"
                          " VALUES ('f', 'Blog', 'https://blog.example/feed', 'feed', 1, '2026-11-25T09:00:00Z')").lastrowid
        columns = "(feed_id, key, title, content, is_hit, published, first_seen, updated_at, content_hash)"
        stamp = "2026-11-25T09:00:00Z"
        db.execute(f"INSERT INTO items {columns} VALUES (?, 'a', 'Quiet', 'zebra notes', 0, ?, ?, ?, 'h')",
                   [feed, stamp, stamp, stamp])
        db.execute(f"INSERT INTO items {columns} VALUES (?, 'b', 'Loud', 'giraffe notes', 1, ?, ?, ?, 'h')",
                   [feed, stamp, stamp, stamp])
        assert (indexed("zebra"), indexed("giraffe")) == (0, 1)  # a non-mention's text is not indexed
        db.execute("UPDATE items SET compound = -0.5 WHERE key = 'b'")  # re-scoring leaves the index alone
        db.execute("UPDATE items SET content = 'okapi notes' WHERE key = 'b'")
        assert (indexed("giraffe"), indexed("okapi")) == (0, 1)
        db.execute("UPDATE items SET is_hit = 1 WHERE key = 'a'")  # a new mention of ours is indexed
        db.execute("UPDATE items SET is_hit = 0 WHERE key = 'b'")
        assert (indexed("zebra"), indexed("okapi"), indexed("notes")) == (1, 0, 1)
        db.execute("DELETE FROM items WHERE key = 'a'")
        assert indexed("notes") == 0
        assert db.execute("INSERT INTO items_fts (items_fts) VALUES ('integrity-check')").rowcount is not None
    finally:
        db.close()
