"""The SQLite file: migrations, one write transaction per feed, hostile strings round-trip (RELIABILITY D5, E1, E2)."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import subprocess
import sys
import time

import pytest

from listener import store
from listener.models import FeedSpec, Item, ItemPlacement, Match, ScoredItem, Sentiment

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def db(tmp_path):
    database = store.open_db(tmp_path / "listener.db")
    store.sync_feeds(database, [FeedSpec("Blog", "https://blog.example/feed")])
    yield database
    database.close()


def scored(key: str, title: str = "A title", *, hit: bool = True, compound: float = -0.5,
           published: dt.datetime | None = NOW - dt.timedelta(hours=1)) -> ScoredItem:
    item = Item(key=key, title=title, content=f"text of {key}", url=f"https://blog.example/{key}",
                author="Sam", published=published)
    digest = hashlib.sha1(f"{title}{key}".encode()).hexdigest()
    return ScoredItem(item, digest, Match(hit, ("acme",) if hit else (), title),
                      Sentiment(compound, 0.1, 0.6, 0.3))


def update(**changes) -> store.FeedUpdate:
    fields = dict(status="ok", http_status=200, etag='"v1"', last_modified=None,
                  next_poll_at=NOW + dt.timedelta(minutes=15))
    fields.update(changes)
    return store.FeedUpdate(**fields)


def blog_id(db) -> int:
    return db.execute("SELECT id FROM feeds WHERE name = 'Blog'").fetchone()[0]


def placed(*items: ScoredItem, staff: bool = False) -> dict[str, ItemPlacement]:
    return {s.item.key: ItemPlacement(f"t{s.item.key}", s.item.url or s.item.key, is_staff=staff) for s in items}


def save(db, feed_id: int, feed_update: store.FeedUpdate, items: list[ScoredItem]) -> store.StoredCounts:
    return store.save_poll(db, feed_id, feed_update, items, placements=placed(*items), now=NOW)


class DiskFull(dict):
    """Placements whose lookup fails the way a full disk fails a write, half-way through the transaction."""

    def __getitem__(self, key):
        raise sqlite3.OperationalError("database or disk is full")


def test_migrations_are_recorded_and_run_once(tmp_path):
    path = tmp_path / "again.db"
    store.open_db(path).close()
    db = store.open_db(path)
    names = [row[0] for row in db.execute("SELECT name FROM _migrations")]
    assert names == [f"m{n:03d}_{m.__name__.split('_', 2)[2]}" for n, m in enumerate(store.MIGRATIONS, 1)]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_item_seen_again_is_updated_not_duplicated(db):
    feed = blog_id(db)
    first = save(db, feed, update(), [scored("a"), scored("b")])
    again = save(db, feed, update(), [scored("a"), scored("b", title="Edited")])
    assert (first.new, first.updated) == (2, 0)
    assert (again.new, again.updated) == (0, 1)
    assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 2
    assert db.execute("SELECT title FROM items WHERE key = 'b'").fetchone()[0] == "Edited"


def test_future_and_missing_dates_fall_back_to_first_seen(db):
    feed = blog_id(db)
    items = [scored("future", published=NOW + dt.timedelta(days=3650)), scored("none", published=None)]
    save(db, feed, update(), items)
    rows = dict(db.execute("SELECT key, published FROM items").fetchall())
    assert rows == {"future": store.iso(NOW), "none": store.iso(NOW)}


def test_validators_are_not_saved_when_storing_items_fails(db):
    feed = blog_id(db)
    save(db, feed, update(etag='"old"'), [scored("a")])

    with pytest.raises(sqlite3.OperationalError):
        store.save_poll(db, feed, update(etag='"new"'), [scored("b")], placements=DiskFull(), now=NOW)
    assert db.execute("SELECT etag FROM feeds WHERE id = ?", [feed]).fetchone()[0] == '"old"'
    assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 1


def test_writes_take_the_lock_up_front(db):
    feed = blog_id(db)
    statements = []
    db.conn.set_trace_callback(statements.append)
    save(db, feed, update(), [scored("a")])
    db.conn.set_trace_callback(None)
    assert statements[0] == "BEGIN IMMEDIATE"
    assert statements[-1] == "COMMIT"


def test_a_write_group_commits_many_feeds_at_once_and_a_failing_one_alone(tmp_path, db):
    """Grouped commits: each feed a savepoint (its validators with its items), one COMMIT for the group."""
    store.sync_feeds(db, [FeedSpec(f"F{i}", f"https://f{i}.example/feed") for i in range(3)])
    ids = [db.execute("SELECT id FROM feeds WHERE name = ?", [f"F{i}"]).fetchone()[0] for i in range(3)]
    other = sqlite3.connect(tmp_path / "listener.db")
    statements = []
    db.conn.set_trace_callback(statements.append)
    group = store.WriteGroup(db, units=100, seconds=3600)
    for n, feed in enumerate(ids):
        group.open()
        try:
            if n == 1:
                store.save_poll(db, feed, update(etag='"bad"'), [scored("b")], placements=DiskFull(), now=NOW)
            else:
                save(db, feed, update(etag=f'"v{n}"'), [scored(f"k{n}")])
        except sqlite3.OperationalError:
            pass
        assert group.done_unit() is False
    assert other.execute("SELECT count(*) FROM items").fetchone()[0] == 0  # nothing durable before the COMMIT
    group.commit()
    db.conn.set_trace_callback(None)
    assert statements.count("BEGIN IMMEDIATE") == 1 and statements.count("COMMIT") == 1
    assert other.execute("SELECT feed_id, key FROM items ORDER BY feed_id").fetchall() == [(ids[0], "k0"), (ids[2], "k2")]
    assert [other.execute("SELECT etag FROM feeds WHERE id = ?", [f]).fetchone()[0] for f in ids] == ['"v0"', None, '"v2"']
    other.close()


def test_a_write_group_commits_when_full_or_old(db):
    group = store.WriteGroup(db, units=2, seconds=3600)
    feed = blog_id(db)
    group.open()
    save(db, feed, update(), [scored("a")])
    assert group.done_unit() is False and db.conn.in_transaction
    group.open()
    save(db, feed, update(), [scored("b")])
    assert group.done_unit() is True and not db.conn.in_transaction
    old = store.WriteGroup(db, units=100, seconds=0)
    old.open()
    save(db, feed, update(), [scored("c")])
    assert old.done_unit() is True and not db.conn.in_transaction


def test_a_write_group_that_sqlite_rolled_back_says_so(db):
    group = store.WriteGroup(db, units=100, seconds=3600)
    group.open()
    save(db, blog_id(db), update(), [scored("a")])
    db.execute("ROLLBACK")  # what SQLite does by itself on some errors (a full disk)
    with pytest.raises(store.StoreError):
        group.done_unit()
    assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 0


def test_a_second_writer_waits_for_the_first(tmp_path, db):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(tmp_path / 'listener.db')!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(1.5); c.execute('COMMIT')\n"
    )], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    save(db, blog_id(db), update(), [scored("a")])
    assert time.monotonic() - started > 0.5
    assert holder.wait(10) == 0
    assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 1


HOSTILE = ["'; DROP TABLE items;--", "Robert'); --", "100% _match_", "nul\x00byte", '"NEAR(', "*", "x" * 1_000_000]


def test_hostile_strings_round_trip_and_leave_the_schema_alone(db):
    schema = db.execute("SELECT group_concat(sql) FROM sqlite_master").fetchone()[0]
    feed = blog_id(db)
    items = [scored(f"k{i}", title=text) for i, text in enumerate(HOSTILE)]
    save(db, feed, update(), items)
    titles = [row["title"] for row in store.mentions(db, limit=None)]
    assert sorted(titles) == sorted(HOSTILE)
    assert db.execute("SELECT group_concat(sql) FROM sqlite_master").fetchone()[0] == schema
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for text in HOSTILE[:6]:
        assert store.mentions(db, term=text, feed=text) == []


def test_mentions_filter_by_term_feed_and_negativity(db):
    feed = blog_id(db)
    items = [scored("angry", compound=-0.8), scored("happy", compound=0.7), scored("other", hit=False)]
    save(db, feed, update(), items)
    assert {m["id"] for m in store.mentions(db)} == {1, 2}
    assert [m["title"] for m in store.mentions(db, negative_at_most=-0.05)] == ["A title"]
    assert store.mentions(db, term="ACME", feed="Blog")[0]["terms"] == ["acme"]
    assert store.mentions(db, term="other") == []
    assert store.mentions(db, since=NOW + dt.timedelta(hours=1)) == []


def test_errors_are_counted_and_capped(db):
    feed = blog_id(db)
    for _ in range(store.MAX_ERRORS_KEPT + 5):
        store.record_error(db, feed, kind="timeout", message="slow", http_status=None,
                           next_poll_at=NOW, now=NOW)
    health = store.feed_health(db)[0]
    assert health["consecutive_errors"] == store.MAX_ERRORS_KEPT + 5
    assert health["status"] == "error"
    assert db.execute("SELECT count(*) FROM feed_errors").fetchone()[0] == store.MAX_ERRORS_KEPT
    save(db, feed, update(), [])
    assert store.feed_health(db)[0]["consecutive_errors"] == 0


def test_a_backup_taken_while_a_writer_inserts_is_consistent(tmp_path, db):
    """RELIABILITY E6: the online backup of a database that is being written passes integrity_check."""
    import threading

    feed = blog_id(db)
    writer_db = store.open_db(tmp_path / "listener.db")
    stop = threading.Event()

    def keep_writing():
        n = 0
        while not stop.is_set():
            save(writer_db, feed, update(), [scored(f"w{n}")])
            n += 1

    (tmp_path / "backups").mkdir()
    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(0.2)
        copy = store.backup(db, tmp_path / "backups" / "copy.db")
    finally:
        stop.set()
        writer.join(10)
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        copied = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    assert copied > 0
    assert not list((tmp_path / "backups").glob(".*partial"))


def test_a_damaged_terms_value_reads_as_no_terms(db):
    save(db, blog_id(db), update(), [scored("a")])
    db.execute("UPDATE items SET terms = 'not json' WHERE key = 'a'")
    assert store.mentions(db)[0]["terms"] == []


def test_a_failed_commit_of_a_write_group_is_a_store_error_and_rolls_back(tmp_path):
    """A COMMIT that fails (a full disk; here a deferred constraint) loses the group's units: a StoreError
    the poll reports per feed, never a bare sqlite3 error escaping the cycle."""
    db = store.open_db(tmp_path / "listener.db")
    try:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        db.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)")
        group = store.WriteGroup(db, units=1)
        group.open()
        db.execute("INSERT INTO child VALUES (42)")
        with pytest.raises(store.StoreError, match="could not commit"):
            group.done_unit()
        assert not db.conn.in_transaction
        assert db.execute("SELECT count(*) FROM child").fetchone()[0] == 0
    finally:
        db.close()
