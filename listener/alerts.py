"""Which alerts to push now, between digests: once per reason, held in quiet hours, folded past a rate.

A stage that imports only leaves. The poll cycle hands it a snapshot (candidate threads, term
spikes, feed transitions), the `alerts:` config and the ledger's rows for those subjects; it
answers with a `Decision`. Nothing here sends or stores: `store/alerts.py` records the decision and
`notify` delivers it, so the rules can be tested on plain values.

Rules (issue 12):
- a thread alerts when it is in the `reply` or `moderate` queue at `min_priority` or above, or is
  overdue; a term when its mood spiked over `spike_window`; a feed when it went from healthy to
  failing or gone (`feed_health: true`);
- once per reason: a subject alerts again only for a reason it has not alerted for, or once
  `cooldown` has passed since its last alert and (threads) it has more negative items than then;
- in quiet hours new alerts are held, not dropped, and go out when the quiet hours end;
- past `max_per_hour` alerts in the last hour, the rest of a cycle's alerts fold into one summary.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from listener.models import AlertsSpec
from listener.times import iso, parse_iso

THREAD, TERM, FEED, SUMMARY = "thread", "term", "feed", "summary"
QUEUES = ("reply", "moderate")
OVERDUE, SPIKE = "overdue", "spike"
HEALTHY_STATES = ("ok", "new", "stale", "retrying")
UNHEALTHY_STATES = ("failing", "gone")
SUMMARY_LIST_MAX = 50  # alerts named in one summary; the rest are counted
TITLE_CHARS, QUOTE_CHARS = 200, 500


def quiet_until(spec: AlertsSpec, now: dt.datetime) -> dt.datetime | None:
    """When the quiet hours around `now` end (aware UTC), or None when `now` is not in them."""
    if spec.quiet_hours is None:
        return None
    start, end = spec.quiet_hours
    local = now.astimezone(ZoneInfo(spec.timezone))
    clock = local.time()
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + dt.timedelta(days=1)
    until = dt.datetime.combine(day, end, tzinfo=ZoneInfo(spec.timezone))
    return until.astimezone(dt.timezone.utc)


# --- the snapshot the poll cycle passes in ------------------------------------------------------


@dataclass(frozen=True)
class AlertCandidate:
    """A thread in a queue after this cycle. `reasons` are the triage's own words (shown, not keyed)."""

    thread_id: str
    title: str | None
    url: str | None
    queue: str  # 'reply' | 'moderate'
    priority: float
    overdue: bool = False
    reasons: tuple[str, ...] = ()
    quote: str | None = None
    quote_author: str | None = None
    negative_items: int = 0
    last_activity: dt.datetime | None = None


@dataclass(frozen=True)
class TermSpike:
    """A watch term whose negative share over [window_start, window_end) is well above its baseline."""

    term: str
    window_start: dt.datetime
    window_end: dt.datetime
    count: int  # mentions in the window
    negative: int  # negative mentions in the window
    share: float = 0.0
    baseline: float = 0.0


@dataclass(frozen=True)
class FeedTransition:
    """A feed whose state changed during the cycle (schedule.feed_state words)."""

    feed: str
    before: str
    after: str
    error: str | None = None


def feed_transitions(before: Mapping[str, str], after: Mapping[str, tuple[str, str | None]]) -> list[FeedTransition]:
    """Feeds that went from healthy (or unseen) to failing or gone: name -> state before the cycle,
    and name -> (state, last error) after it."""
    return [FeedTransition(name, before.get(name, "new"), state, error)
            for name, (state, error) in sorted(after.items())
            if state in UNHEALTHY_STATES and before.get(name, "new") in HEALTHY_STATES]


@dataclass(frozen=True)
class PastAlert:
    """One ledger row as the rules need it (see store/alerts.py)."""

    key: str
    subject_kind: str
    subject_id: str
    reason: str  # reasons joined with '+'
    window: str
    created: dt.datetime
    state: str  # pending | sent | held | failed | folded
    negative_items: int = 0
    payload: Mapping[str, Any] = field(default_factory=dict)
    queued: dt.datetime | None = None  # when it was put up for sending (None: held or folded)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PastAlert:
        created = parse_iso(row["created"])
        assert created is not None  # NOT NULL in the ledger
        payload = row.get("payload") or {}
        if isinstance(payload, str):
            payload = json.loads(payload)
        return cls(row["key"], row["subject_kind"], row["subject_id"], row["reason"], row["window"], created,
                   row["state"], int(row.get("negative_items") or 0), payload, parse_iso(row.get("queued")))

    @property
    def reasons(self) -> frozenset[str]:
        return frozenset(self.reason.split("+"))


# --- the output -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """One push: a subject, its reasons and the stored payload every target is sent."""

    subject_kind: str
    subject_id: str
    reasons: tuple[str, ...]
    window: str
    payload: Mapping[str, Any]
    negative_items: int = 0
    rank: float = 0.0  # higher goes out first when the hourly budget is short

    @property
    def reason(self) -> str:
        return "+".join(self.reasons)

    @property
    def key(self) -> str:
        return alert_key(self.subject_kind, self.subject_id, self.reason, self.window)

    @property
    def id(self) -> str:
        return alert_id(self.key)


def alert_key(subject_kind: str, subject_id: str, reason: str, window: str) -> str:
    return "\x1f".join((subject_kind, subject_id, reason, window))


def alert_id(key: str) -> str:
    """A short stable id for receivers to drop a duplicate by."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Decision:
    """What to do this cycle. `send` (new and released from hold) go out now; `held` wait until
    `held_until`; `folded` are recorded but go out only inside `summary`."""

    send: tuple[Alert, ...] = ()
    held: tuple[Alert, ...] = ()
    folded: tuple[Alert, ...] = ()
    summary: Alert | None = None
    held_until: dt.datetime | None = None
    released: tuple[str, ...] = ()  # keys of held rows that go out now (in `send`, `folded` or the summary)

    @property
    def quiet(self) -> bool:
        return self.held_until is not None


# --- the rules --------------------------------------------------------------------------------


def decide(spec: AlertsSpec, candidates: Sequence[AlertCandidate], spikes: Sequence[TermSpike],
           transitions: Sequence[FeedTransition], past: Sequence[PastAlert], *, now: dt.datetime,
           report_url: str | None = None) -> Decision:
    """The alerts of this cycle, from the snapshot and the ledger rows of its subjects (and held rows)."""
    report_url = report_url or spec.report_url
    history: dict[tuple[str, str], list[PastAlert]] = {}
    for row in past:
        history.setdefault((row.subject_kind, row.subject_id), []).append(row)
    fresh = [*_thread_alerts(spec, candidates, history, now, report_url),
             *_spike_alerts(spec, spikes, history, now, report_url)]
    if spec.feed_health:
        fresh += _feed_alerts(spec, transitions, history, now, report_url)
    held_until = quiet_until(spec, now)
    if held_until is not None:
        return Decision(held=tuple(fresh), held_until=held_until)
    waiting = [row for row in past if row.state == "held"]
    released = [_from_row(row) for row in waiting]
    due = sorted([*fresh, *released], key=lambda a: (-a.rank, a.key))
    budget = max(0, spec.max_per_hour - _sent_last_hour(past, now))
    send, folded = due[:budget], due[budget:]
    summary = _summary(folded, now, report_url) if folded else None
    return Decision(send=tuple(send), folded=tuple(folded), summary=summary,
                    released=tuple(row.key for row in waiting))


def _window(now: dt.datetime) -> str:
    """The UTC hour an episode started: two decisions in one hour name the same alert."""
    return iso(now.replace(minute=0, second=0, microsecond=0))


def _sent_last_hour(past: Sequence[PastAlert], now: dt.datetime) -> int:
    start = now - dt.timedelta(hours=1)
    return sum(1 for row in past if row.queued is not None and row.subject_kind != SUMMARY
               and start < row.queued <= now)


def _again(rows: Sequence[PastAlert], reasons: Iterable[str], now: dt.datetime, cooldown: int,
           negative_items: int | None) -> bool:
    """Whether a subject with these `rows` in the ledger should alert for `reasons` now."""
    if not rows:
        return True
    alerted = frozenset().union(*(row.reasons for row in rows))
    if any(reason not in alerted for reason in reasons):
        return True
    last = max(rows, key=lambda row: row.created)
    if now - last.created < dt.timedelta(seconds=cooldown):
        return False
    return negative_items is None or negative_items > max(row.negative_items for row in rows)


def _thread_alerts(spec: AlertsSpec, candidates: Sequence[AlertCandidate],
                   history: Mapping[tuple[str, str], list[PastAlert]], now: dt.datetime,
                   report_url: str | None) -> list[Alert]:
    alerts = []
    for cand in candidates:
        reasons = []
        if cand.queue in QUEUES and cand.priority >= spec.min_priority:
            reasons.append(cand.queue)
        if cand.overdue:
            reasons.append(OVERDUE)
        rows = history.get((THREAD, cand.thread_id), [])
        if not reasons or not _again(rows, reasons, now, spec.cooldown, cand.negative_items):
            continue
        alerts.append(Alert(THREAD, cand.thread_id, tuple(reasons), _window(now),
                            thread_payload(cand, tuple(reasons), report_url), cand.negative_items,
                            rank=cand.priority + (100 if cand.overdue else 0)))
    return alerts


def _spike_alerts(spec: AlertsSpec, spikes: Sequence[TermSpike],
                  history: Mapping[tuple[str, str], list[PastAlert]], now: dt.datetime,
                  report_url: str | None) -> list[Alert]:
    alerts = []
    for spike in spikes:
        if _again(history.get((TERM, spike.term), []), (SPIKE,), now, spec.cooldown, None):
            alerts.append(Alert(TERM, spike.term, (SPIKE,), _window(now), spike_payload(spike, report_url),
                                spike.negative, rank=50 + min(spike.negative, 49)))
    return alerts


def _feed_alerts(spec: AlertsSpec, transitions: Sequence[FeedTransition],
                 history: Mapping[tuple[str, str], list[PastAlert]], now: dt.datetime,
                 report_url: str | None) -> list[Alert]:
    alerts = []
    for change in transitions:
        if change.after not in UNHEALTHY_STATES or change.before not in HEALTHY_STATES:
            continue
        recent = [row for row in history.get((FEED, change.feed), []) if now - row.created < dt.timedelta(seconds=spec.cooldown)]
        if any(change.after in row.reasons for row in recent):
            continue
        alerts.append(Alert(FEED, change.feed, (change.after,), _window(now), feed_payload(change, report_url),
                            rank=10))
    return alerts


def _from_row(row: PastAlert) -> Alert:
    return Alert(row.subject_kind, row.subject_id, tuple(row.reason.split("+")), row.window, row.payload,
                 row.negative_items, rank=float(row.payload.get("rank", 0.0)))


# --- payloads: what every target receives (stored in the ledger, so a retry sends the same) -----


def clean(text: str | None, limit: int) -> str | None:
    """Feed text made safe for chat: no control characters, no <!channel>-style markup, bounded."""
    if text is None:
        return None
    text = "".join(ch if ch >= " " else " " for ch in text)
    text = " ".join(text.replace("<", "‹").replace(">", "›").split())
    text = re.sub(r"@(?=(?:here|channel|everyone|all)\b)", "@\u200b", text, flags=re.IGNORECASE)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def thread_payload(cand: AlertCandidate, reasons: tuple[str, ...], report_url: str | None) -> dict[str, Any]:
    return {
        "event": "alert", "subject": THREAD, "reasons": list(reasons), "report_url": report_url,
        "rank": cand.priority + (100 if cand.overdue else 0),
        "thread": {
            "id": cand.thread_id, "title": clean(cand.title, TITLE_CHARS), "url": cand.url,
            "queue": cand.queue, "priority": cand.priority, "overdue": cand.overdue,
            "why": [clean(r, 200) for r in cand.reasons], "negative_items": cand.negative_items,
            "last_activity": iso(cand.last_activity),
            "quote": None if cand.quote is None else {"text": clean(cand.quote, QUOTE_CHARS),
                                                      "author": clean(cand.quote_author, 100)},
        },
    }


def spike_payload(spike: TermSpike, report_url: str | None) -> dict[str, Any]:
    return {
        "event": "alert", "subject": TERM, "reasons": [SPIKE], "report_url": report_url,
        "rank": 50 + min(spike.negative, 49),
        "term": {"name": clean(spike.term, TITLE_CHARS), "window_start": iso(spike.window_start),
                 "window_end": iso(spike.window_end), "mentions": spike.count, "negative": spike.negative,
                 "share": round(spike.share, 3), "baseline": round(spike.baseline, 3)},
    }


def feed_payload(change: FeedTransition, report_url: str | None) -> dict[str, Any]:
    return {
        "event": "alert", "subject": FEED, "reasons": [change.after], "report_url": report_url, "rank": 10,
        "feed": {"name": clean(change.feed, TITLE_CHARS), "before": change.before, "after": change.after,
                 "error": clean(change.error, 300)},
    }


def _summary(folded: Sequence[Alert], now: dt.datetime, report_url: str | None) -> Alert:
    listed = [{"id": a.id, "subject": a.subject_kind, "reasons": list(a.reasons), "title": headline(a.payload)}
              for a in folded[:SUMMARY_LIST_MAX]]
    payload = {"event": "summary", "subject": SUMMARY, "reasons": ["folded"], "report_url": report_url,
               "count": len(folded), "alerts": listed}
    return Alert(SUMMARY, iso(now), ("folded",), iso(now), payload)


def headline(payload: Mapping[str, Any]) -> str:
    """One line that says what happened: the chat title and the mail subject."""
    subject = payload.get("subject")
    if subject == THREAD:
        thread = payload["thread"]
        what = "overdue" if thread["overdue"] else f"{thread['queue']} needed"
        return f"{what} (priority {thread['priority']:g}): {thread['title'] or thread['url'] or thread['id']}"
    if subject == TERM:
        term = payload["term"]
        return f"mood spike on {term['name']}: {term['negative']} of {term['mentions']} negative"
    if subject == FEED:
        return f"feed {payload['feed']['after']}: {payload['feed']['name']}"
    if subject == SUMMARY:
        return f"{payload['count']} more alerts this hour"
    return str(payload.get("title") or "listener alert")


def message(payload: Mapping[str, Any]) -> str:
    """The plain-text body chat and mail targets get; webhooks get the payload itself."""
    subject = payload.get("subject")
    lines = [headline(payload)]
    if subject == THREAD:
        thread = payload["thread"]
        if thread["why"]:
            lines.append("why: " + "; ".join(thread["why"]))
        if thread["quote"]:
            author = f" (by {thread['quote']['author']})" if thread["quote"]["author"] else ""
            lines.append(f"“{thread['quote']['text']}”{author}")
        if thread["url"]:
            lines.append(thread["url"])
    elif subject == FEED and payload["feed"]["error"]:
        lines.append(payload["feed"]["error"])
    elif subject == SUMMARY:
        lines += [f"- {item['title']}" for item in payload["alerts"]]
        if payload["count"] > len(payload["alerts"]):
            lines.append(f"... and {payload['count'] - len(payload['alerts'])} more")
    elif payload.get("message"):
        lines.append(str(payload["message"]))
    if payload.get("report_url"):
        lines.append(f"report: {payload['report_url']}")
    return "\n".join(lines)
