"""The schema: one numbered list of migrations, recorded in `_migrations` and run on every open.

A migration is a function; its number is its place in MIGRATIONS. Databases made before the list
was renumbered recorded some migrations under their old names: `LEGACY_NAMES` maps those, so a
user's old database upgrades without running anything twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from listener.store.base import Queries, utcnow, write
from listener.times import iso

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.table("feeds").create({
        "id": int, "ident": str, "name": str, "url": str, "kind": str, "parent_id": int,
        "thread_id": str, "thread_url": str, "match_all": int, "title": str, "link": str,
        "etag": str, "last_modified": str, "status": str, "http_status": int,
        "error_kind": str, "last_error": str, "consecutive_errors": int, "failing_since": str,
        "last_polled_at": str, "last_ok_at": str, "next_poll_at": str, "last_new_item_at": str,
        "item_count": int, "comment_count": int, "redirect_target": str, "redirect_count": int,
        "active": int, "created_at": str,
    }, pk="id", not_null={"ident", "name", "url", "kind"},
        defaults={"kind": "feed", "consecutive_errors": 0, "item_count": 0, "redirect_count": 0,
                  "active": 1, "match_all": 0},
        foreign_keys=[("parent_id", "feeds", "id")])
    db.table("feeds").create_index(["ident"], unique=True)
    db.table("feeds").create_index(["kind", "active", "next_poll_at"])
    db.table("feeds").create_index(["parent_id"])

    db.table("items").create({
        "id": int, "feed_id": int, "key": str, "url": str, "title": str, "author": str,
        "content": str, "published": str, "published_raw": str, "first_seen": str,
        "updated_at": str, "content_hash": str, "is_hit": int, "terms": str, "snippet": str,
        "compound": float, "pos": float, "neu": float, "neg": float, "thread_id": str,
        "parent_key": str, "parent_url": str, "comments_url": str, "comment_count": int,
        "is_staff": int, "pruned": int,
    }, pk="id", not_null={"feed_id", "key", "first_seen", "updated_at", "content_hash"},
        defaults={"is_hit": 0, "terms": "[]", "is_staff": 0, "pruned": 0},
        foreign_keys=[("feed_id", "feeds", "id")])
    db.table("items").create_index(["feed_id", "key"], unique=True)
    db.table("items").create_index(["is_hit", "published"])
    db.table("items").create_index(["thread_id", "published"])
    db.table("items").create_index(["feed_id", "published"])
    db.table("items").create_index(["first_seen"])
    db.table("items").create_index(["url"])
    db.table("items").enable_fts(["title", "content"], create_triggers=True)

    db.table("threads").create({
        "id": str, "root": str, "url": str, "title": str, "feed_id": int, "created_at": str,
    }, pk="id", foreign_keys=[("feed_id", "feeds", "id")])

    db.table("acks").create({
        "id": int, "thread_id": str, "acked_at": str, "by": str, "note": str,
    }, pk="id", not_null={"thread_id", "acked_at"})
    db.table("acks").create_index(["thread_id", "acked_at"])

    db.table("feed_errors").create({
        "id": int, "feed_id": int, "at": str, "kind": str, "http_status": int, "message": str,
    }, pk="id", foreign_keys=[("feed_id", "feeds", "id")])
    db.table("feed_errors").create_index(["feed_id", "at"])

    db.table("digests").create({
        "day": str, "recipient": str, "status": str, "message_id": str, "attempts": int,
        "last_error": str, "updated_at": str, "sent_at": str,
    }, pk=("day", "recipient"), defaults={"attempts": 0})


def _m002_thread_indexes(db: sqlite_utils.Database) -> None:
    """What `threads --needs-reply` needs so that it never scans every item (negative items by
    thread), and items by guid across feeds (an Atom thr:in-reply-to ref names its parent's guid)."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_compound_thread ON items (compound, thread_id)"
               " WHERE compound IS NOT NULL")
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_key ON items (key)")


def _m003_feed_config_url(db: sqlite_utils.Database) -> None:
    """`url` may move to a trusted permanent redirect's target; `config_url` keeps what feeds.yaml
    says, so sync_feeds tells a real config change from a move and does not undo the move."""
    if "config_url" not in db["feeds"].columns_dict:
        db.execute("ALTER TABLE feeds ADD COLUMN config_url TEXT")
    db.execute("UPDATE feeds SET config_url = url WHERE kind = 'feed' AND config_url IS NULL")


def _m004_report_indexes(db: sqlite_utils.Database) -> None:
    """The report reads a day's mentions by first_seen; staff items are left out of the mood."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_hit_first_seen ON items (first_seen) WHERE is_hit = 1")


def _m005_ack_covers(db: sqlite_utils.Database) -> None:
    """An ack covers the items stored before it: by id, since two can share a second of wall clock."""
    db.table("acks").add_column("last_item_id", int)



def _m006_alerts(db: sqlite_utils.Database) -> None:
    """The alert ledger and its deliveries (store/alerts.py)."""
    from listener.store.alerts import create_alert_tables

    create_alert_tables(db)


def _m007_digest_owner(db: sqlite_utils.Database) -> None:
    """Which process claimed a `sending` row, so a claim whose process died is taken over at once."""
    db.table("digests").add_column("owner", str)


def _m008_verdict(db: sqlite_utils.Database) -> None:
    """listener's verdict beside VADER's numbers; verdict_version says which scorer made it, so
    `listener rescore` resumes where it stopped. Items scored before have none (compound decides)."""
    for column, kind in (("sentiment", str), ("complaint", int), ("confidence", float), ("language", str),
                         ("why", str), ("verdict_version", str)):
        db.table("items").add_column(column, kind)
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_verdict_version ON items (verdict_version) WHERE compound IS NOT NULL")


def _m009_heard_at(db: sqlite_utils.Database) -> None:
    """The moment the mood counts an item: when first seen, or when published for the archive a
    feed's first poll brings in (older than the reply window: history, not news of today)."""
    db.table("items").add_column("heard_at", str)
    db.execute("UPDATE items SET heard_at = first_seen")
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_hit_heard_at ON items (heard_at) WHERE is_hit = 1")


def _m010_team(db: sqlite_utils.Database) -> None:
    """A person's marks on items (never written into the verdict columns, so re-scoring keeps them)
    and the team's state of a thread: owner, snooze, mute."""
    db.execute("CREATE TABLE IF NOT EXISTS marks (item_id INTEGER NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,"
               " by TEXT, at TEXT NOT NULL, PRIMARY KEY (item_id, field))")
    db.execute("CREATE TABLE IF NOT EXISTS thread_team (thread_id TEXT PRIMARY KEY, owner TEXT, snoozed_until TEXT,"
               " snoozed_covers INTEGER, muted INTEGER NOT NULL DEFAULT 0, by TEXT, updated_at TEXT)")


def _m011_triage_cues(db: sqlite_utils.Database) -> None:
    """What triage reads in an item's words, stored with it (NULL: stored before, read when listed),
    items by publication (the reply window's threads and repeated spam keys, from the index alone),
    threads with a mention, items stored before spam keys were (whose texts are compared), and the
    week's frequent critics from the index alone."""
    for column in ("cue_asks", "cue_abuse", "cue_links", "root_asks", "root_abuse"):
        db.table("items").add_column(column, int)
    db.table("items").add_column("spam_key", str)
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_published ON items (published, thread_id, spam_key)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_thread_hit ON items (thread_id) WHERE is_hit = 1")
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_unkeyed ON items (published) WHERE spam_key IS NULL")
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_critics ON items (published, author, thread_id, sentiment,"
               " complaint, compound) WHERE is_staff = 0 AND author IS NOT NULL AND author != ''")


def _m012_fts_mentions_only(db: sqlite_utils.Database) -> None:
    """The full-text index holds mentions only: `mentions --search` reads nothing else, and indexing
    every item's text was a quarter of a first poll's writing. An update reindexes only when the
    title, the text or being a mention changed (re-scoring leaves the index alone)."""
    for trigger in ("items_ai", "items_ad", "items_au"):
        db.execute(f'DROP TRIGGER IF EXISTS "{trigger}"')
    db.execute('CREATE TRIGGER "items_ai" AFTER INSERT ON items WHEN new.is_hit = 1 BEGIN'
               " INSERT INTO items_fts (rowid, title, content) VALUES (new.rowid, new.title, new.content); END")
    db.execute('CREATE TRIGGER "items_ad" AFTER DELETE ON items WHEN old.is_hit = 1 BEGIN'
               " INSERT INTO items_fts (items_fts, rowid, title, content)"
               " VALUES ('delete', old.rowid, old.title, old.content); END")
    db.execute('CREATE TRIGGER "items_au" AFTER UPDATE OF title, content, is_hit ON items'
               " WHEN old.is_hit = 1 OR new.is_hit = 1 BEGIN"
               " INSERT INTO items_fts (items_fts, rowid, title, content)"
               "  SELECT 'delete', old.rowid, old.title, old.content WHERE old.is_hit = 1;"
               " INSERT INTO items_fts (rowid, title, content) SELECT new.rowid, new.title, new.content"
               "  WHERE new.is_hit = 1; END")
    db.execute("INSERT INTO items_fts (items_fts) VALUES ('delete-all')")
    db.execute("INSERT INTO items_fts (rowid, title, content) SELECT rowid, title, content FROM items WHERE is_hit = 1")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_initial,
    _m002_thread_indexes,
    _m003_feed_config_url,
    _m004_report_indexes,
    _m005_ack_covers,
    _m006_alerts,
    _m007_digest_owner,
    _m008_verdict,
    _m009_heard_at,
    _m010_team,
    _m011_triage_cues,
    _m012_fts_mentions_only,
]

# Recorded names of listener 0.1, which numbered its migrations 1, 2, 5, 6, 7.
LEGACY_NAMES = {
    "m005_feed_config_url": "m003_feed_config_url",
    "m006_report_indexes": "m004_report_indexes",
    "m007_ack_covers": "m005_ack_covers",
}


def migration_name(number: int, migration: Callable[[sqlite_utils.Database], None]) -> str:
    """m003_feed_config_url: the number is the place in MIGRATIONS, the rest the function's name."""
    return f"m{number:03d}_{migration.__name__.lstrip('_').split('_', 1)[1]}"


def _recorded(db: Queries) -> list[str] | None:
    """The names in `_migrations` as recorded (legacy ones too), None when there is no such table."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = '_migrations'").fetchone():
        return None
    return [row[0] for row in db.execute("SELECT name FROM _migrations")]


def _pending(recorded: list[str] | None) -> list[str]:
    done = {LEGACY_NAMES.get(name, name) for name in recorded or ()}
    return [name for n, m in enumerate(MIGRATIONS, 1) if (name := migration_name(n, m)) not in done]


def pending(db: Queries) -> list[str]:
    """Names of the migrations this database has not run yet (a read: takes no lock)."""
    return _pending(_recorded(db))


def needs_migrating(db: Queries) -> bool:
    """A migration to run or a legacy name to rename: the check every open makes, two tiny reads."""
    recorded = _recorded(db)
    return bool(_pending(recorded)) or any(name in LEGACY_NAMES for name in recorded or ())


def migrate(db: sqlite_utils.Database) -> None:
    """Run every numbered migration not yet recorded, each in its own transaction."""
    if not needs_migrating(db):
        return
    with write(db):
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        for old, new in LEGACY_NAMES.items():
            db.execute("UPDATE _migrations SET name = ? WHERE name = ?", [new, old])
    for number, migration in enumerate(MIGRATIONS, 1):
        name = migration_name(number, migration)
        with write(db):
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                continue  # done before, or by another process while we waited for the lock
            migration(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [name, iso(utcnow())])
        log.debug("applied migration %s", name)
