"""Which queues a thread's open items put it in (reply, moderate, thank), why, and whether it is overdue.

An item is open when it is not staff's, falls inside the reply window, and no staff item was
published after it and no ack made after it arrived. Team actions (snooze, mute) take a thread out
of every queue; a snooze ends when its time passes or a new item arrives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from listener.models import BusinessHours, TextCues
from listener.text import human_duration
from listener.times import business_seconds
from listener.triage import cues
from listener.triage.items import ThreadItem, fold_name, is_negative, is_positive

QUEUES = ("reply", "moderate", "thank")
REPLY_WINDOW = dt.timedelta(days=14)
STRONGLY_POSITIVE = 0.5  # VADER's compound a positive item needs to be worth thanking


@dataclass(frozen=True)
class TriageContext:
    """What a thread's queues depend on beyond its own items (the config, and the other threads)."""

    reply_window: dt.timedelta = REPLY_WINDOW
    sla: dt.timedelta | None = None  # first_reply_within; None: no SLA, never overdue
    hours: BusinessHours | None = None  # None: every hour counts toward the SLA
    staff_names: tuple[str, ...] = ()  # a text naming one of ours is addressed to us
    repeated: frozenset[str] = frozenset()  # spam keys of texts posted in several threads
    critics: Mapping[str, int] = field(default_factory=dict)  # folded author -> negative items this week


@dataclass(frozen=True)
class TeamState:
    """What the team did to a thread besides acks: `listener assign`, `snooze`, `mute`."""

    owner: str | None = None
    snoozed_until: dt.datetime | None = None
    snoozed_covers: float = 0  # the newest item id stored when it was snoozed: a newer one ends the snooze
    muted: bool = False


@dataclass(frozen=True)
class Queued:
    queues: tuple[str, ...]
    reasons: tuple[str, ...]
    reply_items: tuple[ThreadItem, ...]  # oldest first: what waits for our reply
    overdue: bool
    snoozed: bool
    complaint: bool  # a complaint or negative item waits (ranks above questions)


def _who(item: ThreadItem) -> str:
    return item.author or "someone"


def _addressed(item: ThreadItem, staff_post: bool, names: Sequence[str]) -> bool:
    """To us: names a watched term or handle or one of our staff, or comments on a post of ours."""
    if item.hit or staff_post:
        return True
    text = f"{item.title} {item.text}".casefold()
    return any(name and name.casefold() in text for name in names)


def cues_of(item: ThreadItem) -> TextCues:
    """The item's cues as stored with it, or read now (items stored before cues were): a thread's
    root is read with its title ("How do I export?" is often all of the question)."""
    stored = item.root_cues if item.root else item.cues
    if stored is not None:
        return stored
    return cues.read_cues(f"{item.title}. {item.text}" if item.root else (item.text or item.title))


def _spam(item: ThreadItem, repeated: frozenset[str]) -> str | None:
    read = item.cues or cues.read_cues(item.text or item.title)
    if read.links >= cues.LINK_STUFFED:
        return f"spam: {read.links} links ({_who(item)})"
    if read.spam_key and read.spam_key in repeated:
        return f"spam: the same text in several threads ({_who(item)})"
    return None


def snoozed_now(team: TeamState, items: Sequence[ThreadItem], now: dt.datetime) -> bool:
    if team.snoozed_until is None or team.snoozed_until <= now:
        return False
    return not any(i.id > team.snoozed_covers for i in items)


def waited(start: dt.datetime, now: dt.datetime, hours: BusinessHours | None, *, past: float | None = None) -> float:
    """Seconds an item has waited for the SLA: business time when the team keeps business hours.
    `past`: only whether it waited longer than that matters (see times.business_seconds)."""
    if hours is None:
        return max(0.0, (now - start).total_seconds())
    return business_seconds(start, now, days=hours.days, opens=hours.opens, closes=hours.closes,
                            timezone=hours.timezone, past=past)


def queue_thread(ordered: Sequence[ThreadItem], open_items: Sequence[ThreadItem], *, negative: float,
                 positive: float, now: dt.datetime, context: TriageContext, team: TeamState,
                 defended_by: str | None) -> Queued:
    """Sort a thread's open items into the three queues, each with its reasons."""
    staff_post = any(i.root and i.staff for i in ordered)
    reasons: dict[str, list[str]] = {q: [] for q in QUEUES}
    reply: list[ThreadItem] = []
    complaint = False
    for item in open_items:
        text = f"{item.title}. {item.text}" if item.root else (item.text or item.title)
        spam = _spam(item, context.repeated)
        if spam:
            reasons["moderate"].append(spam)
            continue
        read = cues_of(item)
        abuse = item.abuse if item.abuse is not None else read.abuse
        if abuse and (_names_member(ordered, item, text)
                      or not _addressed(item, staff_post, context.staff_names) and _others_before(ordered, item)):
            reasons["moderate"].append(f"abuse between members by {_who(item)}")
            continue
        if abuse:
            reasons["reply"].append(f"abuse aimed at us by {_who(item)}")
        elif is_negative(item, negative):
            complaint = True
            reasons["reply"].append(f"{'complaint' if item.complaint else 'negative'} by {_who(item)}")
        elif read.asks and _addressed(item, staff_post, context.staff_names):
            reasons["reply"].append(f"question by {_who(item)}")
        elif is_positive(item, positive) and (item.compound or 0.0) >= STRONGLY_POSITIVE:
            reasons["thank"].append(f"fan: {_who(item)} ({item.compound:+.2f})")
            continue
        else:
            continue
        complaint = complaint or abuse
        reply.append(item)
        count = context.critics.get(fold_name(item.author or ""), 0)
        if count and f"frequent critic: {_who(item)}" not in reasons["reply"]:
            reasons["reply"].append(f"frequent critic: {_who(item)} ({count} negative items in a week)")
    if defended_by:
        reasons["thank"].append(f"defended us: {defended_by}")
    overdue = False
    if reply and context.sla is not None:
        seconds = waited(reply[0].published, now, context.hours)
        overdue = seconds > context.sla.total_seconds()
        if overdue:
            kind = "business time" if context.hours else "time"
            reasons["reply"].insert(0, f"overdue: waited {human_duration(seconds)} of {kind}"
                                       f" (first reply within {human_duration(context.sla.total_seconds())})")
    for item in open_items:
        for mark in item.marked:
            reasons["reply" if item in reply else "moderate"].append(f"marked {mark} (a person)")
    queues = tuple(q for q in QUEUES if any(not r.startswith("marked ") for r in reasons[q]))
    flat = tuple(dict.fromkeys(r for q in QUEUES for r in reasons[q]))
    snoozed = snoozed_now(team, ordered, now)
    if team.muted or snoozed:
        note = "muted" if team.muted else f"snoozed until {team.snoozed_until:%Y-%m-%d %H:%M} UTC"
        return Queued((), (note, *flat), tuple(reply), False, snoozed, complaint)
    return Queued(queues, flat, tuple(reply), overdue, False, complaint)


def _others_before(ordered: Sequence[ThreadItem], item: ThreadItem) -> bool:
    """Another member spoke before this item: the abuse has someone of theirs to land on."""
    me = fold_name(item.author or "")
    return any(not i.staff and i.published <= item.published and i.id != item.id
               and fold_name(i.author or "") != me for i in ordered)


def _names_member(ordered: Sequence[ThreadItem], item: ThreadItem, text: str) -> bool:
    """The text names another member of the thread (first name or @handle): that is whom it is aimed at."""
    me = fold_name(item.author or "")
    words = {w.strip("@.,:;!?'\"()").casefold() for w in text.split()}
    for other in ordered:
        name = fold_name(other.author or "")
        if other.staff or not name or name == me or other.published > item.published:
            continue
        first = name.split()[0]
        if len(first) >= 3 and first in words or name.replace(" ", "") in words:
            return True
    return False
