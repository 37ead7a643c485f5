"""One item of a thread as triage sees it, who is staff, and how an item reads (negative, positive)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from listener.models import TextCues

_ANGLE_EMAIL = re.compile(r"^(?P<name>[^<]*)<[^>]*>\s*$")  # Dana Reyes <dana@acme.example>
_PAREN_NAME = re.compile(r"^\S+@\S+\s*\((?P<name>[^)]*)\)\s*$")  # dana@acme.example (Dana Reyes)


def staff_set(authors: Sequence[str]) -> frozenset[str]:
    return frozenset(fold_name(a) for a in authors if a and a.strip())


def is_staff(author: str | None, staff_authors: frozenset[str]) -> bool:
    """Whether `author` is one of ours: case-insensitive and trimmed, the name part of an email form too."""
    if not author or not staff_authors:
        return False
    if fold_name(author) in staff_authors:
        return True
    for pattern in (_ANGLE_EMAIL, _PAREN_NAME):
        match = pattern.match(author.strip())
        if match and fold_name(match.group("name").strip().strip('"')) in staff_authors:
            return True
    return False


def fold_name(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class ThreadItem:
    """One item of a thread, as triage needs it. `arrived` is when we first saw it (acks compare with it).

    `sentiment`, `complaint` and `abuse` already carry a person's marks (`listener mark`), which win over
    the scorer; `marked` says which, for `why`.
    """

    id: int
    published: dt.datetime
    author: str | None = None
    staff: bool = False
    compound: float | None = None  # VADER's; None: not scored
    sentiment: str | None = None  # the verdict; None: judged before verdicts existed (compound decides)
    complaint: bool = False
    title: str = ""
    text: str = ""
    url: str | None = None
    arrived: dt.datetime | None = None  # None: the same as published
    thread_id: str | None = None
    feed: str | None = None
    root: bool = False  # the thread's post itself: by staff, it is no reply
    hit: bool = False  # mentions a watched term or handle: addressed to us
    abuse: bool | None = None  # a person's mark; None: the word list decides
    marked: tuple[str, ...] = ()  # e.g. "negative by dana": a person's corrections of this item
    cues: TextCues | None = None  # read in `text or title` when stored; None: read now
    root_cues: TextCues | None = None  # read in "title. text", for a thread's root; None: read now

    @property
    def arrival(self) -> dt.datetime:
        return self.arrived or self.published


def is_negative(item: ThreadItem, negative: float) -> bool:
    """A complaint or a negative verdict; VADER's compound against the threshold for older items."""
    if item.sentiment is not None:
        return item.complaint or item.sentiment == "negative"
    return item.compound is not None and item.compound <= negative


def is_positive(item: ThreadItem, positive: float) -> bool:
    if item.sentiment is not None:
        return item.sentiment == "positive" and not item.complaint
    return item.compound is not None and item.compound >= positive


def mood_of(item: ThreadItem, negative: float, positive: float) -> str | None:
    """negative, neutral, positive or unknown, as a person reads it beside the item; None: not scored."""
    if item.compound is None and item.sentiment is None:
        return None
    if is_negative(item, negative):
        return "negative"
    if is_positive(item, positive):
        return "positive"
    return "unknown" if item.sentiment == "unknown" else "neutral"
