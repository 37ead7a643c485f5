"""Threads as the team reads them: stored items -> triage summaries, the conversation, acks."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from sqlite3 import Row

import sqlite_utils

from listener import lifeline, store
from listener.models import Config, TextCues
from listener.text import canonical_url, reply_subject, stored_terms, subject_key
from listener.threads import ThreadIndex
from listener.times import parse_iso, stored_moment
from listener.triage import (
    Ack,
    ReplyOutlook,
    TeamState,
    ThreadItem,
    ThreadSummary,
    TriageContext,
    conversation,
    is_staff,
    negativity,
    rank,
    rank_bound,
    rank_key,
    staff_set,
    summarize_thread,
)
from listener.triage.cues import spam_key
from listener.triage.items import fold_name

log = logging.getLogger(__name__)

CRITIC_DAYS = 7
SPLIT_AT = 2000  # threads: from here a report summarises in two processes (below, starting one costs more)
DAY = dt.timedelta(hours=24)


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


def _thread_item(row: Row, staff: Callable[[str | None], bool], root_row: Row | None,
                 marks: dict[str, dict]) -> ThreadItem:
    """A stored row as triage reads it; a person's marks win over the verdict."""
    sentiment, complaint = row["sentiment"], bool(row["complaint"])
    abuse = None
    if "sentiment" in marks:
        sentiment = marks["sentiment"]["value"]
    if "complaint" in marks:
        complaint = marks["complaint"]["value"] == "1"
    if "abuse" in marks:
        abuse = marks["abuse"]["value"] == "1"
    arrived = parse_iso(row["first_seen"])
    return ThreadItem(
        id=row["id"], published=stored_moment(row["published"]) if row["published"] else stored_moment(arrived),
        author=row["author"],
        staff=staff(row["author"]),
        compound=row["compound"], sentiment=sentiment, complaint=complaint,
        title=row["title"] or "", text=row["content"] or "", url=row["url"],
        arrived=arrived, thread_id=row["thread_id"], feed=row["feed"],
        root=row is root_row, hit=bool(row["is_hit"]), abuse=abuse,
        marked=tuple(mark_words(field, mark) for field, mark in marks.items()),
        cues=None if row["cue_asks"] is None else TextCues(
            asks=bool(row["cue_asks"]), abuse=bool(row["cue_abuse"]), links=row["cue_links"] or 0,
            spam_key=row["spam_key"] or ""),
        root_cues=None if row["root_asks"] is None else ROOT_CUES[bool(row["root_asks"]), bool(row["root_abuse"])],
    )


ROOT_CUES = {(asks, abuse): TextCues(asks=asks, abuse=abuse) for asks in (False, True) for abuse in (False, True)}


def mark_words(field: str, mark: dict) -> str:
    """'negative by dana', 'not a complaint by dana': how `why` and `listener thread` list a mark."""
    value = mark["value"]
    words = value if field == "sentiment" else (field if value == "1" else f"not {field}")
    return words + (f" by {mark['by']}" if mark.get("by") else "")


def _team(row: dict | None) -> TeamState:
    if not row:
        return TeamState()
    return TeamState(owner=row["owner"], snoozed_until=parse_iso(row["snoozed_until"]),
                     snoozed_covers=row["snoozed_covers"] or 0, muted=bool(row["muted"]))


def triage_context(db: sqlite_utils.Database, config: Config, now: dt.datetime) -> TriageContext:
    """The config's triage settings and what triage needs from other threads: critics and repeated texts."""
    spec = config.triage
    critics = store.frequent_critics(db, since=now - dt.timedelta(days=CRITIC_DAYS), negative=config.negative)
    staff = staff_set(config.staff_authors)
    return TriageContext(
        reply_window=spec.reply_window, sla=spec.first_reply_within, hours=spec.business_hours,
        staff_names=tuple(config.staff_authors),
        repeated=frozenset([*store.repeated_spam_keys(db, since=now - spec.reply_window),
                            *(k for text in store.repeated_texts(db, since=now - spec.reply_window) if (k := spam_key(text)))]),
        critics={fold_name(a): n for a, n in critics.items() if not is_staff(a, staff)})


def _ack(row: dict) -> Ack:
    covers = row.get("last_item_id")
    return Ack(stored_moment(row["acked_at"]), row["by"], row["note"], math.inf if covers is None else covers)


def _summarize(config: Config, thread_id: str, rows: Sequence[Row], info: dict | None, acks: list[dict],
               now: dt.datetime, *, context: TriageContext, team: dict | None = None,
               marks: dict[int, dict[str, dict]] | None = None,
               staff: Callable[[str | None], bool] | None = None) -> tuple[ThreadSummary, list[ThreadItem]]:
    staff = staff or staff_test(config)
    info = info or {}
    root = info.get("root") or ""
    root_url = canonical_url(root) if root.startswith("http") else None
    root_row = next((row for row in rows if root_url and row["url"] and "#" not in row["url"]
                     and canonical_url(row["url"]) == root_url), None)
    marks = marks or {}
    items = [_thread_item(row, staff, root_row, marks.get(row["id"], {})) for row in rows]
    terms = sorted({term for row in rows if row["is_hit"] for term in _terms_of(row["terms"])})
    summary = summarize_thread(
        items, [_ack(a).mark for a in acks], negative=config.negative,
        positive=config.positive, now=now, thread_id=thread_id,
        title=info.get("title") or (root_row["title"] if root_row else None),
        url=info.get("url") or (root if root.startswith("http") else None),
        feed=root_row["feed"] if root_row else info.get("feed"), terms=terms, context=context, team=_team(team))
    return summary, items


def thread_summaries(db: sqlite_utils.Database, config: Config, *, since: dt.datetime | None = None,
                     needs_reply: bool = False, feed: str | None = None, term: str | None = None,
                     queue: str | None = None, owner: str | None = None, limit: int | None = None,
                     now: dt.datetime | None = None) -> list[ThreadSummary]:
    """The threads that contain a mention, in rank order (`listener threads`, the report, alerts).

    `since`: last activity at or after it; `feed`: a feed's name (its comment feeds included);
    `term`: a watch entry's name; `queue`: only the threads in that queue (reply, moderate, thank;
    `needs_reply` is `queue="reply"`); `owner`: only the threads assigned to that name; `limit`: at
    most that many, the first in rank order. Staff are today's `staff.authors`, so a name added later
    counts for old replies too.
    """
    now = now or store.utcnow()
    queue = queue or ("reply" if needs_reply else None)
    if queue:  # an item older than the reply window is in no queue: so is a thread with none newer
        window_start = now - config.triage.reply_window
        since = max(since, window_start) if since else window_start
    ids = store.thread_ids(db, since=since, feed=feed, term=term)
    if owner is not None:
        owned = store.threads_owned_by(db, owner)
        ids = [tid for tid in ids if tid in owned]
    if not ids:
        return []
    context = triage_context(db, config, now)
    if queue == "reply" and limit is not None and len(ids) > limit:
        return _best_replies(db, config, ids, now, context=context, limit=limit)
    summaries = _summaries(db, config, ids, now, context=context)
    if queue:
        summaries = [s for s in summaries if queue in s.queues]
    return rank(summaries)[:limit]


def _summaries(db: sqlite_utils.Database, config: Config, ids: list[str], now: dt.datetime, *,
               context: TriageContext, split_at: int = SPLIT_AT) -> list[ThreadSummary]:
    """Each thread's summary; a long list (the report's, on a large install) in two processes at once:
    threads are summarised independently, and the work is all Python. Only a process with one thread
    forks (the CLI; not the daemon, whose other threads could hold a lock the copy would wait for)."""
    path = db.execute("PRAGMA database_list").fetchone()[2]
    if len(ids) < split_at or (os.cpu_count() or 1) < 2 or not path or threading.active_count() > 1:
        return _summaries_here(db, config, ids, now, context=context)
    half = len(ids) // 2
    forked = multiprocessing.get_context("fork")
    reader, writer = forked.Pipe(duplex=False)
    helper = forked.Process(target=_summaries_elsewhere, args=(path, config, ids[half:], now, context, writer),
                            name="listener-summaries", daemon=True)
    helper.start()
    writer.close()
    try:
        mine = _summaries_here(db, config, ids[:half], now, context=context)
        theirs = reader.recv()
    except EOFError:  # the helper died: do its half here
        theirs = None
    finally:
        reader.close()
        helper.join(timeout=10)
        if helper.is_alive():
            helper.kill()
    if not isinstance(theirs, list):
        log.warning("the second process could not summarise its threads (%s): summarising them here", theirs)
        theirs = _summaries_here(db, config, ids[half:], now, context=context)
    return [*mine, *theirs]


def _summaries_elsewhere(path: str, config: Config, ids: list[str], now: dt.datetime, context: TriageContext,
                         writer: Connection) -> None:
    """The forked half of `_summaries`: its own connection (one is never shared across a fork)."""
    lifeline.die_with(os.getppid())
    try:
        db = store.connect(path)
        try:
            writer.send(_summaries_here(db, config, ids, now, context=context))
        finally:
            db.close()
    except Exception as exc:  # noqa: BLE001 - the parent does this half itself, and says why
        writer.send(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


def _summaries_here(db: sqlite_utils.Database, config: Config, ids: list[str], now: dt.datetime, *,
               context: TriageContext) -> list[ThreadSummary]:
    items = store.thread_items(db, ids)
    infos = store.thread_info(db, ids)
    acks = store.thread_acks(db, ids)
    teams = store.team_states(db, ids)
    marks = store.item_marks(db, [row["id"] for rows in items.values() for row in rows])
    staff = staff_test(config)
    return [_summarize(config, tid, items[tid], infos.get(tid), acks.get(tid, []), now, context=context,
                       team=teams.get(tid), marks=marks, staff=staff)[0]
            for tid in ids if tid in items]


@functools.lru_cache(maxsize=512)
def _terms_of(stored: str | None) -> tuple[str, ...]:
    """A row's stored terms, read once per distinct value (most mentions name the same few terms)."""
    return tuple(stored_terms(stored))


def staff_test(config: Config) -> Callable[[str | None], bool]:
    """Whether an author is staff (today's `staff.authors`), remembered per name for one listing."""
    authors = staff_set(config.staff_authors)
    return functools.lru_cache(maxsize=8192)(lambda author: is_staff(author, authors))


def _best_replies(db: sqlite_utils.Database, config: Config, ids: list[str], now: dt.datetime, *,
                  context: TriageContext, limit: int) -> list[ThreadSummary]:
    """The first `limit` threads of the reply queue, summarising only as many threads as that takes.

    Each thread's best possible rank (`triage.rank_bound`, from a few numbers the store counts) orders
    them; threads are summarised in that order, and the search stops once the next bound cannot beat
    the last of the `limit` kept. The result is the same as summarising every thread and cutting.
    """
    window_start = now - config.triage.reply_window
    rows = store.reply_candidates(db, ids, window_start=window_start, since=min(window_start, now - DAY),
                                  negative=config.negative)
    bounds = sorted((rank_bound(outlook, now=now, context=context), outlook.thread_id)
                    for outlook in _outlooks(rows, now))
    kept: list[ThreadSummary] = []
    batch = max(2 * limit, 100)
    for start in range(0, len(bounds), batch):
        if len(kept) >= limit and rank_key(kept[limit - 1]) < bounds[start][0]:
            break
        chunk = [thread_id for _, thread_id in bounds[start:start + batch]]
        found = [s for s in _summaries(db, config, chunk, now, context=context) if "reply" in s.queues]
        kept = rank([*kept, *found])[:limit]
    return kept


def _outlooks(rows: list[tuple], now: dt.datetime) -> list[ReplyOutlook]:
    """store.reply_candidates' rows, thread by thread, as triage's ReplyOutlook."""
    grouped: dict[str, list[tuple]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    outlooks = []
    day_ago = now - DAY
    for thread_id, thread_rows in grouped.items():
        moments = [(stored_moment(row[1]), row) for row in thread_rows]
        waiting = [(at, row) for at, row in moments if row[2]]
        if not waiting:
            continue
        outlooks.append(ReplyOutlook(
            thread_id=thread_id, last_activity=max(at for at, _ in moments), oldest=min(at for at, _ in waiting),
            negativities=tuple(negativity(row[3], bool(row[4]), row[5]) for _, row in waiting),
            recent=sum(1 for at, _ in moments if day_ago <= at <= now),
            complaint=any(row[6] for _, row in waiting), marked=any(row[7] for _, row in waiting)))
    return outlooks


@dataclass(frozen=True)
class ThreadDetail:
    summary: ThreadSummary
    conversation: list[dict]
    acks: list[dict]
    team: dict | None = None  # owner, snoozed_until, muted, by, updated_at
    marks: dict[int, list[str]] = field(default_factory=dict)  # item id -> a person's marks, in words


def thread_detail(db: sqlite_utils.Database, config: Config, thread_id: str, *,
                  now: dt.datetime | None = None) -> ThreadDetail:
    """One thread in full (`listener thread`): its summary, the team's actions and the conversation.

    `thread_id` may be a unique prefix of at least 4 characters; unknown -> NotFoundError.
    """
    now = now or store.utcnow()
    thread_id = store.resolve_thread(db, thread_id)
    rows = store.thread_items(db, [thread_id], text_chars=None).get(thread_id, [])
    acks = store.thread_acks(db, [thread_id]).get(thread_id, [])
    team = store.team_states(db, [thread_id]).get(thread_id)
    marks = store.item_marks(db, [row["id"] for row in rows])
    summary, items = _summarize(config, thread_id, rows, store.thread_info(db, [thread_id]).get(thread_id),
                                acks, now, context=triage_context(db, config, now), team=team, marks=marks)
    records = [_ack(a) for a in acks]
    talk = conversation(items, records, summary, negative=config.negative, positive=config.positive)
    for row in talk:
        row["marked"] = [mark_words(f, m) for f, m in marks.get(row["id"], {}).items()] if row["id"] else []
    return ThreadDetail(summary, talk, acks, team, {i.id: list(i.marked) for i in items if i.marked})


def ack_thread(db: sqlite_utils.Database, thread_id: str, *, by: str | None, note: str | None = None,
               now: dt.datetime | None = None) -> dict:
    """Mark a thread handled (`listener ack`); a comment that arrives later reopens it.

    A thread already acked, with nothing stored since, is not acked twice: the answer has
    `already` set and is the ack that holds.
    """
    thread_id = store.resolve_thread(db, thread_id)
    acks = store.thread_acks(db, [thread_id]).get(thread_id, [])
    rows = store.thread_items(db, [thread_id], text_chars=0).get(thread_id, [])
    newest = max((row["id"] for row in rows), default=0)
    if acks and (acks[-1].get("last_item_id") or 0) >= newest:
        return {**acks[-1], "thread_id": thread_id, "already": True}
    return {**store.add_ack(db, thread_id, by=by, note=note, now=now), "already": False}


def set_team(db: sqlite_utils.Database, thread_id: str, *, by: str | None, now: dt.datetime | None = None,
             **changes: object) -> dict:
    """`listener assign`, `snooze`, `mute`: change the team's state of a thread; returns before and after."""
    return store.set_team(db, thread_id, by=by, now=now, **changes)


def mark_item(db: sqlite_utils.Database, item_id: int, field: str, value: str, *, by: str | None,
              now: dt.datetime | None = None) -> dict:
    """`listener mark`: a person's correction of one item, which wins over the scorer everywhere."""
    return store.add_mark(db, item_id, field, value, by=by, now=now)
