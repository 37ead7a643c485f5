"""The feeds table: what feeds.yaml configured, the comment feeds we follow, and how each poll went."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from listener.models import FeedSpec
from listener.store.base import MAX_ERROR_CHARS, Queries, utcnow, write
from listener.times import iso, parse_iso

if TYPE_CHECKING:
    import sqlite_utils

MAX_ERRORS_KEPT = 200


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
    parent_name: str | None = None  # a comment feed's configured feed, its URL, and its post's URL
    parent_url: str | None = None
    thread_url: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FeedRow:
        return cls(
            id=row["id"], name=row["name"], url=row["url"], kind=row["kind"], etag=row["etag"],
            last_modified=row["last_modified"], match_all=bool(row["match_all"]),
            parent_id=row["parent_id"], thread_id=row["thread_id"],
            consecutive_errors=row["consecutive_errors"] or 0, status=row["status"],
            next_poll_at=row["next_poll_at"], parent_name=row.get("parent_name"),
            parent_url=row.get("parent_url"), thread_url=row.get("thread_url"),
        )


def sync_feeds(db: sqlite_utils.Database, specs: Sequence[FeedSpec]) -> None:
    """Make the feeds table match the config: new feeds added, changed URLs updated, removed ones inactive.

    One read of the configured feeds, and writes only for what changed: every poll runs this, and
    rewriting each row (as it once did) cost more than the rest of an all-304 cycle's SQL.
    """
    now = iso(utcnow())
    with write(db):
        stored = {ident: (feed_id, config_url, url, match_all, active) for ident, feed_id, config_url, url, match_all, active
                  in db.execute("SELECT ident, id, config_url, url, match_all, active FROM feeds WHERE kind = 'feed'")}
        for spec in specs:
            ident, match_all = f"feed:{spec.name}", int(spec.match == "all")
            existing = stored.pop(ident, None)
            if existing is None:
                db.execute(
                    "INSERT INTO feeds (ident, name, url, config_url, kind, match_all, active, created_at) "
                    "VALUES (?, ?, ?, ?, 'feed', ?, 1, ?)",
                    [ident, spec.name, spec.url, spec.url, match_all, now])
                continue
            feed_id, config_url, url, stored_match_all, active = existing
            # config_url is what feeds.yaml said; url may be a trusted permanent redirect's target.
            changed_url = (config_url or url) != spec.url
            if not changed_url and config_url == spec.url and stored_match_all == match_all and active == 1:
                continue
            db.execute(
                "UPDATE feeds SET url = ?, config_url = ?, match_all = ?, active = 1"
                + (", etag = NULL, last_modified = NULL, next_poll_at = NULL, status = NULL,"
                   " consecutive_errors = 0, failing_since = NULL, redirect_target = NULL,"
                   " redirect_count = 0" if changed_url else "")
                + " WHERE id = ?",
                [spec.url if changed_url else url, spec.url, match_all, feed_id])
        removed = [(feed_id,) for feed_id, *_, active in stored.values() if active != 0]
        db.conn.executemany("UPDATE feeds SET active = 0 WHERE id = ?", removed)


def feed_rows(db: sqlite_utils.Database, where: str = "1", params: Sequence[Any] = ()) -> list[FeedRow]:
    """Feeds matching `where` (always our own literal, over the `feeds` columns), with their parent's name."""
    sql = ("SELECT * FROM (SELECT feeds.*, parent.name AS parent_name, parent.url AS parent_url FROM feeds"
           " LEFT JOIN feeds AS parent ON parent.id = feeds.parent_id)"
           f" WHERE {where} ORDER BY id")
    return [FeedRow.from_row(row) for row in db.query(sql, params)]


def due_feed_rows(db: sqlite_utils.Database, *, names: Sequence[str] = (), force: bool = False,
                  now: dt.datetime) -> list[FeedRow]:
    """Configured feeds to poll: the named ones, all of them (`force`), or those whose time has come."""
    if names:
        marks = ",".join("?" * len(names))
        return feed_rows(db, f"kind = 'feed' AND active = 1 AND name IN ({marks})", list(names))
    if force:
        return feed_rows(db, "kind = 'feed' AND active = 1 AND COALESCE(status, '') != 'gone'")
    return feed_rows(
        db, "kind = 'feed' AND active = 1 AND COALESCE(status, '') NOT IN ('gone', 'disabled')"
            " AND (next_poll_at IS NULL OR next_poll_at <= ?)", [iso(now)])


def feeds_by_id(db: sqlite_utils.Database, ids: Sequence[int]) -> list[FeedRow]:
    return feed_rows(db, f"id IN ({','.join('?' * len(ids))})", list(ids)) if ids else []


@dataclass(frozen=True)
class CommentedPost:
    """A recent post with a comment feed, and what we know of that comment feed (None: never seen)."""

    parent_id: int
    comments_url: str
    comment_count: int | None
    title: str | None
    url: str | None
    thread_id: str | None
    feed_id: int | None
    fetched_count: int | None
    next_poll_at: str | None
    status: str | None


def recent_commented_posts(db: sqlite_utils.Database, parent_ids: Sequence[int], *,
                           max_post_age_days: int) -> list[CommentedPost]:
    """Posts of these feeds that have a comment feed, newest first, at most `max_post_age_days`
    older than their feed's newest post (not than today: a quiet blog's latest posts are where
    late comments land, and the shipped sample keeps working as the calendar moves)."""
    if not parent_ids:
        return []
    marks = ",".join("?" * len(parent_ids))
    rows = db.execute(
        "SELECT items.feed_id, items.comments_url, items.comment_count, items.title, items.url,"
        " items.thread_id, cf.id, cf.comment_count, cf.next_poll_at, cf.status"
        " FROM items LEFT JOIN feeds AS cf ON cf.ident = 'comments:' || items.comments_url"
        f" WHERE items.feed_id IN ({marks}) AND items.comments_url IS NOT NULL"
        " AND items.published >= strftime('%Y-%m-%dT%H:%M:%SZ',"
        "     (SELECT max(newest.published) FROM items AS newest WHERE newest.feed_id = items.feed_id), ?)"
        " ORDER BY items.published DESC",
        [*parent_ids, f"-{int(max_post_age_days)} days"]).fetchall()
    return [CommentedPost(*row) for row in rows]


def set_comment_count(db: sqlite_utils.Database, feed_id: int, count: int | None) -> None:
    """The post's comment count a comment feed's stored fetch saw (unchanged count: no fetch next time)."""
    with write(db):
        db.execute("UPDATE feeds SET comment_count = ? WHERE id = ?", [count, feed_id])


def ensure_comment_feed(db: sqlite_utils.Database, parent: FeedRow, url: str, *, name: str,
                        thread_id: str | None, thread_url: str | None) -> int:
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
class NotModified:
    """One feed's 304: the validators it sent back (or ours), and its next poll."""

    feed_id: int
    etag: str | None
    last_modified: str | None
    next_poll_at: dt.datetime
    polled_at: dt.datetime


def save_not_modified(db: sqlite_utils.Database, answers: Sequence[NotModified]) -> None:
    """Many feeds' 304s in one statement and one write (an all-304 re-poll is nothing else).

    Each row becomes what save_poll writes for a 304 without items or redirect: the validators, the
    schedule, the errors cleared; title, link, URL and last new item stay (a test pins the two alike).
    """
    rows = [(a.etag, a.last_modified, iso(a.next_poll_at), iso(a.polled_at), iso(a.polled_at), a.feed_id)
            for a in answers]
    with write(db):
        db.conn.executemany(
            "UPDATE feeds SET status = 'not_modified', http_status = 304, etag = ?, last_modified = ?,"
            " next_poll_at = ?, last_polled_at = ?, last_ok_at = ?, consecutive_errors = 0,"
            " failing_since = NULL, error_kind = NULL, last_error = NULL, redirect_target = NULL,"
            " redirect_count = 0, item_count = (SELECT count(*) FROM items WHERE items.feed_id = feeds.id)"
            " WHERE id = ?", rows)


def disable_failing_feed(db: sqlite_utils.Database, feed_id: int, *, failing_since: dt.datetime) -> bool:
    """Stop polling a feed that has failed every poll since `failing_since` or longer; True if it was disabled.

    `listener poll --feed NAME` still tries it, and one success makes it `ok` again.
    """
    with write(db):
        cursor = db.execute(
            "UPDATE feeds SET status = 'disabled' WHERE id = ? AND kind = 'feed' AND status = 'error'"
            " AND failing_since <= ?",
            [feed_id, iso(failing_since)])
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


def feed_health(db: Queries, *, include_comment_feeds: bool = False,
                failing_after: int | None = None) -> list[dict[str, Any]]:
    """One row per feed: when it was polled, how it went, and when it is due next.

    `failing_after`: of the comment feeds, only those gone, disabled or with that many errors in a row
    (the report counts the broken ones; a large install follows a hundred thousand).
    """
    where = "feeds.active = 1" + ("" if include_comment_feeds else " AND feeds.kind = 'feed'")
    params: list[Any] = []
    if include_comment_feeds and failing_after is not None:
        where += (" AND (feeds.kind = 'feed' OR COALESCE(feeds.status, '') IN ('gone', 'disabled')"
                  " OR feeds.consecutive_errors >= ?)")
        params.append(failing_after)
    return list(db.query(
        "SELECT feeds.id, feeds.name, feeds.kind, feeds.url, feeds.status, feeds.http_status, feeds.last_polled_at,"
        " feeds.last_ok_at, feeds.next_poll_at, feeds.item_count, feeds.consecutive_errors, feeds.error_kind,"
        " feeds.last_error, feeds.failing_since, feeds.last_new_item_at, feeds.created_at, parent.name AS parent"
        " FROM feeds LEFT JOIN feeds AS parent ON parent.id = feeds.parent_id"
        f" WHERE {where} ORDER BY COALESCE(parent.name, feeds.name), feeds.kind DESC, feeds.name", params))

