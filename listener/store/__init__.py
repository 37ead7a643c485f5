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

import importlib
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from listener.errors import ListenerError, StoreError, UsageError
from listener.store.base import BUSY_TIMEOUT_MS, Queries, ReadConnection, WriteGroup, utcnow, write
from listener.times import iso

if TYPE_CHECKING:
    import sqlite_utils

    from listener.store.feeds import (
        MAX_ERRORS_KEPT,
        CommentedPost,
        FeedRow,
        FeedUpdate,
        NotModified,
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
        save_not_modified,
        set_comment_count,
        sync_feeds,
        url_in_use,
    )
    from listener.store.items import (
        PRUNE_BATCH,
        StoredCounts,
        count_prunable,
        count_to_rescore,
        day_mentions,
        ensure_thread,
        first_heard,
        item_verdict,
        items_to_rescore,
        known_hashes,
        mentions,
        mood_counts,
        mood_mentions,
        prune_items,
        save_poll,
        save_rescored,
    )
    from listener.store.ledger import DigestClaim, claim_digest, digest_ledger_status, digest_rows, finish_digest
    from listener.store.schema import MIGRATIONS, migrate, pending
    from listener.store.team import (
        MARK_FIELDS,
        add_mark,
        frequent_critics,
        item_marks,
        repeated_spam_keys,
        repeated_texts,
        set_team,
        team_states,
        threads_owned_by,
    )
    from listener.store.threads import (
        add_ack,
        feed_titles,
        reply_candidates,
        resolve_thread,
        thread_acks,
        thread_exists,
        thread_ids,
        thread_info,
        thread_items,
        thread_of_key,
        thread_of_url,
    )

# Each table module is imported on first use (PEP 562), as the pipeline's are: `listener mentions`
# then loads items.py and feeds.py, not the alert, digest, team and thread modules.
_HOME = {
    "feeds": ("MAX_ERRORS_KEPT", "CommentedPost", "FeedRow", "FeedUpdate", "disable_failing_feed", "due_feed_rows",
              "ensure_comment_feed", "feed_health", "feed_rows", "feeds_by_id", "rebase_schedule",
              "recent_commented_posts", "record_error", "redirect_state", "save_not_modified", "set_comment_count",
              "sync_feeds", "url_in_use", "NotModified"),
    "items": ("PRUNE_BATCH", "StoredCounts", "count_prunable", "count_to_rescore", "day_mentions", "ensure_thread",
              "first_heard", "item_verdict", "items_to_rescore", "known_hashes", "mentions", "mood_counts",
              "mood_mentions", "prune_items", "save_poll", "save_rescored"),
    "ledger": ("DigestClaim", "claim_digest", "digest_ledger_status", "digest_rows", "finish_digest"),
    "schema": ("MIGRATIONS", "migrate", "pending"),
    "team": ("MARK_FIELDS", "add_mark", "frequent_critics", "item_marks", "repeated_spam_keys", "repeated_texts",
             "set_team", "team_states", "threads_owned_by"),
    "threads": ("add_ack", "feed_titles", "reply_candidates", "resolve_thread", "thread_acks",
                "thread_exists", "thread_ids", "thread_info", "thread_items", "thread_of_key", "thread_of_url"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}

__all__ = [
    "MARK_FIELDS", "add_mark", "frequent_critics", "item_marks", "repeated_spam_keys", "repeated_texts", "set_team",
    "team_states", "threads_owned_by",
    "BUSY_TIMEOUT_MS", "CommentedPost", "DigestClaim", "FeedRow", "FeedUpdate", "MAX_ERRORS_KEPT", "NotModified",
    "MIGRATIONS", "PRUNE_BATCH", "Queries", "ReadConnection", "StoredCounts", "WriteGroup", "add_ack", "backup",
    "checkpoint", "claim_digest", "connect",
    "count_prunable", "count_to_rescore", "day_mentions", "digest_ledger_status", "digest_rows",
    "disable_failing_feed", "due_feed_rows", "ensure_comment_feed", "ensure_thread", "feed_health",
    "feed_rows", "feed_titles", "feeds_by_id", "finish_digest", "first_heard", "iso", "item_verdict", "items_to_rescore",
    "known_hashes", "mentions", "migrate", "mood_counts", "mood_mentions", "open_db", "open_reader", "pending",
    "prune_items",
    "quick_check", "rebase_schedule", "recent_commented_posts", "record_error", "redirect_state",
    "resolve_thread", "save_not_modified", "save_poll", "save_rescored", "set_comment_count", "sync_feeds", "thread_acks",
    "reply_candidates", "thread_exists", "thread_ids", "thread_info", "thread_items", "thread_of_key",
    "thread_of_url",
    "url_in_use", "utcnow", "write",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"listener.store.{module}"), name)
    globals()[name] = value
    return value


def connect(path: str | Path) -> sqlite_utils.Database:
    """A connection with listener's settings (WAL, FULL sync, 30 s busy timeout), not migrated."""
    import sqlite_utils

    conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


def _check_path(path: Path, *, create: bool) -> None:
    if not create and not path.exists():
        raise UsageError(f"no database at {path} (run `listener poll` first, or check --db)")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not os.access(path.parent, os.W_OK) and not os.access(path, os.W_OK):
        raise StoreError(f"cannot open {path}: neither the file nor its folder is writable")


def open_db(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open and migrate the database; with `create` (commands that write), make it if it is missing.

    A read command passes create=False: a mistyped --db is an error naming the file, not a new
    empty database. Migrations take the write lock only when one is pending. Safe in every process.
    """
    from listener.store.schema import migrate

    if str(path) != ":memory:":
        path = Path(path)
        _check_path(path, create=create)
    try:
        db = connect(path)
        migrate(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the database {path}: {exc}") from exc
    return db


def open_reader(path: str | Path) -> Queries:
    """The database for a command that only reads (`mentions`, `feeds`): a plain connection, checked
    for pending migrations with one small SELECT. A database that needs one (or `:memory:`, nothing
    polled yet) goes through open_db, which migrates it, as every other command would."""
    from listener.store.schema import needs_migrating

    if str(path) == ":memory:":
        return open_db(path, create=False)
    path = Path(path)
    _check_path(path, create=False)
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        reader = ReadConnection(conn)
        migrating = needs_migrating(reader)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open the database {path}: {exc}") from exc
    if migrating:
        conn.close()
        return open_db(path, create=False)
    return reader


def checkpoint(db: sqlite_utils.Database) -> tuple[int, int, int]:
    """Copy the WAL into the database and truncate it (after a big prune); (busy, wal pages, copied)."""
    return tuple(db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())


def backup(db: sqlite_utils.Database, target: str | Path) -> Path:
    """A consistent copy made while others keep writing (SQLite's online backup).

    It is written to a temporary file beside TARGET, passes `PRAGMA integrity_check` there and
    only then is renamed over TARGET: a half-made or corrupt copy (the online backup copies a
    damaged page as it is) never replaces a good backup. A failed check raises ListenerError.
    """
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        copy = sqlite3.connect(str(partial))
        try:
            db.conn.backup(copy, pages=1024)
            copy.execute("PRAGMA journal_mode = DELETE")
            status = _integrity(copy)
        finally:
            copy.close()
        if status != "ok":
            raise ListenerError(f"the copy of {_db_path(db)} fails its integrity check ({status}):"
                                f" {target} was left as it was")
        with open(partial, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return target


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _db_path(db: sqlite_utils.Database) -> str:
    row = db.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else ":memory:"


def _integrity(conn: sqlite3.Connection) -> str:
    """'ok', or SQLite's first complaint; a page too damaged to read is a complaint, not a crash."""
    try:
        rows = conn.execute("PRAGMA integrity_check(20)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "; ".join(row[0].replace("\n", " ") for row in rows)


def quick_check(db: sqlite_utils.Database) -> str:
    """'ok', or SQLite's first complaints about the file (the daemon's start-up check, `backup`).

    This is `integrity_check`, not `quick_check`: quick_check does not compare indexes with their
    tables, so an index page with its cells out of order passes it. The cost is linear-ish:
    about 2 s for 300k items on 2 cores, once per daemon start.
    """
    return _integrity(db.conn)
