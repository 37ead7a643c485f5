"""The SQLite file: opening and checking it; the tables' own modules hold their writes and queries.

    base.py     the connection's settings and `write()`, the one write transaction (BEGIN IMMEDIATE)
    schema.py   one numbered list of migrations, run on every open
    feeds.py    feeds and comment feeds: configuration, poll state, health
    items.py    one feed's poll stored in one transaction; mentions and the day's mood
    threads.py  threads, their items and acks
    ledger.py   the digest ledger

The store imports only leaves (errors, models, times): it returns data, never formatted text.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from listener.errors import StoreError, UsageError
from listener.store.base import BUSY_TIMEOUT_MS, utcnow, write
from listener.store.feeds import (
    MAX_ERRORS_KEPT,
    CommentedPost,
    FeedRow,
    FeedUpdate,
    disable_failing_feed,
    due_feed_rows,
    ensure_comment_feed,
    feed_health,
    feed_rows,
    feeds_by_id,
    rebase_schedule,
    recent_commented_posts,
    record_error,
    redirect_state,
    set_comment_count,
    sync_feeds,
    url_in_use,
)
from listener.store.items import (
    PRUNE_BATCH,
    StoredCounts,
    count_prunable,
    day_mentions,
    ensure_thread,
    known_hashes,
    mentions,
    mood_mentions,
    prune_items,
    save_poll,
)
from listener.store.ledger import DigestClaim, claim_digest, digest_ledger_status, digest_rows, finish_digest
from listener.store.schema import MIGRATIONS, migrate, pending
from listener.store.threads import (
    add_ack,
    feed_titles,
    resolve_thread,
    thread_acks,
    thread_exists,
    thread_ids,
    thread_info,
    thread_items,
    thread_of_key,
    thread_of_url,
)
from listener.times import iso

__all__ = [
    "BUSY_TIMEOUT_MS", "MAX_ERRORS_KEPT", "MIGRATIONS", "PRUNE_BATCH", "CommentedPost", "DigestClaim", "FeedRow", "FeedUpdate",
    "StoredCounts", "add_ack", "backup", "checkpoint", "claim_digest", "connect", "count_prunable", "day_mentions",
    "digest_ledger_status", "digest_rows", "disable_failing_feed", "due_feed_rows", "ensure_comment_feed",
    "ensure_thread", "feed_health", "feed_rows", "feed_titles", "feeds_by_id", "finish_digest", "iso",
    "known_hashes", "mentions", "migrate", "mood_mentions", "open_db", "pending", "prune_items",
    "quick_check", "rebase_schedule", "recent_commented_posts", "record_error", "redirect_state",
    "resolve_thread", "save_poll", "set_comment_count", "sync_feeds", "thread_acks", "thread_exists",
    "thread_ids", "thread_info", "thread_items", "thread_of_key", "thread_of_url", "url_in_use", "utcnow",
    "write",
]


def connect(path: str | Path) -> sqlite_utils.Database:
    """A connection with listener's settings (WAL, FULL sync, 30 s busy timeout), not migrated."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


def open_db(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open and migrate the database; with `create` (commands that write), make it if it is missing.

    A read command passes create=False: a mistyped --db is an error naming the file, not a new
    empty database. Migrations take the write lock only when one is pending. Safe in every process.
    """
    memory = str(path) == ":memory:"
    if not memory:
        path = Path(path)
        if not create and not path.exists():
            raise UsageError(f"no database at {path} (run `listener poll` first, or check --db)")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not os.access(path.parent, os.W_OK) and not os.access(path, os.W_OK):
            raise StoreError(f"cannot open {path}: neither the file nor its folder is writable")
    try:
        db = connect(path)
        migrate(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the database {path}: {exc}") from exc
    return db


def checkpoint(db: sqlite_utils.Database) -> tuple[int, int, int]:
    """Copy the WAL into the database and truncate it (after a big prune); (busy, wal pages, copied)."""
    return tuple(db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())


def backup(db: sqlite_utils.Database, target: str | Path) -> Path:
    """A consistent copy made while others keep writing (SQLite's online backup), written to a
    temporary file and renamed, so a half-made backup never stands where a good one should."""
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    copy = sqlite3.connect(str(partial))
    try:
        db.conn.backup(copy, pages=1024)
        copy.execute("PRAGMA journal_mode = DELETE")
    finally:
        copy.close()
    os.replace(partial, target)
    return target


def quick_check(db: sqlite_utils.Database) -> str:
    """'ok', or SQLite's first complaint about the file."""
    return db.execute("PRAGMA quick_check").fetchone()[0]

