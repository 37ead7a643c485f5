"""Threads and acks: which threads to show, their items, and the team's marks on them."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import sqlite_utils

from listener.errors import NotFoundError
from listener.store.base import utcnow, write
from listener.store.verdicts import NEGATIVE
from listener.times import iso


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
    params: list[Any] = [term] if term else []
    if since is None:
        sql = ("SELECT hit.thread_id FROM (SELECT DISTINCT thread_id FROM items"
               f" WHERE is_hit = 1 AND thread_id IS NOT NULL {term_clause}) AS hit WHERE 1")
    else:  # active since `since`: from the items published since then (idx_items_published), not every thread
        sql = ("WITH recent AS MATERIALIZED (SELECT DISTINCT thread_id FROM items INDEXED BY idx_items_published"
               " WHERE published >= ? AND thread_id IS NOT NULL)"
               " SELECT hit.thread_id FROM (SELECT recent.thread_id FROM recent WHERE EXISTS (SELECT 1 FROM items"
               f" WHERE items.thread_id = recent.thread_id AND items.is_hit = 1 {term_clause})) AS hit WHERE 1")
        params.insert(0, iso(since))
    if negative_at_most is not None:
        sql += (" AND hit.thread_id IN (SELECT thread_id FROM items"
                f" WHERE items.compound IS NOT NULL AND {NEGATIVE})")
        params.append(negative_at_most)
    if feed:
        sql += (" AND hit.thread_id IN (SELECT thread_id FROM items"
                " WHERE feed_id IN (SELECT value FROM json_each(?)))")
        params.append(json.dumps(_feed_ids(db, feed)))
    return [row[0] for row in db.execute(sql, params).fetchall()]


def thread_items(db: sqlite_utils.Database, ids: Sequence[str], *,
                 text_chars: int | None = 1000) -> dict[str, list[sqlite3.Row]]:
    """The items of each thread in time order, with their feed's name (a comment feed's parent's).

    `text_chars` bounds the content read per item (None: all of it). Rows are sqlite3.Row (read by
    column name, made in C: a report reads tens of thousands); `terms` is the stored JSON text
    (`text.stored_terms` reads it).
    """
    content = "items.content" if text_chars is None else f"substr(items.content, 1, {int(text_chars)})"
    cursor = db.conn.cursor()
    cursor.row_factory = sqlite3.Row
    try:
        cursor.execute(
            "SELECT items.id, items.thread_id, items.published, items.first_seen, items.author, items.compound,"
            " items.sentiment, items.complaint, items.cue_asks, items.cue_abuse, items.cue_links, items.spam_key,"
            " items.root_asks, items.root_abuse,"
            f" items.title, {content} AS content, items.url, items.is_hit, items.terms, items.is_staff,"
            " COALESCE(parent.name, feeds.name) AS feed"
            " FROM items JOIN feeds ON feeds.id = items.feed_id"
            " LEFT JOIN feeds AS parent ON parent.id = feeds.parent_id"
            " WHERE items.thread_id IN (SELECT value FROM json_each(?))"
            " ORDER BY items.thread_id, items.published, items.id", [json.dumps(list(ids))])
        grouped: dict[str, list[sqlite3.Row]] = {}
        for row in cursor:
            grouped.setdefault(row["thread_id"], []).append(row)
        return grouped
    finally:
        cursor.close()


def reply_candidates(db: sqlite_utils.Database, ids: Sequence[str], *, window_start: dt.datetime,
                     since: dt.datetime, negative: float) -> list[tuple]:
    """The items of threads `ids` published since `since`, in a few columns, for triage's rank bound:
    (thread_id, published, could wait for a reply, compound, complaint, sentiment, reads negative or
    abusive, marked by a person).

    "Could wait": published inside the reply window and negative, a complaint, asking or abusive by its
    stored cues (either reading of them), or with cues not stored, or marked. Staff, acks and spam are
    left to the summary: the bound only needs every item that could be waiting.
    """
    marked = {row[0] for row in db.execute("SELECT DISTINCT item_id FROM marks")}  # a team marks a few
    unknown = "(cue_asks IS NULL OR (root_asks IS NULL AND instr(COALESCE(url, ''), '#') = 0))"
    grim = f"(complaint = 1 OR sentiment = 'negative' OR (sentiment IS NULL AND compound <= ?)" \
           f" OR cue_abuse = 1 OR root_abuse = 1 OR {unknown})"
    rows = db.execute(
        f"SELECT thread_id, published, published >= ? AND ({grim} OR cue_asks = 1 OR root_asks = 1),"
        f" compound, complaint, sentiment, {grim}, id"
        " FROM items WHERE thread_id IN (SELECT value FROM json_each(?)) AND published >= ?",
        [iso(window_start), negative, negative, json.dumps(list(ids)), iso(since)]).fetchall()
    if not marked:
        return [(*row[:7], False) for row in rows]
    return [(row[0], row[1], row[2] or row[7] in marked and row[1] >= iso(window_start), *row[3:7], row[7] in marked)
            for row in rows]


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

