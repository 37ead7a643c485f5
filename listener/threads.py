"""Which thread an item belongs to, who answered it, and which threads need a reply first.

Two halves, both pure (no database, no I/O):

* grouping: `canonical_url`, `thread_id_for` and `assign_threads` decide an item's thread while
  a feed is stored; `ThreadIndex` is how the caller lets them look up what is already stored;
* triage: `summarize_thread` reads one thread's items and acks and says whether it needs a reply,
  how urgently (`priority`, with its parts in `why`), and what a person reads before replying.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from listener.models import Item
from listener.times import iso

# --- canonical URLs and thread ids ------------------------------------------------------------

# Query parameters that name the visitor, campaign or comment rather than the page. Compared
# lower-cased; every utm_* parameter is dropped as well.
_TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi",
    "mkt_tok", "ref", "ref_src", "replytocom",  # WordPress "reply to comment" links
    "showcomment",  # Blogger comment permalinks: post.html?showComment=1260320342544#c47886…
    "cpage",  # WordPress paged comments: the same post
}


def canonical_url(url: str) -> str:
    """One spelling per page: scheme and host lower-cased, default port, fragment and tracking parameters dropped.

    >>> canonical_url("HTTPS://Blog.Example.com:443/post/?utm_source=x&b=2&a=1#comment-3")
    'https://blog.example.com/post/?a=1&b=2'
    """
    parts = urlsplit(url.strip())
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the URL's own spelling of it
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if port and port != default:
        host = f"{host}:{port}"
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


def thread_id_for(root: str) -> str:
    """A short stable id for a thread root (a canonical URL or a feed-scoped key).

    http and https spell the same page, so they give the same id.
    """
    if root.startswith("http://"):
        root = "https://" + root[len("http://"):]
    return "t" + hashlib.sha1(root.encode("utf-8")).hexdigest()[:10]


# --- staff ------------------------------------------------------------------------------------

_ANGLE_EMAIL = re.compile(r"^(?P<name>[^<]*)<[^>]*>\s*$")  # Dana Reyes <dana@acme.example>
_PAREN_NAME = re.compile(r"^\S+@\S+\s*\((?P<name>[^)]*)\)\s*$")  # dana@acme.example (Dana Reyes)


def staff_set(authors: Sequence[str]) -> frozenset[str]:
    return frozenset(_fold_name(a) for a in authors if a and a.strip())


def is_staff(author: str | None, staff_authors: frozenset[str]) -> bool:
    """Whether `author` is one of ours: case-insensitive and trimmed, the name part of an email form too."""
    if not author or not staff_authors:
        return False
    if _fold_name(author) in staff_authors:
        return True
    for pattern in (_ANGLE_EMAIL, _PAREN_NAME):
        match = pattern.match(author.strip())
        if match and _fold_name(match.group("name").strip().strip('"')) in staff_authors:
            return True
    return False


def _fold_name(name: str) -> str:
    return " ".join(name.split()).casefold()


# --- grouping ---------------------------------------------------------------------------------

# "Re:", "RE[2]:", "Aw:", "Sv:", "Antw:" ... the reply prefixes mail and forum software put on subjects.
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|vs|antw|odp)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+", re.IGNORECASE)


def reply_subject(title: str | None) -> str | None:
    """The subject a "Re: ..." title answers, folded for comparison; None when the title is no reply.

    >>> reply_subject("RE: Re:  New  maintainer")
    'new maintainer'
    """
    if not title or not _REPLY_PREFIX.match(title):
        return None
    return subject_key(title) or None


def subject_key(title: str) -> str:
    """A title without reply prefixes, case and runs of whitespace: what mail threading compares."""
    return " ".join(_REPLY_PREFIX.sub("", title).split()).casefold()


def strip_reply_prefix(title: str) -> str:
    return _REPLY_PREFIX.sub("", title).strip()


def is_reply(item: Item) -> bool:
    """Whether an item is (most likely) a comment or reply rather than a post: worth scoring even when it
    does not mention a watch term, since it can make a thread about us need a reply."""
    return bool(item.in_reply_to or item.in_reply_to_url or (item.url and "#" in item.url)
                or reply_subject(item.title))


class ThreadIndex:
    """What is already stored, for items whose parent is not in the batch. The default knows nothing.

    The poll cycle passes a database-backed subclass; every method returns a thread id or None.
    """

    def by_key(self, key: str) -> str | None:
        """The thread of a stored item whose key (guid) is `key`: Atom thr:in-reply-to ref."""
        return None

    def by_url(self, url: str) -> str | None:
        """The thread of a stored item whose link is `url`: Atom thr:in-reply-to href."""
        return None

    def by_subject(self, subject: str) -> str | None:
        """The thread of a stored item of this feed whose subject (see `subject_key`) is `subject`."""
        return None

    def exists(self, thread_id: str) -> bool:
        """Whether a thread with this id is stored."""
        return False


class _CallableIndex(ThreadIndex):
    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        self._lookup = lookup

    def by_key(self, key: str) -> str | None:
        return self._lookup(key)


@dataclass(frozen=True)
class ThreadRef:
    """Where one item sits: its thread, the thread's root, and whether the item is that root."""

    thread_id: str
    root: str
    is_root: bool


MAX_CHAIN = 50  # longest chain of replies followed to its root


def subject_root(scope: str, subject: str) -> str:
    """The root of a thread known only by its subject (a mailing list whose first message is gone)."""
    return f"{scope}:subject:{subject}"


def assign_threads(items: Sequence[Item], *, scope: str, comment_thread: ThreadRef | None = None,
                   index: ThreadIndex | None = None,
                   lookup: Callable[[str], str | None] | None = None) -> dict[str, ThreadRef]:
    """Map each item's key to its thread.

    In order, the first rule that applies wins:

    1. the items of a post's own comment feed join that post (`comment_thread`);
    2. Atom thr:in-reply-to: the parent's thread, following chains of replies to the root through
       this batch (by the parent's id, then its link), then what is stored (`index.by_key`,
       `index.by_url`), then the page the parent's link points at;
    3. a link into a page (`post/#comment-3`, Disqus and WordPress site-wide comment feeds) joins
       that page's thread;
    4. a "Re: subject" title (mailing lists, gmane, forums without threading markup) joins the
       item of this feed with that subject (in the batch, then `index.by_subject`), else the
       thread of that subject in this feed;
    5. anything else is the root of its own thread: its canonical link, or `scope` plus its key
       when it has no link (`scope` keeps keys of different feeds apart). A root whose subject
       already has a subject thread (its replies came first) joins it.

    `lookup(key)` is the older spelling of `index.by_key`.
    """
    if comment_thread is not None:
        return {item.key: ThreadRef(comment_thread.thread_id, comment_thread.root, False) for item in items}
    if index is None:
        index = _CallableIndex(lookup) if lookup is not None else ThreadIndex()
    return _Grouper(items, scope, index).run()


class _Grouper:
    def __init__(self, items: Sequence[Item], scope: str, index: ThreadIndex) -> None:
        self.items = items
        self.scope = scope
        self.index = index
        self.by_key = {item.key: item for item in items}
        self.by_url: dict[str, Item] = {}
        self.by_subject: dict[str, Item] = {}
        for item in items:
            if item.url:
                self.by_url.setdefault(canonical_url(item.url), item)
            # Only an item of its own (not a "Re:", not a #fragment into a page) can be what a "Re:" answers.
            if item.title and not reply_subject(item.title) and not (item.url and "#" in item.url):
                self.by_subject.setdefault(subject_key(item.title), item)
        self.refs: dict[str, ThreadRef] = {}
        self.resolving: set[str] = set()
        self.subject_threads: set[str] = set()

    def run(self) -> dict[str, ThreadRef]:
        for item in self.items:
            self.resolve(item, 0)
        return self.refs

    def resolve(self, item: Item, depth: int) -> ThreadRef:
        if item.key in self.refs:
            return self.refs[item.key]
        self.resolving.add(item.key)
        try:
            ref = self._reply_ref(item, depth) or self._page_ref(item) or self._subject_ref(item) \
                or self._own_ref(item)
        finally:
            self.resolving.discard(item.key)
        self.refs[item.key] = ref
        return ref

    def _joined(self, thread_id: str, root: str | None = None) -> ThreadRef:
        return ThreadRef(thread_id, root or thread_id, False)

    def _reply_ref(self, item: Item, depth: int) -> ThreadRef | None:
        if not (item.in_reply_to or item.in_reply_to_url) or depth >= MAX_CHAIN:
            return None
        parent = self.by_key.get(item.in_reply_to) if item.in_reply_to else None
        if parent is None and item.in_reply_to_url:
            parent = self.by_url.get(canonical_url(item.in_reply_to_url))
        if parent is not None and parent.key != item.key and parent.key not in self.resolving:
            return self._joined(self.resolve(parent, depth + 1).thread_id, self.refs[parent.key].root)
        known = (self.index.by_key(item.in_reply_to) if item.in_reply_to else None) or (
            self.index.by_url(item.in_reply_to_url) if item.in_reply_to_url else None)
        if known is not None:
            return self._joined(known)
        if item.in_reply_to_url:
            root = canonical_url(item.in_reply_to_url)
            return ThreadRef(thread_id_for(root), root, False)
        return None

    def _page_ref(self, item: Item) -> ThreadRef | None:
        if not item.url or "#" not in item.url:
            return None
        root = canonical_url(item.url)
        return ThreadRef(thread_id_for(root), root, False)

    def _subject_ref(self, item: Item) -> ThreadRef | None:
        subject = reply_subject(item.title)
        if subject is None:
            return None
        original = self.by_subject.get(subject)
        if original is not None and original.key != item.key and original.key not in self.resolving:
            return self._joined(self.resolve(original, 0).thread_id, self.refs[original.key].root)
        known = self.index.by_subject(subject)
        if known is not None:
            return self._joined(known)
        root = subject_root(self.scope, subject)
        self.subject_threads.add(thread_id_for(root))
        return ThreadRef(thread_id_for(root), root, False)

    def _own_ref(self, item: Item) -> ThreadRef:
        if item.title and subject_key(item.title):
            # Replies that arrived before their original made a subject thread: the original joins it.
            root = subject_root(self.scope, subject_key(item.title))
            if thread_id_for(root) in self.subject_threads or self.index.exists(thread_id_for(root)):
                return ThreadRef(thread_id_for(root), root, True)
        if item.url:
            root = canonical_url(item.url)
            return ThreadRef(thread_id_for(root), root, True)
        root = f"{self.scope}:{item.key}"
        return ThreadRef(thread_id_for(root), root, True)


# --- triage -----------------------------------------------------------------------------------

WEIGHTS = {"how_negative": 40.0, "how_many": 20.0, "how_fast": 20.0, "how_long": 20.0}
FAST_HALF = 5  # items in the last 24 h that give half of how_fast's points
LONG_HALF_HOURS = 12.0  # hours of waiting that give half of how_long's points
HEATING_MIN_ITEMS = 4  # scored non-staff items a thread needs before it can be "heating up"
HEATING_DROP = 0.3  # how much lower the later half's mean compound must be
HEATING_RECENT = dt.timedelta(hours=48)  # the newest of them must be this recent
TEXT_CHARS = 500


@dataclass(frozen=True)
class ThreadItem:
    """One item of a thread, as triage needs it. `arrived` is when we first saw it (acks compare with it)."""

    id: int
    published: dt.datetime
    author: str | None = None
    staff: bool = False
    compound: float | None = None  # None: not scored
    title: str = ""
    text: str = ""
    url: str | None = None
    arrived: dt.datetime | None = None  # None: the same as published
    thread_id: str | None = None
    feed: str | None = None
    root: bool = False  # the thread's post itself: by staff, it is no reply

    @property
    def arrival(self) -> dt.datetime:
        return self.arrived or self.published


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
        }


def human_duration(seconds: float | None) -> str | None:
    """3h 20m, 2d 4h, 45m, <1m."""
    if seconds is None:
        return None
    minutes = int(max(0, seconds) // 60)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m" if mins else "<1m"


def is_negative(item: ThreadItem, negative: float) -> bool:
    return item.compound is not None and item.compound <= negative


def summarize_thread(items: Sequence[ThreadItem], acks: Sequence[dt.datetime | AckMark], *, negative: float,
                     now: dt.datetime, positive: float = 0.05, thread_id: str | None = None,
                     title: str | None = None, url: str | None = None, feed: str | None = None,
                     terms: Sequence[str] = ()) -> ThreadSummary:
    """Triage one thread.

    Needs reply (SPEC): a negative item (compound <= `negative`) by someone who is not staff, with no
    staff item published after it and no ack made after it arrived. A staff item answers everything
    published before it; an ack covers everything that had arrived when it was made, so a negative
    comment that arrives later reopens the thread.
    """
    ordered = sorted(items, key=lambda i: (i.published, i.id))
    staff_times = [i.published for i in ordered if i.staff]
    last_staff = max(staff_times) if staff_times else None
    staff_replied = any(i.staff and not i.root for i in ordered)
    last_ack = _last_ack(acks)
    negatives = [i for i in ordered if not i.staff and is_negative(i, negative)]
    unanswered = [i for i in negatives
                  if (last_staff is None or last_staff <= i.published) and _after_ack(i, last_ack)]
    needs_reply = bool(unanswered)
    oldest = unanswered[0] if unanswered else None
    waiting = max(0.0, (now - oldest.published).total_seconds()) if oldest else None
    why = _priority_parts(ordered, unanswered, waiting, now) if needs_reply else dict.fromkeys(WEIGHTS, 0.0)
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
        status=_status(negatives, needs_reply, last_staff),
        why=why,
        heating_up=heating_up(ordered, negative=negative, now=now),
        defended=oldest is not None and _defended(ordered, oldest, positive),
        waiting_seconds=round(waiting) if waiting is not None else None,
        unanswered=_quote(oldest) if oldest else None,
        acked_at=last_ack[0] if last_ack else None,
        terms=tuple(terms),
    )


def _priority_parts(ordered: Sequence[ThreadItem], unanswered: Sequence[ThreadItem], waiting: float | None,
                    now: dt.datetime) -> dict[str, float]:
    """The four parts of a reply priority, each from 0 to its weight (see WEIGHTS and the README)."""
    # A saturating sum: each further negative item closes part of what is left of the gap to 1.
    calm = math.prod(1 - min(1.0, abs(i.compound or 0.0)) for i in unanswered)
    recent = sum(1 for i in ordered if now - dt.timedelta(hours=24) <= i.published <= now)
    hours = (waiting or 0.0) / 3600
    parts = {
        "how_negative": WEIGHTS["how_negative"] * (1 - calm),
        "how_many": WEIGHTS["how_many"] * (1 - 0.5 ** len(unanswered)),
        "how_fast": WEIGHTS["how_fast"] * recent / (recent + FAST_HALF),
        "how_long": WEIGHTS["how_long"] * (1 - math.pow(0.5, hours / LONG_HALF_HOURS)),
    }
    return {name: round(value, 1) for name, value in parts.items()}


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
    scored = [i for i in ordered if not i.staff and i.compound is not None]
    if len(scored) < HEATING_MIN_ITEMS or now - scored[-1].published > HEATING_RECENT:
        return False
    compounds = [i.compound or 0.0 for i in scored]
    half = len(compounds) // 2
    earlier = sum(compounds[:half]) / half
    later = sum(compounds[half:]) / (len(compounds) - half)
    return later <= negative and later <= earlier - HEATING_DROP


def _defended(ordered: Sequence[ThreadItem], complaint: ThreadItem, positive: float) -> bool:
    """A fan answered: a positive item by someone else (not staff, not the complainer) after the complaint."""
    complainer = _fold_name(complaint.author or "")
    return any(
        not i.staff and i.compound is not None and i.compound >= positive and i.published > complaint.published
        and (not complainer or _fold_name(i.author or "") != complainer)
        for i in ordered)


def _quote(item: ThreadItem) -> dict[str, Any]:
    text = " ".join((item.text or item.title or "").split())
    if len(text) > TEXT_CHARS:
        text = text[: TEXT_CHARS - 1].rstrip() + "…"
    return {"id": item.id, "author": item.author, "url": item.url, "published": item.published,
            "compound": item.compound, "text": text}


def rank(summaries: Sequence[ThreadSummary]) -> list[ThreadSummary]:
    """Highest reply priority first; threads that need no reply after, most recently active first."""
    def key(s: ThreadSummary) -> tuple:
        last = s.last_activity.timestamp() if s.last_activity else 0.0
        return (not s.needs_reply, -s.priority, -last, s.id)
    return sorted(summaries, key=key)


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
    waiting = set()
    if summary.oldest_unanswered_negative is not None:
        last_staff = max((i.published for i in items if i.staff), default=None)
        last_ack = _last_ack([a.mark for a in acks])
        waiting = {i.id for i in items if not i.staff and is_negative(i, negative)
                   and (last_staff is None or last_staff <= i.published) and _after_ack(i, last_ack)}
    rows: list[tuple[tuple, dict[str, Any]]] = []
    for item in items:
        mood = None
        if item.compound is not None:
            mood = "negative" if item.compound <= negative else "positive" if item.compound >= positive else "neutral"
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
