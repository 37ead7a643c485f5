"""What a report shows, as view objects: feed text cleaned and bounded, numbers rounded, charts laid out.

Templates read only these; building them never raises for one bad item (it is counted instead).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from listener import heat
from listener.text import clean_text, human_duration, safe_url, url_host
from listener.times import stored_moment

log = logging.getLogger("listener.report")

TITLE_CHARS = 300
TEXT_CHARS = 600
NAME_CHARS = 120
ERROR_CHARS = 240
TOP_MENTIONS = 8  # most negative / most positive mentions shown
REPORT_MAX_THREADS = 100  # threads listed in the report; the rest are counted (listener threads lists all)
CHART_DAYS = 14


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{round(100 * value)}%"


# --- view objects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One day of a trend chart, with its geometry already computed (the SVG has only numbers)."""

    day: dt.date
    degrees: int
    word: str
    total: int
    negative: int
    x: float
    y: float
    width: float
    height: float
    today: bool
    label: str  # day of month under the bar, every other day

    @property
    def note(self) -> str:
        if not self.total:
            return f"{self.day:%a %d %b}: no mentions"
        return f"{self.day:%a %d %b}: {self.word} {self.degrees}° ({self.negative} of {self.total} negative)"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    bars: tuple[Bar, ...]
    gridlines: tuple[float, ...]

    @property
    def text(self) -> str:
        """The chart for plain text: each day's degrees, '-' for a day without mentions."""
        return " ".join(str(bar.degrees) if bar.total else "-" for bar in self.bars)

    @property
    def email_bars(self) -> tuple[tuple[Bar, int], ...]:
        """(bar, height in px) for the table-cell chart in the email."""
        return tuple((bar, max(2, round(bar.degrees * 0.6)) if bar.total else 2) for bar in self.bars)


def chart(series: Sequence[tuple[dt.date, heat.Tally]], *, width: int = 280, height: int = 84) -> Chart:
    """Bars of temperature per day; the plot area is 0-100 degrees over the top 66 units."""
    plot, baseline, step = 66.0, 72.0, width / max(1, len(series))
    bars = []
    for index, (day, tally) in enumerate(series):
        degrees = round(tally.temperature)
        bar_height = max(1.5, plot * degrees / 100) if tally.total else 1.0
        bars.append(Bar(
            day=day, degrees=degrees, word=heat.word(tally.temperature), total=tally.total,
            negative=tally.negative, x=round(index * step + step * 0.15, 2), y=round(baseline - bar_height, 2),
            width=round(step * 0.7, 2), height=round(bar_height, 2), today=index == len(series) - 1,
            label=str(day.day) if (len(series) - 1 - index) % 2 == 0 else "",
        ))
    grid = tuple(round(baseline - plot * level / 100, 2) for level in (20, 40, 60, 80))
    return Chart(width, height, baseline, tuple(bars), grid)


@dataclass(frozen=True)
class HeatView:
    """One scope's day: overall (name "") or one watch term."""

    name: str
    degrees: int
    word: str
    trend: int | None
    positive: int
    neutral: int
    negative: int
    total: int
    mean_compound: float | None
    spike: bool
    spike_note: str
    chart: Chart

    @property
    def label(self) -> str:
        return self.name or "Overall"

    @property
    def heard(self) -> bool:
        return self.total > 0

    @property
    def shown(self) -> str:
        """23° on a day something was heard; a dash on a day with nothing to take the temperature of."""
        return f"{self.degrees}°" if self.heard else "–"

    @property
    def out_of_100(self) -> str:
        return f"{self.degrees}/100" if self.heard else "no data"

    @property
    def trend_word(self) -> str:
        if self.trend is None:
            return "new"
        if self.trend >= 5:
            return "warmer"
        if self.trend <= -5:
            return "cooler"
        return "steady"

    def share(self, kind: str) -> float:
        return getattr(self, kind) / self.total if self.total else 0.0


NO_DATA = "no data"  # a day with no mention is not "calm": nothing was heard


def heat_view(scope: heat.ScopeMood) -> HeatView:
    tally, spike = scope.tally, scope.spike
    note = ""
    if spike.flagged:
        note = f"{tally.negative} of {tally.total} negative ({_percent(spike.share)}), "
        if spike.history >= 20:
            note += f"usually about {_percent(spike.baseline)}"
        else:  # the baseline is mostly the prior: say so
            note += f"against a typical {_percent(heat.PRIOR_RATE)} (little history yet)"
    return HeatView(
        name=clean_text(scope.name, NAME_CHARS), degrees=round(scope.degrees),
        word=scope.word if tally.total else NO_DATA,
        trend=None if scope.trend is None else round(scope.trend),
        positive=tally.positive, neutral=tally.neutral, negative=tally.negative,
        total=tally.total, mean_compound=tally.mean_compound, spike=spike.flagged, spike_note=note,
        chart=chart(scope.series),
    )


@dataclass(frozen=True)
class MentionView:
    title: str
    url: str | None
    host: str
    feed: str
    author: str
    seen: dt.datetime
    compound: float
    terms: tuple[str, ...]
    snippet: str
    mood: str


def mention_view(row: dict[str, Any], *, negative: float, positive: float) -> MentionView:
    compound = row.get("compound")
    terms = row.get("terms")
    if isinstance(terms, str):
        terms = json.loads(terms or "[]")
    url = safe_url(row.get("url"))
    return MentionView(
        title=clean_text(row.get("title"), TITLE_CHARS) or "(untitled)",
        url=url,
        host=url_host(url),
        feed=clean_text(row.get("feed"), NAME_CHARS),
        author=clean_text(row.get("author"), NAME_CHARS),
        seen=stored_moment(row.get("first_seen") or row.get("published")),
        compound=float(compound) if compound is not None else 0.0,
        terms=tuple(clean_text(t, NAME_CHARS) for t in (terms or []) if isinstance(t, str)),
        snippet=clean_text(row.get("snippet") or row.get("content"), TEXT_CHARS),
        mood=heat.classify(compound, negative=negative, positive=positive),
    )


@dataclass(frozen=True)
class ThreadView:
    """A thread that needs a reply, as the report and the digest quote it."""

    id: str
    title: str
    url: str | None
    host: str
    feed: str
    items: int
    negative_items: int
    priority: int
    waited: str
    quote_author: str
    quote_text: str
    quote_url: str | None
    quote_compound: float | None
    quote_link_text: str
    why: tuple[tuple[str, int], ...]
    heating_up: bool
    defended: bool
    staff_replied: bool
    overdue: bool = False
    reasons: tuple[str, ...] = ()  # why it is in its queue (triage's words)


REASONS_SHOWN = 6
WHY_LABELS = {"how_negative": "how negative", "how_many": "negative replies", "how_fast": "comments coming fast",
              "how_long": "time waiting"}


def _field(source: Any, name: str, default: Any = None) -> Any:
    """A ThreadSummary attribute, or a key of the same name when the thread arrives as a dict."""
    if isinstance(source, dict):
        return source.get(name, default)
    return getattr(source, name, default)


def thread_view(summary: Any, *, now: dt.datetime) -> ThreadView:
    """Adapter over `listener.threads.ThreadSummary` (or a dict with the same fields)."""
    quote = _field(summary, "unanswered") or {}
    waiting = _field(summary, "waiting_seconds")
    if waiting is None and _field(summary, "oldest_unanswered_negative") is not None:
        waiting = (now - stored_moment(_field(summary, "oldest_unanswered_negative"))).total_seconds()
    why = _field(summary, "why") or {}
    parts = sorted(((WHY_LABELS.get(str(k), clean_text(str(k).replace("_", " "), 40)), float(v))
                    for k, v in why.items() if isinstance(v, (int, float)) and v > 0),
                   key=lambda part: -part[1])
    url = safe_url(_field(summary, "url"))
    quote_url = safe_url(quote.get("url"))
    compound = quote.get("compound")
    return ThreadView(
        id=clean_text(_field(summary, "id"), 40),
        title=clean_text(_field(summary, "title"), TITLE_CHARS) or "(untitled thread)",
        url=url,
        host=url_host(url or quote_url),
        feed=clean_text(_field(summary, "feed"), NAME_CHARS),
        items=int(_field(summary, "items", 0) or 0),
        negative_items=int(_field(summary, "negative_items", 0) or 0),
        priority=round(float(_field(summary, "priority", 0.0) or 0.0)),
        waited=human_duration(waiting) or "",
        quote_author=clean_text(quote.get("author"), NAME_CHARS) or "someone",
        quote_text=clean_text(quote.get("text"), TEXT_CHARS),
        quote_url=quote_url,
        quote_compound=float(compound) if compound is not None else None,
        # The unanswered item is the post itself when nobody has commented on a negative post yet.
        quote_link_text="open the post" if quote_url and url and quote_url.rstrip("/") == url.rstrip("/")
        else "open the comment",
        why=tuple((label, round(value)) for label, value in parts[:4]),
        heating_up=bool(_field(summary, "heating_up", False)),
        defended=bool(_field(summary, "defended", False)),
        staff_replied=bool(_field(summary, "staff_replied", False)),
        overdue=bool(_field(summary, "overdue", False)),
        reasons=tuple(clean_text(str(r), 200) for r in (_field(summary, "reasons") or ())[:REASONS_SHOWN]),
    )


@dataclass(frozen=True)
class FeedView:
    name: str
    state: str  # failing, gone, stale
    detail: str
    host: str


def feed_views(rows: Iterable[dict[str, Any]], *, now: dt.datetime) -> tuple[list[FeedView], list[FeedView], int]:
    """(failing, gone and disabled feeds; stale feeds; failing comment feeds) from `store.feed_health` rows."""
    failing, stale, comment_failures = [], [], 0
    for row in rows:
        try:
            state = str(row.get("state") or "ok")  # schedule.feed_state, as `listener feeds` shows it
            broken = state in ("failing", "gone", "disabled")
            if row.get("kind", "feed") != "feed":
                comment_failures += broken
                continue
            name = clean_text(row.get("name"), NAME_CHARS)
            host = url_host(row.get("url"))
            if broken:
                kind = clean_text(row.get("error_kind"), 40)
                message = clean_text(row.get("last_error"), ERROR_CHARS)
                detail = f"{kind}: {message}" if kind and message else (kind or message or state)
                errors = int(row.get("consecutive_errors") or 0)
                if errors:
                    detail += f" · {errors} failed polls in a row"
                if row.get("failing_since"):
                    detail += f", failing for {human_duration((now - stored_moment(row['failing_since'])).total_seconds())}"
                if state == "disabled":
                    detail += " · no longer polled: `listener poll --feed` tries it again"
                failing.append(FeedView(name, state, detail, host))
            elif state == "stale":
                last_new = row.get("last_new_item_at")
                detail = (f"no new items for {human_duration((now - stored_moment(last_new)).total_seconds())}" if last_new
                          else "no items since it was added")
                stale.append(FeedView(name, "stale", detail, host))
        except Exception as exc:  # noqa: BLE001 - one odd row must not stop the report
            log.warning("left feed %r out of the report: %s: %s", row.get("name"), type(exc).__name__, exc)
    return failing, stale, comment_failures


@dataclass(frozen=True)
class DayReport:
    """Everything one day's report page and digest show."""

    day: dt.date
    timezone: str
    generated_at: dt.datetime
    overall: HeatView
    terms: tuple[HeatView, ...]
    threads: tuple[ThreadView, ...]
    threads_total: int
    most_negative: tuple[MentionView, ...]
    most_positive: tuple[MentionView, ...]
    failing: tuple[FeedView, ...]
    stale: tuple[FeedView, ...]
    comment_feeds_failing: int
    left_out: int = 0  # items that could not be shown
    problems: tuple[str, ...] = ()  # parts of the page that could not be made (the log has more)
    thresholds: tuple[float, float] = (-0.05, 0.05)
    overdue_total: int = 0  # threads in the reply queue past their first-reply SLA
    moderate: tuple[ThreadView, ...] = ()  # abuse between members, spam
    thank: tuple[ThreadView, ...] = ()  # fans worth thanking, fans who defended us
    listening_since: dt.date | None = None  # the first local day listener heard anything
    never_heard: bool = False  # nothing stored at all: a new install

    @property
    def not_listening_yet(self) -> bool:
        """The day comes before listener heard anything, or nothing was ever polled."""
        return self.never_heard or (self.listening_since is not None and self.day < self.listening_since)

    @property
    def past_day(self) -> bool:
        """A report of a day gone by: the mood is that day's, the queues are as of now."""
        return self.day < self.generated_at.astimezone(ZoneInfo(self.timezone)).date()

    @property
    def date_label(self) -> str:
        return f"{self.day:%A} {self.day.day} {self.day:%B %Y}"

    @property
    def spikes(self) -> tuple[HeatView, ...]:
        return tuple(term for term in self.terms if term.spike)


def build_report(*, day: dt.date, timezone: str, generated_at: dt.datetime, overall: heat.ScopeMood,
                 terms: Sequence[heat.ScopeMood], threads: Sequence[Any], negative_rows: Sequence[dict[str, Any]],
                 positive_rows: Sequence[dict[str, Any]], feed_rows: Sequence[dict[str, Any]],
                 negative: float, positive: float, max_threads: int = REPORT_MAX_THREADS,
                 problems: Sequence[str] = (), listening_since: dt.date | None = None,
                 never_heard: bool = False) -> DayReport:
    """Turn the day's data into view objects; an item that cannot be shown is logged and counted."""
    left_out = 0

    def views(rows: Iterable[Any], make) -> list:
        nonlocal left_out
        made = []
        for row in rows:
            try:
                made.append(make(row))
            except Exception as exc:  # noqa: BLE001 - RELIABILITY D6: one bad item is dropped, not the report
                left_out += 1
                log.warning("left an item out of the report: %s: %s", type(exc).__name__, exc)
                log.debug("the item left out", exc_info=True)
        return made

    def queue(name: str) -> list[Any]:
        return [t for t in threads if name in (_field(t, "queues") or (("reply",) if _field(t, "needs_reply", True) else ()))]

    thread_list = queue("reply")
    shown_threads = views(thread_list[:max_threads], lambda t: thread_view(t, now=generated_at))
    moderate = views(queue("moderate")[:max_threads], lambda t: thread_view(t, now=generated_at))
    thank = views(queue("thank")[:max_threads], lambda t: thread_view(t, now=generated_at))
    failing, stale, comment_failures = feed_views(feed_rows, now=generated_at)
    mention = functools.partial(mention_view, negative=negative, positive=positive)
    return DayReport(
        day=day, timezone=timezone, generated_at=generated_at,
        overall=heat_view(overall), terms=tuple(heat_view(t) for t in terms),
        threads=tuple(shown_threads), threads_total=len(thread_list),
        most_negative=tuple(views(negative_rows[:TOP_MENTIONS], mention)),
        most_positive=tuple(views(positive_rows[:TOP_MENTIONS], mention)),
        failing=tuple(failing), stale=tuple(stale), comment_feeds_failing=comment_failures,
        listening_since=listening_since, never_heard=never_heard,
        left_out=left_out, thresholds=(negative, positive), problems=tuple(clean_text(p, ERROR_CHARS) for p in problems),
        overdue_total=sum(1 for t in thread_list if _field(t, "overdue", False)),
        moderate=tuple(moderate), thank=tuple(thank),
    )


