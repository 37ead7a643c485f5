"""The SQLite file: schema and migrations, the per-feed write transaction, and the queries commands run.

Writes go through `write()`, which takes the write lock up front (BEGIN IMMEDIATE): a deferred
transaction that reads and then writes can fail at once with "database is locked" when another
process writes (RELIABILITY E2). sqlite-utils creates the schema; the per-poll writes are plain
parameterised SQL inside that one transaction, because sqlite-utils' own `with conn:` blocks would
commit half-way through it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from listener.models import FeedSpec, ScoredItem

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
MAX_ERRORS_KEPT = 200
MAX_ERROR_CHARS = 10_000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, to the second: sorts as text, reads as time."""
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- opening and migrations -------------------------------------------------------------------


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database. Safe to call from every process."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn)
    migrate(db)
    return db


@contextmanager
def write(db: sqlite_utils.Database, *, attempts: int = 3) -> Iterator[sqlite_utils.Database]:
    """One write transaction that holds the write lock from its first statement.

    SQLITE_BUSY on BEGIN is retried with jitter; the busy timeout already waited before that.
    """
    for attempt in range(attempts):
        try:
            db.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + random.random() * 0.2)
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _m001_initial(db: sqlite_utils.Database) -> None:
    db["feeds"].create({
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
    db["feeds"].create_index(["ident"], unique=True)
    db["feeds"].create_index(["kind", "active", "next_poll_at"])
    db["feeds"].create_index(["parent_id"])

    db["items"].create({
        "id": int, "feed_id": int, "key": str, "url": str, "title": str, "author": str,
        "content": str, "published": str, "published_raw": str, "first_seen": str,
        "updated_at": str, "content_hash": str, "is_hit": int, "terms": str, "snippet": str,
        "compound": float, "pos": float, "neu": float, "neg": float, "thread_id": str,
        "parent_key": str, "parent_url": str, "comments_url": str, "comment_count": int,
        "is_staff": int, "pruned": int,
    }, pk="id", not_null={"feed_id", "key", "first_seen", "updated_at", "content_hash"},
        defaults={"is_hit": 0, "terms": "[]", "is_staff": 0, "pruned": 0},
        foreign_keys=[("feed_id", "feeds", "id")])
    db["items"].create_index(["feed_id", "key"], unique=True)
    db["items"].create_index(["is_hit", "published"])
    db["items"].create_index(["thread_id", "published"])
    db["items"].create_index(["feed_id", "published"])
    db["items"].create_index(["first_seen"])
    db["items"].create_index(["url"])
    db["items"].enable_fts(["title", "content"], create_triggers=True)

    db["threads"].create({
        "id": str, "root": str, "url": str, "title": str, "feed_id": int, "created_at": str,
    }, pk="id", foreign_keys=[("feed_id", "feeds", "id")])

    db["acks"].create({
        "id": int, "thread_id": str, "acked_at": str, "by": str, "note": str,
    }, pk="id", not_null={"thread_id", "acked_at"})
    db["acks"].create_index(["thread_id", "acked_at"])

    db["feed_errors"].create({
        "id": int, "feed_id": int, "at": str, "kind": str, "http_status": int, "message": str,
    }, pk="id", foreign_keys=[("feed_id", "feeds", "id")])
    db["feed_errors"].create_index(["feed_id", "at"])

    db["digests"].create({
        "day": str, "recipient": str, "status": str, "message_id": str, "attempts": int,
        "last_error": str, "updated_at": str, "sent_at": str,
    }, pk=("day", "recipient"), defaults={"attempts": 0})


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_m001_initial]


def migrate(db: sqlite_utils.Database) -> None:
    """Run every numbered migration not yet recorded, each in its own transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    for migration in MIGRATIONS:
        name = migration.__name__.lstrip("_")
        if name in done:
            continue
        with write(db):
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                continue  # another process ran it while we waited for the lock
            migration(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [name, iso(utcnow())])
        log.debug("applied migration %s", name)


# --- feeds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedRow:
    """A feed as the poll cycle needs it: where, how, and the validators of its last fetch."""

    id: int
    name: str
    url: str
    kind: str
    etag: str | None
    last_modified: str | None
    match_all: bool
    parent_id: int | None
    thread_id: str | None
    consecutive_errors: int
    status: str | None
    next_poll_at: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FeedRow:
        return cls(
            id=row["id"], name=row["name"], url=row["url"], kind=row["kind"], etag=row["etag"],
            last_modified=row["last_modified"], match_all=bool(row["match_all"]),
            parent_id=row["parent_id"], thread_id=row["thread_id"],
            consecutive_errors=row["consecutive_errors"] or 0, status=row["status"],
            next_poll_at=row["next_poll_at"],
        )


def sync_feeds(db: sqlite_utils.Database, specs: Sequence[FeedSpec]) -> None:
    """Make the feeds table match the config: new feeds added, changed URLs updated, removed ones inactive."""
    now = iso(utcnow())
    with write(db):
        db.execute("UPDATE feeds SET active = 0 WHERE kind = 'feed'")
        for spec in specs:
            ident = f"feed:{spec.name}"
            existing = db.execute("SELECT id, url FROM feeds WHERE ident = ?", [ident]).fetchone()
            if existing is None:
                db.execute(
                    "INSERT INTO feeds (ident, name, url, kind, match_all, active, created_at) "
                    "VALUES (?, ?, ?, 'feed', ?, 1, ?)",
                    [ident, spec.name, spec.url, int(spec.match == "all"), now])
            else:
                changed_url = existing[1] != spec.url
                db.execute(
                    "UPDATE feeds SET url = ?, match_all = ?, active = 1"
                    + (", etag = NULL, last_modified = NULL, next_poll_at = NULL, status = NULL,"
                       " consecutive_errors = 0" if changed_url else "")
                    + " WHERE id = ?",
                    [spec.url, int(spec.match == "all"), existing[0]])


def feed_rows(db: sqlite_utils.Database, where: str = "1", params: Sequence[Any] = ()) -> list[FeedRow]:
    sql = f"SELECT * FROM feeds WHERE {where} ORDER BY id"  # `where` is always our own literal
    return [FeedRow.from_row(row) for row in db.query(sql, params)]


def ensure_comment_feed(db: sqlite_utils.Database, parent: FeedRow, url: str, *, name: str,
                        thread_id: str, thread_url: str | None) -> int:
    """Register (or find) the comment feed of one post; returns its feed id. Call inside write()."""
    ident = f"comments:{url}"
    row = db.execute("SELECT id FROM feeds WHERE ident = ?", [ident]).fetchone()
    if row:
        return row[0]
    cursor = db.execute(
        "INSERT INTO feeds (ident, name, url, kind, parent_id, thread_id, thread_url, active, created_at) "
        "VALUES (?, ?, ?, 'comments', ?, ?, ?, 1, ?)",
        [ident, name, url, parent.id, thread_id, thread_url, iso(utcnow())])
    return cursor.lastrowid


def known_hashes(db: sqlite_utils.Database, feed_id: int) -> dict[str, str]:
    """key -> content_hash of what a feed already stored, so unchanged items are not scored again."""
    return dict(db.execute("SELECT key, content_hash FROM items WHERE feed_id = ?", [feed_id]).fetchall())


def record_error(db: sqlite_utils.Database, feed_id: int, *, kind: str, message: str,
                 http_status: int | None, next_poll_at: dt.datetime, now: dt.datetime,
                 gone: bool = False) -> None:
    """A failed fetch or parse: count it, keep the message, and schedule the retry. Validators stay."""
    message = message[:MAX_ERROR_CHARS]
    with write(db):
        db.execute(
            "UPDATE feeds SET status = ?, error_kind = ?, last_error = ?, http_status = ?,"
            " consecutive_errors = consecutive_errors + 1,"
            " failing_since = COALESCE(failing_since, ?), last_polled_at = ?, next_poll_at = ?"
            " WHERE id = ?",
            ["gone" if gone else "error", kind, message, http_status, iso(now), iso(now),
             iso(next_poll_at), feed_id])
        db.execute("INSERT INTO feed_errors (feed_id, at, kind, http_status, message) VALUES (?, ?, ?, ?, ?)",
                   [feed_id, iso(now), kind, http_status, message])
        db.execute(
            "DELETE FROM feed_errors WHERE feed_id = ? AND id NOT IN"
            " (SELECT id FROM feed_errors WHERE feed_id = ? ORDER BY id DESC LIMIT ?)",
            [feed_id, feed_id, MAX_ERRORS_KEPT])


@dataclass(frozen=True)
class FeedUpdate:
    """The feed-level outcome of one successful fetch, stored with its items."""

    status: str  # ok, not_modified, degraded
    http_status: int
    etag: str | None
    last_modified: str | None
    next_poll_at: dt.datetime
    title: str | None = None
    link: str | None = None
    url: str | None = None  # a permanent redirect's target, once it is trusted
    message: str | None = None  # why a parse was degraded
    redirect_target: str | None = None


@dataclass(frozen=True)
class StoredCounts:
    new: int = 0
    updated: int = 0
    new_hits: int = 0


ItemExtras = Callable[[ScoredItem], tuple[str | None, bool]]  # -> (thread_id, is_staff)


def save_poll(db: sqlite_utils.Database, feed_id: int, update: FeedUpdate,
              items: Iterable[ScoredItem], *, extras: ItemExtras, now: dt.datetime) -> StoredCounts:
    """Store one feed's items and its new state in ONE transaction (RELIABILITY A6, E3).

    Validators are written together with the items they stand for: if the items fail to store,
    the next poll fetches them again instead of getting a 304.
    """
    stamp = iso(now)
    new = updated = new_hits = 0
    with write(db):
        for scored in items:
            thread_id, staff = extras(scored)
            outcome = _upsert_item(db, feed_id, scored, thread_id, staff, stamp)
            new += outcome == "new"
            updated += outcome == "updated"
            new_hits += outcome == "new" and scored.match.hit
        db.execute(
            "UPDATE feeds SET status = ?, http_status = ?, etag = ?, last_modified = ?,"
            " next_poll_at = ?, last_polled_at = ?, last_ok_at = ?, consecutive_errors = 0,"
            " failing_since = NULL, error_kind = NULL, last_error = ?,"
            " title = COALESCE(?, title), link = COALESCE(?, link), url = COALESCE(?, url),"
            " redirect_target = ?,"
            " redirect_count = CASE WHEN ? IS NOT NULL AND ? = redirect_target THEN redirect_count + 1"
            "                       WHEN ? IS NOT NULL THEN 1 ELSE 0 END,"
            " last_new_item_at = CASE WHEN ? > 0 THEN ? ELSE last_new_item_at END,"
            " item_count = (SELECT count(*) FROM items WHERE feed_id = ?)"
            " WHERE id = ?",
            [update.status, update.http_status, update.etag, update.last_modified,
             iso(update.next_poll_at), stamp, stamp, update.message, update.title, update.link,
             update.url, update.redirect_target, update.redirect_target, update.redirect_target,
             update.redirect_target, new, stamp, feed_id, feed_id])
    return StoredCounts(new, updated, new_hits)


def _upsert_item(db: sqlite_utils.Database, feed_id: int, scored: ScoredItem, thread_id: str | None,
                 staff: bool, stamp: str) -> str:
    """Insert a new item or refresh a changed one. Returns 'new', 'updated' or 'same'."""
    item, match, sentiment = scored.item, scored.match, scored.sentiment
    row = db.execute("SELECT id, content_hash, published FROM items WHERE feed_id = ? AND key = ?",
                     [feed_id, item.key]).fetchone()
    if row is not None and row[1] == scored.content_hash:
        return "same"
    published = item.published.astimezone(dt.timezone.utc) if item.published else None
    scores = (sentiment.compound, sentiment.pos, sentiment.neu, sentiment.neg) if sentiment else (None,) * 4
    values = {
        "url": item.url, "title": item.title, "author": item.author, "content": item.content,
        "published_raw": item.published_raw, "updated_at": stamp,
        "content_hash": scored.content_hash, "is_hit": int(match.hit), "terms": json.dumps(list(match.terms)),
        "snippet": match.snippet, "compound": scores[0], "pos": scores[1], "neu": scores[2], "neg": scores[3],
        "thread_id": thread_id, "parent_key": item.in_reply_to, "parent_url": item.in_reply_to_url,
        "comments_url": item.comments_url, "comment_count": item.comment_count, "is_staff": int(staff),
    }
    if row is None:
        # A missing or future date falls back to when we first saw the item (RELIABILITY B8, H4).
        first_seen = stamp
        values.update(feed_id=feed_id, key=item.key, first_seen=first_seen,
                      published=min(iso(published), first_seen) if published else first_seen)
        columns = ", ".join(values)
        db.execute(f"INSERT INTO items ({columns}) VALUES ({', '.join('?' * len(values))})",
                   list(values.values()))
        return "new"
    assignments = ", ".join(f"{column} = ?" for column in values)
    db.execute(f"UPDATE items SET {assignments} WHERE id = ?", [*values.values(), row[0]])
    return "updated"


def ensure_thread(db: sqlite_utils.Database, thread_id: str, *, root: str, url: str | None,
                  title: str | None, feed_id: int) -> None:
    """Remember a thread's root the first time it is seen; call inside write()."""
    db.execute(
        "INSERT INTO threads (id, root, url, title, feed_id, created_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET title = COALESCE(threads.title, excluded.title),"
        " url = COALESCE(threads.url, excluded.url)",
        [thread_id, root, url, title, feed_id, iso(utcnow())])


# --- queries the CLI runs ---------------------------------------------------------------------


def _terms(row: dict[str, Any]) -> dict[str, Any]:
    row["terms"] = json.loads(row["terms"] or "[]")
    return row


def mentions(db: sqlite_utils.Database, *, since: dt.datetime | None = None, term: str | None = None,
             feed: str | None = None, negative_at_most: float | None = None,
             limit: int | None = 50) -> list[dict[str, Any]]:
    """Recent hits, newest first. `feed` matches a configured feed's name, its comment feeds included."""
    clauses, params = ["items.is_hit = 1"], []
    if since is not None:
        clauses.append("items.published >= ?")
        params.append(iso(since))
    if term:
        clauses.append("EXISTS (SELECT 1 FROM json_each(items.terms) WHERE lower(json_each.value) = lower(?))")
        params.append(term)
    if feed:
        clauses.append("(feeds.name = ? OR parent.name = ?)")
        params += [feed, feed]
    if negative_at_most is not None:
        clauses.append("items.compound <= ?")
        params.append(negative_at_most)
    sql = (
        "SELECT items.id, COALESCE(parent.name, feeds.name) AS feed, items.title, items.url,"
        " items.author, items.published, items.first_seen, items.terms, items.compound, items.pos,"
        " items.neu, items.neg, items.thread_id, items.snippet, items.is_staff"
        " FROM items JOIN feeds ON feeds.id = items.feed_id"
        " LEFT JOIN feeds AS parent ON parent.id = feeds.parent_id"
        f" WHERE {' AND '.join(clauses)} ORDER BY items.published DESC, items.id DESC"
    )
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [_terms(row) for row in db.query(sql, params)]


def feed_health(db: sqlite_utils.Database, *, include_comment_feeds: bool = False) -> list[dict[str, Any]]:
    """One row per feed: when it was polled, how it went, and when it is due next."""
    where = "active = 1" + ("" if include_comment_feeds else " AND kind = 'feed'")
    return list(db.query(
        "SELECT id, name, kind, url, status, http_status, last_polled_at, last_ok_at, next_poll_at,"
        " item_count, consecutive_errors, error_kind, last_error, failing_since, last_new_item_at"
        f" FROM feeds WHERE {where} ORDER BY kind, name"))
