"""Threads as the team reads them: stored items -> triage summaries, the conversation, acks."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import sqlite_utils

from listener import store
from listener.models import Config
from listener.text import canonical_url, reply_subject, subject_key
from listener.threads import ThreadIndex
from listener.times import parse_iso, stored_moment
from listener.triage import (
    Ack,
    ThreadItem,
    ThreadSummary,
    conversation,
    is_staff,
    rank,
    staff_set,
    summarize_thread,
)


class StoredThreads(ThreadIndex):
    """The database side of grouping for one feed's batch (see `assign_threads`)."""

    def __init__(self, db: sqlite_utils.Database, feed_id: int) -> None:
        self.db = db
        self.feed_id = feed_id
        self._subjects: dict[str, str] | None = None

    def by_key(self, key: str) -> str | None:
        return store.thread_of_key(self.db, key, feed_id=self.feed_id)

    def by_url(self, url: str) -> str | None:
        return store.thread_of_url(self.db, url)

    def by_subject(self, subject: str) -> str | None:
        if self._subjects is None:  # read once per batch, and only for a feed that has "Re:" items
            originals: dict[str, str] = {}
            replies: dict[str, str] = {}
            for title, thread_id in store.feed_titles(self.db, self.feed_id):
                target = replies if reply_subject(title) else originals
                target.setdefault(subject_key(title), thread_id)
            self._subjects = {**replies, **originals}
        return self._subjects.get(subject)

    def exists(self, thread_id: str) -> bool:
        return store.thread_exists(self.db, thread_id)


def _thread_item(row: dict, staff: frozenset[str], root_row: dict | None) -> ThreadItem:
    return ThreadItem(
        id=row["id"], published=stored_moment(row["published"] or row["first_seen"]), author=row["author"],
        staff=is_staff(row["author"], staff),
        compound=row["compound"], sentiment=row.get("sentiment"), complaint=bool(row.get("complaint")),
        title=row["title"] or "", text=row["content"] or "", url=row["url"],
        arrived=parse_iso(row["first_seen"]), thread_id=row["thread_id"], feed=row["feed"],
        root=row is root_row,
    )


def _ack(row: dict) -> Ack:
    covers = row.get("last_item_id")
    return Ack(stored_moment(row["acked_at"]), row["by"], row["note"], math.inf if covers is None else covers)


def _summarize(config: Config, thread_id: str, rows: list[dict], info: dict | None, acks: list[dict],
               now: dt.datetime) -> tuple[ThreadSummary, list[ThreadItem]]:
    staff = staff_set(config.staff_authors)
    info = info or {}
    root = info.get("root") or ""
    root_row = next((row for row in rows if row["url"] and "#" not in row["url"] and root.startswith("http")
                     and canonical_url(row["url"]) == canonical_url(root)), None)
    items = [_thread_item(row, staff, root_row) for row in rows]
    terms = sorted({term for row in rows if row["is_hit"] for term in row["terms"]})
    summary = summarize_thread(
        items, [_ack(a).mark for a in acks], negative=config.negative,
        positive=config.positive, now=now, thread_id=thread_id,
        title=info.get("title") or (root_row["title"] if root_row else None),
        url=info.get("url") or (root if root.startswith("http") else None),
        feed=root_row["feed"] if root_row else info.get("feed"), terms=terms)
    return summary, items


def thread_summaries(db: sqlite_utils.Database, config: Config, *, since: dt.datetime | None = None,
                     needs_reply: bool = False, feed: str | None = None, term: str | None = None,
                     now: dt.datetime | None = None) -> list[ThreadSummary]:
    """The threads that contain a mention, highest reply priority first (`listener threads`, the report).

    `since`: last activity at or after it; `feed`: a feed's name (its comment feeds included);
    `term`: a watch entry's name; `needs_reply`: only the threads that need a reply. Staff are
    today's `staff.authors`, so a name added later counts for old replies too.
    """
    now = now or store.utcnow()
    ids = store.thread_ids(db, since=since, feed=feed, term=term,
                           negative_at_most=config.negative if needs_reply else None)
    if not ids:
        return []
    items = store.thread_items(db, ids)
    infos = store.thread_info(db, ids)
    acks = store.thread_acks(db, ids)
    summaries = [_summarize(config, tid, items[tid], infos.get(tid), acks.get(tid, []), now)[0]
                 for tid in ids if tid in items]
    if needs_reply:
        summaries = [s for s in summaries if s.needs_reply]
    return rank(summaries)


@dataclass(frozen=True)
class ThreadDetail:
    summary: ThreadSummary
    conversation: list[dict]
    acks: list[dict]


def thread_detail(db: sqlite_utils.Database, config: Config, thread_id: str, *,
                  now: dt.datetime | None = None) -> ThreadDetail:
    """One thread in full (`listener thread`): its summary and the conversation in time order.

    `thread_id` may be a unique prefix of at least 4 characters; unknown -> NotFoundError.
    """
    now = now or store.utcnow()
    thread_id = store.resolve_thread(db, thread_id)
    rows = store.thread_items(db, [thread_id], text_chars=None).get(thread_id, [])
    acks = store.thread_acks(db, [thread_id]).get(thread_id, [])
    summary, items = _summarize(config, thread_id, rows, store.thread_info(db, [thread_id]).get(thread_id),
                                acks, now)
    records = [_ack(a) for a in acks]
    talk = conversation(items, records, summary, negative=config.negative, positive=config.positive)
    return ThreadDetail(summary, talk, acks)


def ack_thread(db: sqlite_utils.Database, thread_id: str, *, by: str | None, note: str | None = None,
               now: dt.datetime | None = None) -> dict:
    """Mark a thread handled (`listener ack`); a negative item that arrives later reopens it."""
    return store.add_ack(db, thread_id, by=by, note=note, now=now)

