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
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from listener import lifeline
from listener.errors import ListenerError, NotFoundError
from listener.models import FeedSpec, ScoredItem
from listener.times import iso, parse_iso
from listener.schedule import DISABLE_AFTER, DISABLED, GONE, feed_state, human_duration

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
MAX_ERRORS_KEPT = 200
MAX_ERROR_CHARS = 10_000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


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
            # config_url is what feeds.yaml said; url may be a trusted permanent redirect's target.
            existing = db.execute("SELECT id, COALESCE(config_url, url), url FROM feeds WHERE ident = ?",
                                  [ident]).fetchone()
            if existing is None:
                db.execute(
                    "INSERT INTO feeds (ident, name, url, config_url, kind, match_all, active, created_at) "
                    "VALUES (?, ?, ?, ?, 'feed', ?, 1, ?)",
                    [ident, spec.name, spec.url, spec.url, int(spec.match == "all"), now])
            else:
                changed_url = existing[1] != spec.url
                db.execute(
                    "UPDATE feeds SET url = ?, config_url = ?, match_all = ?, active = 1"
                    + (", etag = NULL, last_modified = NULL, next_poll_at = NULL, status = NULL,"
                       " consecutive_errors = 0, failing_since = NULL, redirect_target = NULL,"
                       " redirect_count = 0" if changed_url else "")
                    + " WHERE id = ?",
                    [spec.url if changed_url else existing[2], spec.url, int(spec.match == "all"), existing[0]])


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
    assert cursor.lastrowid is not None  # set by the INSERT just run
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
    rekeyed: int = 0


ItemExtras = Callable[[ScoredItem], tuple[str | None, bool]]  # -> (thread_id, is_staff)


def save_poll(db: sqlite_utils.Database, feed_id: int, update: FeedUpdate,
              items: Iterable[ScoredItem], *, extras: ItemExtras, now: dt.datetime,
              seen: int | None = None) -> StoredCounts:
    """Store one feed's items and its new state in ONE transaction (RELIABILITY A6, E3).

    Validators are written together with the items they stand for: if the items fail to store,
    the next poll fetches them again instead of getting a 304. `seen` is how many items the feed
    listed this time (`items` holds only the new and changed ones).
    """
    stamp = iso(now)
    new = updated = new_hits = 0
    items = list(items)
    with write(db):
        moved = _rekey_moved_items(db, feed_id, items, seen=seen if seen is not None else len(items))
        for scored in items:
            thread_id, staff = extras(scored)
            thread_id = moved.get(scored.item.key, thread_id)
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
    return StoredCounts(new, updated, new_hits, len(moved))


REKEY_MIN_MATCHES = 5


def _rekey_moved_items(db: sqlite_utils.Database, feed_id: int, items: Sequence[ScoredItem], *,
                       seen: int) -> dict[str, str | None]:
    """RELIABILITY C3: a feed that re-keys its items (a CMS migration, http -> https) must not
    make them all new mentions again.

    When more than half of what the feed lists is new and at least REKEY_MIN_MATCHES of the new
    items match a stored item of the same feed (by link, whatever its scheme, or by title and
    date), those stored rows take the new keys and keep their first-seen time and thread.
    Returns new key -> the stored row's thread id.
    """
    if len(items) < REKEY_MIN_MATCHES or len(items) * 2 <= seen:
        return {}  # the usual poll: too few changed items to be a re-keying, no query needed
    unknown = [s for s in items
               if not db.execute("SELECT 1 FROM items WHERE feed_id = ? AND key = ?", [feed_id, s.item.key]).fetchone()]
    if len(unknown) < REKEY_MIN_MATCHES or len(unknown) * 2 <= seen:
        return {}
    listed = {s.item.key for s in items}
    matches: dict[str, tuple[int, str | None]] = {}
    taken: set[int] = set()
    for scored in unknown:
        item = scored.item
        candidates = []
        if item.url:
            bare = item.url.split("://", 1)[-1]
            candidates += db.execute(
                "SELECT id, key, thread_id FROM items WHERE feed_id = ? AND url IN (?, ?)",
                [feed_id, f"http://{bare}", f"https://{bare}"]).fetchall()
        if item.title and item.published_raw:
            candidates += db.execute(
                "SELECT id, key, thread_id FROM items WHERE feed_id = ? AND title = ? AND published_raw = ?",
                [feed_id, item.title, item.published_raw]).fetchall()
        row = next((c for c in candidates if c[1] not in listed and c[0] not in taken), None)
        if row is not None:
            matches[item.key] = (row[0], row[2])
            taken.add(row[0])
    if len(matches) < REKEY_MIN_MATCHES:
        return {}
    for key, (row_id, _) in matches.items():
        db.execute("UPDATE items SET key = ? WHERE id = ?", [key, row_id])
    return {key: thread_id for key, (_, thread_id) in matches.items()}


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
    """`terms` as a list; a damaged value (someone edited the file by hand) reads as no terms."""
    try:
        terms = json.loads(row["terms"] or "[]")
    except ValueError:
        terms = []
    row["terms"] = terms if isinstance(terms, list) else []
    return row


def mentions(db: sqlite_utils.Database, *, since: dt.datetime | None = None, term: str | None = None,
             feed: str | None = None, negative_at_most: float | None = None,
             limit: int | None = 50) -> list[dict[str, Any]]:
    """Recent hits, newest first. `feed` matches a configured feed's name, its comment feeds included."""
    clauses = ["items.is_hit = 1"]
    params: list[Any] = []
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
    rows = db.query(
        "SELECT id, name, kind, url, status, http_status, last_polled_at, last_ok_at, next_poll_at,"
        " item_count, consecutive_errors, error_kind, last_error, failing_since, last_new_item_at, created_at"
        f" FROM feeds WHERE {where} ORDER BY kind, name")
    now = utcnow()
    return [_with_state(row, now) for row in rows]


# --- threads and acks -------------------------------------------------------------------------


def _m002_thread_indexes(db: sqlite_utils.Database) -> None:
    """What `threads --needs-reply` needs so that it never scans every item (negative items by
    thread), and items by guid across feeds (an Atom thr:in-reply-to ref names its parent's guid)."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_compound_thread ON items (compound, thread_id)"
               " WHERE compound IS NOT NULL")
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_key ON items (key)")


MIGRATIONS.append(_m002_thread_indexes)


def _feed_ids(db: sqlite_utils.Database, name: str) -> list[int]:
    """The feed called `name` and the comment feeds followed for it."""
    ids = [row[0] for row in db.execute(
        "SELECT id FROM feeds WHERE name = ? AND kind = 'feed'"
        " UNION SELECT child.id FROM feeds AS child JOIN feeds AS parent ON parent.id = child.parent_id"
        " WHERE parent.name = ? AND parent.kind = 'feed'", [name, name]).fetchall()]
    if not ids:
        raise NotFoundError(f"no feed named {name!r} (see `listener feeds`)")
    return ids


def thread_ids(db: sqlite_utils.Database, *, since: dt.datetime | None = None, feed: str | None = None,
               term: str | None = None, negative_at_most: float | None = None) -> list[str]:
    """Threads that contain at least one mention (of `term`, when given).

    `since`: last activity (the newest item of the thread) at or after it. `feed`: with an item from
    that feed or its comment feeds. `negative_at_most`: with an item whose compound is at most
    that (the candidates for "needs reply"; staff and acks are judged by the caller).
    """
    term_clause = ("AND EXISTS (SELECT 1 FROM json_each(items.terms) WHERE lower(json_each.value) = lower(?))"
                   if term else "")
    sql = ("SELECT hit.thread_id FROM (SELECT DISTINCT thread_id FROM items"
           f" WHERE is_hit = 1 AND thread_id IS NOT NULL {term_clause}) AS hit WHERE 1")
    params: list[Any] = [term] if term else []
    if since is not None:
        sql += " AND (SELECT max(published) FROM items WHERE items.thread_id = hit.thread_id) >= ?"
        params.append(iso(since))
    if negative_at_most is not None:
        sql += (" AND hit.thread_id IN (SELECT thread_id FROM items"
                " WHERE compound IS NOT NULL AND compound <= ?)")
        params.append(negative_at_most)
    if feed:
        sql += (" AND hit.thread_id IN (SELECT thread_id FROM items"
                " WHERE feed_id IN (SELECT value FROM json_each(?)))")
        params.append(json.dumps(_feed_ids(db, feed)))
    return [row[0] for row in db.execute(sql, params).fetchall()]


def thread_items(db: sqlite_utils.Database, ids: Sequence[str], *,
                 text_chars: int | None = 1000) -> dict[str, list[dict[str, Any]]]:
    """The items of each thread in time order, with their feed's name (a comment feed's parent's).

    `text_chars` bounds the content read per item (None: all of it).
    """
    content = "items.content" if text_chars is None else f"substr(items.content, 1, {int(text_chars)})"
    rows = db.query(
        "SELECT items.id, items.thread_id, items.published, items.first_seen, items.author, items.compound,"
        f" items.title, {content} AS content, items.url, items.is_hit, items.terms, items.is_staff,"
        " COALESCE(parent.name, feeds.name) AS feed"
        " FROM items JOIN feeds ON feeds.id = items.feed_id"
        " LEFT JOIN feeds AS parent ON parent.id = feeds.parent_id"
        " WHERE items.thread_id IN (SELECT value FROM json_each(?))"
        " ORDER BY items.thread_id, items.published, items.id", [json.dumps(list(ids))])
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["thread_id"], []).append(_terms(row))
    return grouped


def thread_info(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """id -> the thread's root, title, URL and the feed it was first seen in."""
    rows = db.query(
        "SELECT threads.id, threads.root, threads.title, threads.url,"
        " COALESCE(parent.name, feeds.name) AS feed"
        " FROM threads LEFT JOIN feeds ON feeds.id = threads.feed_id"
        " LEFT JOIN feeds AS parent ON parent.id = feeds.parent_id"
        " WHERE threads.id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))])
    return {row["id"]: row for row in rows}


def thread_acks(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """id -> its acks, oldest first: acked_at, by, note."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in db.query("SELECT thread_id, acked_at, by, note, last_item_id FROM acks"
                        " WHERE thread_id IN (SELECT value FROM json_each(?)) ORDER BY thread_id, acked_at, id",
                        [json.dumps(list(ids))]):
        grouped.setdefault(row["thread_id"], []).append(row)
    return grouped


def resolve_thread(db: sqlite_utils.Database, text: str) -> str:
    """A thread id from what a person typed: the id, or a unique prefix of at least 4 characters."""
    wanted = text.strip()
    if db.execute("SELECT 1 FROM threads WHERE id = ?", [wanted]).fetchone():
        return wanted
    if len(wanted) >= 4:
        found = [row[0] for row in db.execute(
            "SELECT id FROM threads WHERE id >= ? AND id < ? ORDER BY id LIMIT 2",
            [wanted, wanted + "\U0010ffff"]).fetchall()]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise NotFoundError(f"thread id {wanted!r} is ambiguous (it starts {', '.join(found)}, ...)")
    raise NotFoundError(f"no thread {wanted!r} (see `listener threads`)")


def add_ack(db: sqlite_utils.Database, thread_id: str, *, by: str | None, note: str | None,
            now: dt.datetime | None = None) -> dict[str, Any]:
    """Mark a thread handled now; returns the stored ack. Unknown thread -> NotFoundError."""
    stamp = iso(now or utcnow())
    with write(db):
        thread_id = resolve_thread(db, thread_id)
        cursor = db.execute("INSERT INTO acks (thread_id, acked_at, by, note, last_item_id)"
                            " VALUES (?, ?, ?, ?, (SELECT max(id) FROM items))", [thread_id, stamp, by, note])
    return {"id": cursor.lastrowid, "thread_id": thread_id, "acked_at": stamp, "by": by, "note": note}


def thread_of_key(db: sqlite_utils.Database, key: str, *, feed_id: int | None = None) -> str | None:
    """The thread of a stored item with guid `key`: in `feed_id` first, then in any feed."""
    if feed_id is not None:
        row = db.execute("SELECT thread_id FROM items WHERE feed_id = ? AND key = ? AND thread_id IS NOT NULL",
                         [feed_id, key]).fetchone()
        if row:
            return row[0]
    row = db.execute("SELECT thread_id FROM items WHERE key = ? AND thread_id IS NOT NULL ORDER BY id LIMIT 1",
                     [key]).fetchone()
    return row[0] if row else None


def thread_of_url(db: sqlite_utils.Database, url: str) -> str | None:
    """The thread of a stored item whose link is exactly `url`."""
    row = db.execute("SELECT thread_id FROM items WHERE url = ? AND thread_id IS NOT NULL ORDER BY id LIMIT 1",
                     [url]).fetchone()
    return row[0] if row else None


def thread_exists(db: sqlite_utils.Database, thread_id: str) -> bool:
    return db.execute("SELECT 1 FROM threads WHERE id = ?", [thread_id]).fetchone() is not None


def feed_titles(db: sqlite_utils.Database, feed_id: int) -> Iterator[tuple[str, str]]:
    """(title, thread_id) of one feed's items, newest first: for "Re: subject" threading."""
    for row in db.execute("SELECT title, thread_id FROM items WHERE feed_id = ? AND thread_id IS NOT NULL"
                          " ORDER BY published DESC", [feed_id]):
        yield row[0] or "", row[1]


# --- retention and feed lifecycle -------------------------------------------------------------
# The daemon's side of the feeds table (issue 5): health states, auto-disable, trusted permanent
# redirects, clock steps, and the retention that keeps item identities forever (RELIABILITY C5, E7).

PRUNE_BATCH = 10_000


def _m005_feed_config_url(db: sqlite_utils.Database) -> None:
    """`url` may move to a trusted permanent redirect's target; `config_url` keeps what feeds.yaml
    says, so sync_feeds tells a real config change from a move and does not undo the move."""
    if "config_url" not in db["feeds"].columns_dict:
        db.execute("ALTER TABLE feeds ADD COLUMN config_url TEXT")
    db.execute("UPDATE feeds SET config_url = url WHERE kind = 'feed' AND config_url IS NULL")


MIGRATIONS.append(_m005_feed_config_url)


def _with_state(row: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """Add `state` (schedule.feed_state) and `backoff` (the wait before the next retry, while failing)."""
    row["state"] = feed_state(row, now)
    row["backoff"] = None
    if row["consecutive_errors"] and row["state"] not in (GONE, DISABLED):
        polled, due = parse_iso(row["last_polled_at"]), parse_iso(row["next_poll_at"])
        if polled and due:
            row["backoff"] = human_duration((due - polled).total_seconds())
    return row


def disable_failing_feed(db: sqlite_utils.Database, feed_id: int, *, now: dt.datetime) -> bool:
    """Stop polling a feed that has failed every poll since DISABLE_AFTER ago; True if it was disabled.

    `listener poll --feed NAME` still tries it, and one success makes it `ok` again.
    """
    with write(db):
        cursor = db.execute(
            "UPDATE feeds SET status = 'disabled' WHERE id = ? AND kind = 'feed' AND status = 'error'"
            " AND failing_since <= ?",
            [feed_id, iso(now - DISABLE_AFTER)])
    return cursor.rowcount > 0


def redirect_state(db: sqlite_utils.Database, feed_id: int) -> tuple[str | None, int]:
    """(target, count): where the feed's last polls were permanently redirected, and how many in a row."""
    row = db.execute("SELECT redirect_target, redirect_count FROM feeds WHERE id = ?", [feed_id]).fetchone()
    return (row[0], row[1] or 0) if row else (None, 0)


def url_in_use(db: sqlite_utils.Database, url: str, feed_id: int) -> bool:
    """Does another active feed already fetch (or configure) `url`?"""
    return db.execute("SELECT 1 FROM feeds WHERE id != ? AND active = 1 AND (url = ? OR config_url = ?) LIMIT 1",
                      [feed_id, url, url]).fetchone() is not None


def rebase_schedule(db: sqlite_utils.Database, now: dt.datetime) -> int:
    """After the wall clock stepped back: a feed "polled in the future" keeps its wait, counted from now.

    Without this a feed polled just before a one-day step back would wait a day more than it asked.
    Returns how many feeds moved.
    """
    rows = db.execute("SELECT id, last_polled_at, next_poll_at FROM feeds WHERE last_polled_at > ?"
                      " AND next_poll_at IS NOT NULL", [iso(now)]).fetchall()
    moved = []
    for feed_id, polled, due in rows:
        polled_at, due_at = parse_iso(polled), parse_iso(due)
        assert polled_at is not None and due_at is not None  # the query selects rows with both set
        wait = due_at - polled_at
        if now + wait < due_at:
            moved.append((iso(now + wait), feed_id))
    if moved:
        with write(db):
            db.conn.executemany("UPDATE feeds SET next_poll_at = ? WHERE id = ?", moved)
    return len(moved)


def prune_items(db: sqlite_utils.Database, *, before: dt.datetime, batch: int = PRUNE_BATCH,
                on_batch: Callable[[int], None] | None = None) -> int:
    """Drop the text of items not updated since `before`, `batch` rows per transaction; keep the rows.

    The row (feed, key, content_hash, title, url, scores, thread) stays, so an item still in its
    feed is recognised as already seen and never comes back as new (RELIABILITY C5); the FTS
    index follows through its triggers. Walks the table by id, so each batch starts where the last
    one stopped. `on_batch(count)` is called after each committed batch. Returns the rows pruned.
    """
    cutoff, last_id, total = iso(before), 0, 0
    pending = "(pruned = 0 OR COALESCE(content, '') != '' OR COALESCE(snippet, '') != '')"
    while True:
        with write(db):
            top, count = db.execute(
                f"SELECT max(id), count(*) FROM (SELECT id FROM items WHERE id > ? AND updated_at < ? AND {pending}"
                " ORDER BY id LIMIT ?)", [last_id, cutoff, batch]).fetchone()
            if count:
                db.execute(f"UPDATE items SET content = '', snippet = '', pruned = 1"
                           f" WHERE id > ? AND id <= ? AND updated_at < ? AND {pending}", [last_id, top, cutoff])
        if not count:
            return total
        total, last_id = total + count, top
        if on_batch:
            on_batch(count)


def checkpoint(db: sqlite_utils.Database) -> tuple[int, int, int]:
    """Copy the WAL into the database and truncate it (after a big prune); (busy, wal pages, copied)."""
    return tuple(db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())


def digest_ledger_status(db: sqlite_utils.Database, day: dt.date, recipients: Sequence[str]) -> str | None:
    """Where the digest of `day` stands for these recipients, from the `digests` ledger.

    `sent` when every recipient's row says sent; `failed_permanent` when every row is sent or
    failed_permanent and one failed; else the status of the first recipient not done (None when
    it has no row yet: nothing was attempted).
    """
    rows = digest_rows(db, day)
    statuses = [rows[recipient]["status"] if recipient in rows else None for recipient in recipients]
    for status in statuses:
        if status not in ("sent", "failed_permanent"):
            return status
    return "sent" if all(status == "sent" for status in statuses) else "failed_permanent"


# --- report and digest ledger -----------------------------------------------------------------
# The daily report reads mentions by when listener first saw them (RELIABILITY H4), so every
# mention belongs to exactly one day. The `digests` table is the ledger: one row per day and
# recipient, pending -> sending -> sent (or failed_permanent), "sent" written only after the SMTP
# server accepted the message (RELIABILITY F5, F6, G1-G5).


def _m006_report_indexes(db: sqlite_utils.Database) -> None:
    """The report reads a day's mentions by first_seen; staff items are left out of the mood."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_items_hit_first_seen ON items (first_seen) WHERE is_hit = 1")


MIGRATIONS.append(_m006_report_indexes)


def _m007_ack_covers(db: sqlite_utils.Database) -> None:
    """An ack covers the items stored before it: by id, since two can share a second of wall clock."""
    db.table("acks").add_column("last_item_id", int)


MIGRATIONS.append(_m007_ack_covers)


def _m008_digest_owner(db: sqlite_utils.Database) -> None:
    """Which process claimed a `sending` row, so a claim whose process died is taken over at once."""
    db.table("digests").add_column("owner", str)


MIGRATIONS.append(_m008_digest_owner)

_MOOD_WHERE = "items.is_hit = 1 AND items.is_staff = 0 AND items.first_seen >= ? AND items.first_seen < ?"


def mood_mentions(db: sqlite_utils.Database, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """first_seen, compound and terms (raw JSON text) of every non-staff mention first seen in [start, end)."""
    return list(db.query(f"SELECT items.first_seen, items.compound, items.terms FROM items WHERE {_MOOD_WHERE}",
                         [iso(start), iso(end)]))


def day_mentions(db: sqlite_utils.Database, start: dt.datetime, end: dt.datetime, *, most: str,
                 threshold: float, limit: int) -> list[dict[str, Any]]:
    """The most negative (`most="negative"`: compound <= threshold, lowest first) or most positive
    (compound >= threshold, highest first) non-staff mentions first seen in [start, end)."""
    negative = most == "negative"
    clause = "items.compound <= ?" if negative else "items.compound >= ?"
    return list(db.query(
        "SELECT items.id, COALESCE(parent.name, feeds.name) AS feed, items.title, items.url, items.author,"
        " items.published, items.first_seen, items.terms, items.compound, items.snippet, items.thread_id,"
        " threads.title AS thread_title"
        " FROM items JOIN feeds ON feeds.id = items.feed_id LEFT JOIN feeds AS parent ON parent.id = feeds.parent_id"
        " LEFT JOIN threads ON threads.id = items.thread_id"
        f" WHERE {_MOOD_WHERE} AND items.compound IS NOT NULL AND {clause}"
        f" ORDER BY items.compound {'ASC' if negative else 'DESC'}, items.id LIMIT ?",
        [iso(start), iso(end), threshold, limit]))


@dataclass(frozen=True)
class DigestClaim:
    """Who this run will send the digest to, under which Message-ID, and who it leaves alone."""

    due: dict[str, str]  # recipient -> Message-ID to use
    already_sent: list[str]
    permanent: list[str]
    in_flight: list[str]


def digest_rows(db: sqlite_utils.Database, day: dt.date) -> dict[str, dict[str, Any]]:
    """recipient -> its ledger row for `day`."""
    return {row["recipient"]: row for row in db.query("SELECT * FROM digests WHERE day = ?", [day.isoformat()])}


def claim_digest(db: sqlite_utils.Database, day: dt.date, recipients: Sequence[str], *,
                 message_id: Callable[[int], str], force: bool, now: dt.datetime,
                 in_flight_for: dt.timedelta) -> DigestClaim:
    """Mark `sending` the recipients this run should send to, in one write transaction.

    Left alone: `sent` and `failed_permanent` (unless `force`), and `sending` rows younger than
    `in_flight_for` whose owner process still runs (another run is at it). A `pending` row, or a
    `sending` row older than that or whose owner died (a run killed around the SMTP call), is sent
    again with its stored Message-ID, so a duplicate is recognisable. `message_id(resend)` makes the id: resend 0 for a first send, n > 0 for the
    n-th forced resend. Concurrent runs serialise on BEGIN IMMEDIATE: one claims, the other sees it.
    """
    stamp, key, owner = iso(now), day.isoformat(), lifeline.process_token()
    due: dict[str, str] = {}
    already, permanent, flying = [], [], []
    with write(db):
        rows = digest_rows(db, day)
        resend = 1 + max((row["attempts"] or 0 for row in rows.values() if row["status"] == "sent"), default=0)
        for recipient in recipients:
            row = rows.get(recipient)
            status = row["status"] if row else None
            if status == "sent" and not force:
                already.append(recipient)
                continue
            if status == "failed_permanent" and not force:
                permanent.append(recipient)
                continue
            if row is not None and status == "sending" and not force:
                claimed_at = parse_iso(row["updated_at"])
                assert claimed_at is not None  # every write to the ledger stamps updated_at
                if claimed_at > now - in_flight_for and not lifeline.owner_is_dead(row.get("owner")):
                    flying.append(recipient)
                    continue
            if status in ("sent", "failed_permanent") or not row or not row["message_id"]:
                mid = message_id(resend if status == "sent" else 0)
            else:
                mid = row["message_id"]
            due[recipient] = mid
            db.execute(
                "INSERT INTO digests (day, recipient, status, message_id, attempts, updated_at, owner)"
                " VALUES (?, ?, 'sending', ?, 1, ?, ?)"
                " ON CONFLICT(day, recipient) DO UPDATE SET status = 'sending', message_id = excluded.message_id,"
                " attempts = digests.attempts + 1, updated_at = excluded.updated_at, owner = excluded.owner",
                [key, recipient, mid, stamp, owner])
    return DigestClaim(due, already, permanent, flying)


def finish_digest(db: sqlite_utils.Database, day: dt.date, outcomes: dict[str, tuple[str, str | None]], *,
                  now: dt.datetime) -> None:
    """Record what the server said: recipient -> (status, error); `sent` stamps sent_at."""
    stamp = iso(now)
    with write(db):
        for recipient, (status, error) in outcomes.items():
            db.execute(
                "UPDATE digests SET status = ?, last_error = ?, updated_at = ?,"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE day = ? AND recipient = ?",
                [status, (error or None) and error[:MAX_ERROR_CHARS], stamp, status, stamp, day.isoformat(),
                 recipient])


# --- backups and checks -----------------------------------------------------------------------


def backup(db: sqlite_utils.Database, target: str | Path) -> Path:
    """A consistent copy made while others keep writing (SQLite's online backup).

    It is written to a temporary file beside TARGET, passes `PRAGMA integrity_check` there and
    only then is renamed over TARGET: a half-made or corrupt copy (the online backup copies a
    damaged page as it is) never replaces a good backup. A failed check raises ListenerError.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
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
