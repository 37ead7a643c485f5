"""Small frozen dataclasses passed between the stages of the data flow."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple


@dataclass(frozen=True)
class WatchSpec:
    """One watch entry: what counts as a mention of `name`."""

    name: str
    terms: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedSpec:
    """One configured feed. `url` is http(s) or an absolute local path."""

    name: str
    url: str
    comments: bool = False
    every: int | None = None  # seconds; None means schedule.poll
    match: str = "terms"  # "terms" or "all"
    verify_tls: bool = True


@dataclass(frozen=True)
class SmtpSpec:
    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_env: str | None = "LISTENER_SMTP_PASSWORD"
    timeout: float = 30.0


@dataclass(frozen=True)
class DigestSpec:
    from_addr: str = "listener@localhost"
    to: tuple[str, ...] = ()
    smtp: SmtpSpec = field(default_factory=SmtpSpec)
    max_items: int = 50


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on one fetch (RELIABILITY A1, A2, A10-A12, A16, A17)."""

    timeout: float = 20.0  # total, body included
    connect_timeout: float = 10.0
    max_bytes: int = 15 * 1024 * 1024  # decoded
    max_redirects: int = 5
    workers: int = 8
    per_host: int = 2
    parse_timeout: float = 10.0  # seconds of CPU to parse one body (issue 14.4)


@dataclass(frozen=True)
class CommentLimits:
    """Bounds on following comment feeds (issue: threads)."""

    max_post_age_days: int = 14
    max_feeds_per_cycle: int = 50
    allow_hosts: tuple[str, ...] = ()  # more hosts comment feeds may live on (RELIABILITY A14)


@dataclass(frozen=True)
class Config:
    path: Path
    database: Path
    reports_dir: Path
    timezone: str
    watch: tuple[WatchSpec, ...]
    staff_authors: tuple[str, ...]
    feeds: tuple[FeedSpec, ...]
    poll_every: int  # seconds
    min_interval: int  # seconds; no feed is polled more often
    digest_time: dt.time
    negative: float
    positive: float
    digest: DigestSpec
    fetch: FetchLimits = field(default_factory=FetchLimits)
    comments: CommentLimits = field(default_factory=CommentLimits)
    retention_days: int = 180
    alerts: AlertsSpec | None = None  # None: no alerts: key, no pushes between digests
    scorer: Scorer = "service"  # sentiment.scorer: listener's service verdict, or plain VADER
    triage: TriageSpec = field(default_factory=lambda: TriageSpec())


@dataclass(frozen=True)
class FetchResult:
    """What one successful fetch returned. `body` is None on 304 Not Modified."""

    url: str  # final URL, after redirects
    status: int
    body: bytes | None
    headers: dict[str, str]  # keys lower-cased
    etag: str | None = None
    last_modified: str | None = None
    permanent_redirect: str | None = None  # set when every hop was a 301/308
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class Item:
    """One entry of one feed, normalised: plain text, UTC dates, http(s) links only."""

    key: str  # identity within its feed: guid, else link, else hash of title and text
    title: str
    content: str  # plain text of the body, title not included
    url: str | None
    author: str | None
    published: dt.datetime | None  # aware UTC; None when missing or unusable
    published_raw: str | None = None
    comments_url: str | None = None  # the item's own comment feed (wfw:commentRss, rel=replies)
    comment_count: int | None = None  # slash:comments / thr:total
    in_reply_to: str | None = None  # Atom thr:in-reply-to ref (an id of another entry)
    in_reply_to_url: str | None = None  # Atom thr:in-reply-to href (the parent's link)


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    link: str | None
    items: tuple[Item, ...]
    degraded: str | None = None  # why the parse was partial; None when clean
    ttl_seconds: int | None = None  # RSS <ttl>
    dropped: int = 0  # items past the per-poll cap


class Sentiment(NamedTuple):
    """VADER's numbers for an item's text. (Built for every scored item: a named tuple costs half
    what a frozen dataclass does to build.)"""

    compound: float
    pos: float
    neu: float
    neg: float
    sentences: int = 1  # how many sentences the numbers are the mean of (1: the text scored whole)


@dataclass(frozen=True)
class Match:
    """Which watch entries an item hits, and the text around the first matched term."""

    hit: bool
    terms: tuple[str, ...]
    snippet: str


@dataclass(frozen=True)
class ScoredItem:
    """An item after matching and scoring, ready to store. `sentiment` is None when not scored."""

    item: Item
    content_hash: str
    match: Match
    sentiment: Sentiment | None
    verdict: Verdict | None = None
    verdict_version: str | None = None  # which scorer and model made the verdict (`listener rescore`)
    cues: TextCues | None = None  # what triage reads in its words (content, else title)
    root_cues: TextCues | None = None  # read in "title. content", for an item that is no reply (a post)


@dataclass(frozen=True)
class TextCues:
    """What triage reads in an item's words, judged once when it is stored (`triage.cues.read_cues`):
    reading them again for every thread a command lists is what made `threads` slow at scale."""

    asks: bool = False  # a question or a request
    abuse: bool = False  # a threat, or a swear word or insult aimed at a person
    links: int = 0
    spam_key: str = ""  # a digest of the text as repeated spam is compared; "" when too short to tell


Label = Literal["negative", "neutral", "positive", "unknown"]
Scorer = Literal["service", "vader"]


class Verdict(NamedTuple):
    """listener's judgement of one item; `why` lists the cues that decided it, for a person (a named tuple, as `Sentiment`)."""

    sentiment: Label
    complaint: bool
    confidence: float
    language: str
    why: tuple[str, ...]


@dataclass(frozen=True)
class Judging:
    """What the verdict needs besides the text: the target (never sentiment) and the scorer."""

    targets: tuple[str, ...] = ()  # every watched term and handle
    staff: tuple[str, ...] = ()
    thresholds: tuple[float, float] = (-0.05, 0.05)
    scorer: Scorer = "service"
    version: str = ""  # the scorer and its model's version, stored beside each verdict


@dataclass(frozen=True)
class ItemPlacement:
    """Where a stored item goes: the thread it joins (created on first sight) and whether staff wrote it."""

    thread_id: str
    root: str
    url: str | None = None  # the thread's URL and title, when this item is its root
    title: str | None = None
    is_staff: bool = False
    root_cues: TextCues | None = None  # a root's cues read in "title. text", as triage reads a post


@dataclass(frozen=True)
class AlertsSpec:
    """The `alerts:` key of feeds.yaml. Durations in seconds; quiet hours are local to `timezone`."""

    urls: tuple[str, ...] = ()
    urls_env: str | None = "LISTENER_ALERT_URLS"
    min_priority: float = 40.0
    cooldown: int = 6 * 3600
    quiet_hours: tuple[dt.time, dt.time] | None = (dt.time(22, 0), dt.time(7, 0))
    max_per_hour: int = 10
    spike_window: int = 3 * 3600
    feed_health: bool = False
    secret_env: str | None = None
    report_url: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class BusinessHours:
    """When the team works, local to `timezone`: weekdays (0 = Monday) and the opening and closing time."""

    days: frozenset[int] = frozenset(range(5))
    opens: dt.time = dt.time(9, 0)
    closes: dt.time = dt.time(17, 30)
    timezone: str = "UTC"


@dataclass(frozen=True)
class TriageSpec:
    """The `triage:` key: how old an item may be and still need us, and the first-reply SLA."""

    reply_window: dt.timedelta = dt.timedelta(days=14)
    first_reply_within: dt.timedelta | None = dt.timedelta(hours=4)  # business time; None: no SLA
    business_hours: BusinessHours | None = field(default_factory=BusinessHours)  # None: every hour counts
