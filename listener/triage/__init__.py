"""Which threads need a reply, how urgently, and the conversation a person reads before replying.

Pure (no database, no I/O): `summarize_thread` reads one thread's items and acks and says whether
it needs a reply, how urgently (`priority`, with its parts in `why`), and what to quote.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from listener.text import canonical_url, human_duration, strip_reply_prefix
from listener.times import iso
from listener.triage.cues import read_cues
from listener.triage.items import ThreadItem, fold_name, is_negative, is_positive, is_staff, mood_of, staff_set
from listener.triage.queues import QUEUES, REPLY_WINDOW, TeamState, TriageContext, queue_thread, waited

__all__ = ["QUEUES", "REPLY_WINDOW", "Ack", "ReplyOutlook", "TeamState", "ThreadItem", "ThreadSummary", "TriageContext",
           "conversation", "is_negative", "is_positive", "is_staff", "mood_of", "negativity", "rank", "rank_bound",
           "rank_key", "read_cues", "staff_set",
           "summarize_thread"]

# --- priority -----------------------------------------------------------------------------------

WEIGHTS = {"how_negative": 40.0, "how_many": 20.0, "how_fast": 20.0, "how_long": 20.0}
FAST_HALF = 5  # items in the last 24 h that give half of how_fast's points
LONG_HALF_HOURS = 12.0  # hours of waiting that give half of how_long's points
HEATING_MIN_ITEMS = 4  # scored non-staff items a thread needs before it can be "heating up"
HEATING_DROP = 0.3  # how much lower the later half's mean compound must be
HEATING_RECENT = dt.timedelta(hours=48)  # the newest of them must be this recent
TEXT_CHARS = 500


@dataclass(frozen=True)
class ThreadSummary:
    """A thread as triage sees it. `priority` is the sum of `why`'s parts; 0 when no reply is needed."""

    id: str
    title: str | None
    url: str | None
    feed: str | None
    items: int
    negative_items: int
    last_activity: dt.datetime | None
    oldest_unanswered_negative: dt.datetime | None
    staff_replied: bool
    needs_reply: bool
    priority: float
    status: str  # needs_reply | answered | acked | quiet
    why: dict[str, float]
    heating_up: bool
    defended: bool
    waiting_seconds: float | None
    unanswered: dict[str, Any] | None
    acked_at: dt.datetime | None = None
    terms: tuple[str, ...] = field(default=())
    queues: tuple[str, ...] = ()  # reply, moderate, thank: in that order
    reasons: tuple[str, ...] = ()
    overdue: bool = False  # waited past triage.first_reply_within (business time)
    owner: str | None = None
    snoozed_until: dt.datetime | None = None
    muted: bool = False
    complaint: bool = False  # a complaint or negative item waits: ranks above questions
    reply_ids: tuple[int, ...] = ()  # the items that wait for our reply

    def as_json(self) -> dict[str, Any]:
        """The SPEC's `threads --format json` object: ISO 8601 UTC times, plain types only."""
        unanswered = dict(self.unanswered) if self.unanswered else None
        if unanswered:
            unanswered["published"] = iso(unanswered["published"])
        return {
            "id": self.id, "title": self.title, "url": self.url, "feed": self.feed,
            "items": self.items, "negative_items": self.negative_items,
            "last_activity": iso(self.last_activity),
            "oldest_unanswered_negative": iso(self.oldest_unanswered_negative),
            "staff_replied": self.staff_replied, "needs_reply": self.needs_reply,
            "priority": self.priority, "status": self.status, "why": dict(self.why),
            "heating_up": self.heating_up, "defended": self.defended,
            "waiting": human_duration(self.waiting_seconds), "waiting_seconds": self.waiting_seconds,
            "unanswered": unanswered, "acked_at": iso(self.acked_at), "terms": list(self.terms),
            "queues": list(self.queues), "reasons": list(self.reasons), "overdue": self.overdue,
            "owner": self.owner, "snoozed_until": iso(self.snoozed_until), "muted": self.muted,
        }



def summarize_thread(items: Sequence[ThreadItem], acks: Sequence[dt.datetime | AckMark], *, negative: float,
                     now: dt.datetime, positive: float = 0.05, thread_id: str | None = None,
                     title: str | None = None, url: str | None = None, feed: str | None = None,
                     terms: Sequence[str] = (), context: TriageContext | None = None,
                     team: TeamState | None = None) -> ThreadSummary:
    """Triage one thread: its queues (see triage.queues), reasons, priority and SLA.

    Needs reply: the thread is in the `reply` queue. An item is open when someone who is not staff
    wrote it inside the reply window, with no staff item published after it and no ack made after it
    arrived. A staff item answers everything published before it; an ack covers everything that had
    arrived when it was made, so a comment that arrives later reopens the thread.
    """
    context = context or TriageContext()
    team = team or TeamState()
    ordered = sorted(items, key=lambda i: (i.published, i.id))
    staff_times = [i.published for i in ordered if i.staff]
    last_staff = max(staff_times) if staff_times else None
    staff_replied = any(i.staff and not i.root for i in ordered)
    last_ack = _last_ack(acks)
    negatives = [i for i in ordered if not i.staff and is_negative(i, negative)]
    open_items = [i for i in ordered if not i.staff and now - i.published <= context.reply_window
                  and (last_staff is None or last_staff <= i.published) and _after_ack(i, last_ack)]
    complaint = next((i for i in open_items if is_negative(i, negative)), None)
    defended_by = _defended(ordered, complaint, positive) if complaint else None
    queued = queue_thread(ordered, open_items, negative=negative, positive=positive, now=now, context=context,
                          team=team, defended_by=defended_by)
    needs_reply = "reply" in queued.queues
    waiting_items = queued.reply_items if needs_reply else ()
    unanswered = [i for i in waiting_items if is_negative(i, negative)]
    oldest = waiting_items[0] if waiting_items else None
    waiting = max(0.0, (now - oldest.published).total_seconds()) if oldest else None
    why = (_priority_parts(ordered, unanswered, waiting, now, len(waiting_items)) if needs_reply
           else dict.fromkeys(WEIGHTS, 0.0))
    first = ordered[0] if ordered else None
    return ThreadSummary(
        id=thread_id or (first.thread_id if first and first.thread_id else ""),
        title=title or (strip_reply_prefix(first.title) if first and first.title else None),
        url=url or (canonical_url(first.url) if first and first.url else None),
        feed=feed or (first.feed if first else None),
        items=len(ordered),
        negative_items=len(negatives),
        last_activity=ordered[-1].published if ordered else None,
        oldest_unanswered_negative=oldest.published if oldest else None,
        staff_replied=staff_replied,
        needs_reply=needs_reply,
        priority=round(sum(why.values()), 1),
        status="muted" if team.muted else "snoozed" if queued.snoozed else _status(negatives, needs_reply, last_staff),
        why=why,
        heating_up=heating_up(ordered, negative=negative, now=now),
        defended=defended_by is not None,
        waiting_seconds=round(waiting) if waiting is not None else None,
        unanswered=_quote(oldest) if oldest else None,
        acked_at=last_ack[0] if last_ack else None,
        terms=tuple(terms),
        queues=queued.queues, reasons=queued.reasons, overdue=queued.overdue, owner=team.owner,
        snoozed_until=team.snoozed_until if queued.snoozed else None, muted=team.muted,
        complaint=queued.complaint and needs_reply, reply_ids=tuple(i.id for i in waiting_items),
    )


def _priority_parts(ordered: Sequence[ThreadItem], unanswered: Sequence[ThreadItem], waiting: float | None,
                    now: dt.datetime, waiting_count: int) -> dict[str, float]:
    """The four parts of a reply priority, each from 0 to its weight (see WEIGHTS and the README)."""
    recent = sum(1 for i in ordered if now - dt.timedelta(hours=24) <= i.published <= now)
    return priority_parts([_negativity(i) for i in unanswered], waiting_count, recent, waiting)


def priority_parts(negativities: Sequence[float], waiting_count: int, recent: int,
                   waiting: float | None) -> dict[str, float]:
    """The parts from plain numbers: how negative each waiting item reads (0-1), how many wait, how many
    items came in the last 24 h, and seconds waited. Each part grows with each number (`rank_bound`)."""
    # A saturating sum: each further negative item closes part of what is left of the gap to 1.
    calm = math.prod(1 - min(1.0, n) for n in negativities)
    hours = (waiting or 0.0) / 3600
    parts = {
        "how_negative": WEIGHTS["how_negative"] * (1 - calm),
        "how_many": WEIGHTS["how_many"] * (1 - 0.5 ** waiting_count),
        "how_fast": WEIGHTS["how_fast"] * recent / (recent + FAST_HALF),
        "how_long": WEIGHTS["how_long"] * (1 - math.pow(0.5, hours / LONG_HALF_HOURS)),
    }
    return {name: round(value, 1) for name, value in parts.items()}


def _negativity(item: ThreadItem) -> float:
    return negativity(item.compound, item.complaint, item.sentiment)


def negativity(compound: float | None, complaint: bool, sentiment: str | None) -> float:
    """How negative an unanswered item reads, 0-1: VADER's compound, or at least 0.5 for a complaint the
    verdict heard under polite words ("please help, 3 weeks and no reply" scores positive on VADER)."""
    vader = max(0.0, -(compound or 0.0))
    return max(vader, 0.5) if complaint or sentiment == "negative" else vader


def _status(negatives: Sequence[ThreadItem], needs_reply: bool, last_staff: dt.datetime | None) -> str:
    if needs_reply:
        return "needs_reply"
    if not negatives:
        return "quiet"
    # Every negative item is covered: by a staff reply after the latest one, or else by an ack.
    if last_staff is not None and last_staff > negatives[-1].published:
        return "answered"
    return "acked"


def heating_up(ordered: Sequence[ThreadItem], *, negative: float, now: dt.datetime) -> bool:
    """Recent comments clearly more negative than earlier ones.

    Over the thread's scored items by non-staff, in time order (at least HEATING_MIN_ITEMS): the
    later half's mean compound is at most `negative` and at least HEATING_DROP below the earlier
    half's, and the newest of them is less than HEATING_RECENT old.
    """
    scored = [i for i in ordered if not i.staff and i.compound is not None and i.sentiment != "unknown"]
    if len(scored) < HEATING_MIN_ITEMS or now - scored[-1].published > HEATING_RECENT:
        return False
    compounds = [i.compound or 0.0 for i in scored]
    half = len(compounds) // 2
    earlier = sum(compounds[:half]) / half
    later = sum(compounds[half:]) / (len(compounds) - half)
    return later <= negative and later <= earlier - HEATING_DROP


def _defended(ordered: Sequence[ThreadItem], complaint: ThreadItem, positive: float) -> str | None:
    """A fan answered: who wrote a positive item after the complaint (not staff, not the complainer)."""
    complainer = fold_name(complaint.author or "")
    return next((i.author or "someone" for i in ordered
                 if not i.staff and is_positive(i, positive) and i.published > complaint.published
                 and (not complainer or fold_name(i.author or "") != complainer)), None)


def _quote(item: ThreadItem) -> dict[str, Any]:
    text = " ".join((item.text or item.title or "").split())
    if len(text) > TEXT_CHARS:
        text = text[: TEXT_CHARS - 1].rstrip() + "…"
    return {"id": item.id, "author": item.author, "url": item.url, "published": item.published,
            "compound": item.compound, "text": text}


def rank(summaries: Sequence[ThreadSummary]) -> list[ThreadSummary]:
    """Threads that need a reply first: overdue ones, then complaints above questions, then by priority;
    the rest after, most recently active first."""
    return sorted(summaries, key=rank_key)


def rank_key(s: ThreadSummary) -> tuple:
    return _key(s.needs_reply, s.overdue, s.complaint, s.priority, s.last_activity, s.id)


def _key(needs_reply: bool, overdue: bool, complaint: bool, priority: float, last: dt.datetime | None,
         thread_id: str) -> tuple:
    return (not needs_reply, not overdue, not complaint, -priority, -(last.timestamp() if last else 0.0), thread_id)


@dataclass(frozen=True)
class ReplyOutlook:
    """What a thread's items could at most make of its place in the reply queue, from a few numbers the
    store counts without reading the thread (see `rank_bound`)."""

    thread_id: str
    last_activity: dt.datetime
    oldest: dt.datetime  # the oldest item that could wait for our reply
    negativities: tuple[float, ...]  # of every item that could wait
    recent: int  # items in the 24 h before now (all of them, as how_fast counts)
    complaint: bool  # one of them reads negative or abusive
    marked: bool  # a person marked one: anything may follow


def rank_bound(outlook: ReplyOutlook, *, now: dt.datetime, context: TriageContext) -> tuple:
    """A rank key no worse than the thread's real one in the reply queue (`rank_key`).

    Every item that could wait counts as waiting: the wait starts at the oldest of them, every one adds to
    how many and how negative; each part of the priority only grows with those, and overdue only with the
    wait, so the real key can only be the same or later. `thread_summaries` ranks by it and summarises
    threads best-first until the next bound cannot beat the last thread it keeps.
    """
    if outlook.marked:
        return _key(True, True, True, sum(WEIGHTS.values()), outlook.last_activity, outlook.thread_id)
    waiting = max(0.0, (now - outlook.oldest).total_seconds())
    sla = context.sla.total_seconds() if context.sla is not None else None
    overdue = sla is not None and waited(outlook.oldest, now, context.hours, past=sla) > sla
    parts = priority_parts(outlook.negativities, len(outlook.negativities), outlook.recent, waiting)
    return _key(True, overdue, outlook.complaint, round(sum(parts.values()), 1), outlook.last_activity,
                outlook.thread_id)


# --- the conversation, for `listener thread` ---------------------------------------------------


@dataclass(frozen=True)
class Ack:
    at: dt.datetime
    by: str | None = None
    note: str | None = None
    covers: float = math.inf  # the newest item id stored when the ack was made

    @property
    def mark(self) -> AckMark:
        return (self.at, self.covers)


AckMark = tuple[dt.datetime, float]


def _last_ack(acks: Sequence[dt.datetime | AckMark]) -> AckMark | None:
    """The newest ack as (time, newest item id it covers); a bare time covers all that arrived by then."""
    marks = [a if isinstance(a, tuple) else (a, math.inf) for a in acks]
    return max(marks) if marks else None


def _after_ack(item: ThreadItem, last_ack: AckMark | None) -> bool:
    """Arrived after the ack. Item ids break ties within the second timestamps are stored to."""
    return last_ack is None or last_ack < (item.arrival, item.id)


def conversation(items: Sequence[ThreadItem], acks: Sequence[Ack], summary: ThreadSummary, *,
                 negative: float, positive: float) -> list[dict[str, Any]]:
    """The thread in time order, acks included: what a person reads before replying.

    Each row: at, kind (item or ack), author, staff, compound, mood (negative, neutral, positive),
    title, text, url, `root` on the thread's post, and `unanswered` on the items that still wait
    for a reply.
    """
    waiting = set(summary.reply_ids)
    rows: list[tuple[tuple, dict[str, Any]]] = []
    for item in items:
        mood = mood_of(item, negative, positive)
        rows.append(((item.published, item.id, 0), {
            "at": item.published, "kind": "item", "id": item.id, "author": item.author, "staff": item.staff,
            "compound": item.compound, "mood": mood, "title": item.title, "text": item.text, "url": item.url,
            "unanswered": item.id in waiting, "root": item.root,
        }))
    for number, ack in enumerate(acks):
        # Within one second, an ack sits after the items it covers and before those stored after it.
        rows.append(((ack.at, ack.covers + 0.5, number), {
            "at": ack.at, "kind": "ack", "id": None, "author": ack.by, "staff": True, "compound": None,
            "mood": None, "title": "acked" + (f": {ack.note}" if ack.note else ""), "text": ack.note or "",
            "url": None, "unanswered": False, "root": False,
        }))
    return [row for _, row in sorted(rows, key=lambda pair: pair[0])]
