"""Alerts in the poll cycle: decide, record, deliver, mark.

`run_alerts` is what a poll cycle calls once its feeds are stored. The ledger is written before
anything is sent, each target's acceptance right after it is known, and the alert is `sent` only
when every target accepted it: a crash re-sends to at most the one target in flight, and loses
nothing. Also the adapters the cycle needs (thread summaries -> candidates, the spike rule over
the last hours, feed-state snapshots) and the bodies of `listener alerts [--test]`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from listener import alerts, lifeline, mood, notify, store
from listener.alerts import AlertCandidate, AlertsSpec, Decision, FeedTransition, PastAlert, TermSpike
from listener.errors import ListenerError
from listener.models import Config
from listener.pipeline.conversations import thread_summaries
from listener.pipeline.upkeep import feed_overview
from listener.store import alerts as ledger
from listener.text import human_duration
from listener.times import iso
from listener.triage import ThreadSummary

log = logging.getLogger(__name__)


@dataclass
class AlertRunSummary:
    """What one cycle's alerting did, for `poll -v` and the daemon's log."""

    decided: list[str] = field(default_factory=list)  # headlines of alerts decided this cycle
    held: int = 0
    held_until: dt.datetime | None = None
    folded: int = 0
    sent: list[str] = field(default_factory=list)  # headlines of alerts every target accepted
    retrying: int = 0
    failed: int = 0
    deliveries: list[notify.Delivery] = field(default_factory=list)
    targets: int = 0

    def line(self) -> str:
        parts = [f"{len(self.sent)} sent"]
        if self.held:
            parts.append(f"{self.held} held until {iso(self.held_until)}")
        if self.folded:
            parts.append(f"{self.folded} folded into a summary")
        if self.retrying:
            parts.append(f"{self.retrying} to retry")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return f"alerts: {', '.join(parts)} ({self.targets} targets)"


def run_alerts(db: sqlite_utils.Database, spec: AlertsSpec, candidates: Sequence[AlertCandidate],
               spikes: Sequence[TermSpike], transitions: Sequence[FeedTransition], *, now: dt.datetime,
               report_url: str | None = None, environ: Mapping[str, str] | None = None) -> AlertRunSummary:
    """Decide this cycle's alerts, record them, deliver what is due (retries included), mark the results."""
    environ = os.environ if environ is None else environ
    summary = AlertRunSummary()
    target_list = notify.targets(spec.urls, spec.urls_env, environ)
    summary.targets = len(target_list)
    if not target_list:
        log.debug("alerts: no targets configured")
        return summary
    decision = decide(db, spec, candidates, spikes, transitions, now=now, report_url=report_url)
    ledger.record(db, ledger_entries(decision), now=now)
    summary.decided = [alerts.headline(a.payload) for a in (*decision.send, *decision.held, *decision.folded)]
    summary.held, summary.held_until, summary.folded = len(decision.held), decision.held_until, len(decision.folded)
    if decision.quiet:
        log.info("alerts: quiet hours, %d held until %s", len(decision.held), iso(decision.held_until))
        return summary
    deliver_due(db, spec, target_list, now=now, summary=summary, environ=environ)
    log.info("%s", summary.line())
    return summary


def decide(db: sqlite_utils.Database, spec: AlertsSpec, candidates: Sequence[AlertCandidate],
           spikes: Sequence[TermSpike], transitions: Sequence[FeedTransition], *, now: dt.datetime,
           report_url: str | None = None) -> Decision:
    subjects = [(alerts.THREAD, c.thread_id) for c in candidates] + [(alerts.TERM, s.term) for s in spikes]
    subjects += [(alerts.FEED, t.feed) for t in transitions]
    past = [PastAlert.from_row(row) for row in ledger.decision_rows(db, subjects, now=now)]
    return alerts.decide(spec, candidates, spikes, transitions, past, now=now, report_url=report_url)


def ledger_entries(decision: Decision) -> list[ledger.LedgerEntry]:
    def entry(alert: alerts.Alert, state: str, **extra: Any) -> ledger.LedgerEntry:
        return ledger.LedgerEntry(alert.key, alert.subject_kind, alert.subject_id, alert.reason,
                                        alert.window, state, dict(alert.payload), alert.negative_items, **extra)

    entries = [entry(a, "pending") for a in decision.send]
    entries += [entry(a, "held", next_try=decision.held_until) for a in decision.held]
    if decision.summary is not None:
        entries += [entry(a, "folded", summary_key=decision.summary.key) for a in decision.folded]
        entries.append(entry(decision.summary, "pending"))
    return entries


def deliver_due(db: sqlite_utils.Database, spec: AlertsSpec, target_list: Sequence[notify.Target], *,
                now: dt.datetime, summary: AlertRunSummary, environ: Mapping[str, str]) -> None:
    fault = lifeline.FaultHook("kill_after_alert_send")
    for due in ledger.claim_due(db, now=now):
        title, body = alerts.headline(due.payload), alerts.message(due.payload)
        alert_id = alerts.alert_id(due.key)
        for target in target_list:
            if target.id in due.accepted:
                continue
            ledger.mark_attempt(db, due.key, target.id, target.scheme, now=now)
            result = notify.send(target, title=title, message=body, payload=due.payload, alert_id=alert_id,
                                 secret_env=spec.secret_env, environ=environ)
            summary.deliveries.append(result)
            if result.accepted:
                fault.passing()
                ledger.mark_accepted(db, due.key, target.id, now=now)
            else:
                ledger.mark_target_failed(db, due.key, target.id, result.error or "not accepted", now=now)
        state = ledger.settle(db, due.key, [t.id for t in target_list], now=now)
        if state == "sent":
            summary.sent.append(title)
            if due.payload.get("subject") == alerts.SUMMARY:
                ledger.mark_folded_sent(db, due.key, now=now)
        elif state == "failed":
            summary.failed += 1
        else:
            summary.retrying += 1


# --- what the poll cycle passes in ------------------------------------------------------------


def candidates_from_threads(summaries: Sequence[ThreadSummary], *,
                            reply_sla: dt.timedelta | None = None) -> list[AlertCandidate]:
    """Threads in the `reply` or `moderate` queue, as alert candidates; `overdue` from triage's SLA.

    `reply_sla`: a thread whose oldest unanswered negative item has waited longer is overdue.
    """
    candidates = []
    for s in summaries:
        queue = next((q for q in ("reply", "moderate") if q in s.queues), None)
        if queue is None:
            continue
        overdue = s.overdue or bool(reply_sla and s.waiting_seconds is not None
                                    and s.waiting_seconds >= reply_sla.total_seconds())
        why = [f"{s.negative_items} negative item{'s' if s.negative_items != 1 else ''}"]
        if s.waiting_seconds is not None:
            why.append(f"waiting {human_duration(s.waiting_seconds)}")
        if s.heating_up:
            why.append("heating up")
        quote = s.unanswered or {}
        candidates.append(AlertCandidate(
            thread_id=s.id, title=s.title, url=s.url, queue=queue, priority=s.priority, overdue=overdue,
            reasons=tuple(why) + s.reasons, quote=quote.get("text"), quote_author=quote.get("author"),
            negative_items=s.negative_items, last_activity=s.last_activity))
    return candidates


def term_spikes(db: sqlite_utils.Database, config: Config, *, now: dt.datetime, window: int) -> list[TermSpike]:
    """The report's spike rule (mood.spike) over the last `window` seconds against the 14 days before it."""
    start = now - dt.timedelta(seconds=window)
    base_start = start - dt.timedelta(days=mood.BASELINE_DAYS)
    recent: list[mood.Mention] = []
    before: list[mood.Mention] = []
    for mention in mood.mentions_of(store.mood_mentions(db, base_start, now)):
        (recent if mention.first_seen >= start else before).append(mention)
    names = [w.name for w in config.watch]
    now_days, base_days = (mood.tally(mentions, timezone=config.timezone, negative=config.negative,
                                      positive=config.positive, terms=names) for mentions in (recent, before))
    spikes = []
    for name in names:
        today = sum((days.get(name, mood.Tally()) for days in now_days.values()), mood.Tally())
        baseline = sum((days.get(name, mood.Tally()) for days in base_days.values()), mood.Tally())
        result = mood.spike(today, baseline)
        if result.flagged:
            spikes.append(TermSpike(name, start, now, today.total, today.negative, result.share, result.baseline))
    return spikes


def feed_states(db: sqlite_utils.Database) -> dict[str, tuple[str, str | None]]:
    """name -> (state, last error) of every configured feed: take one before and one after the cycle."""
    rows = feed_overview(store.feed_health(db), now=store.utcnow())
    return {row["name"]: (row["state"], row["last_error"]) for row in rows}


def transitions_between(before: Mapping[str, tuple[str, str | None]],
                        after: Mapping[str, tuple[str, str | None]]) -> list[FeedTransition]:
    return alerts.feed_transitions({name: state for name, (state, _) in before.items()}, after)


# --- the bodies of `listener alerts` and `listener alerts --test` -------------------------------


def list_alerts(db: sqlite_utils.Database, *, since: dt.datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Recent alerts, newest first, with each target's delivery state (JSON-ready, no URLs)."""
    listed = []
    for row in ledger.recent_alerts(db, since=since, limit=limit):
        listed.append({
            "id": alerts.alert_id(row["key"]), "subject": row["subject_kind"], "subject_id": row["subject_id"],
            "reasons": row["reason"].split("+"), "window": row["window"], "created": row["created"],
            "state": row["state"], "attempts": row["attempts"], "next_try": row["next_try"],
            "last_error": row["last_error"], "sent_at": row["sent_at"], "title": alerts.headline(row["payload"]),
            "delivered": f"{sum(d['state'] == 'sent' for d in row['deliveries'])}/{len(row['deliveries'])}",
            "deliveries": [{"target": d["target"], "scheme": d["scheme"], "state": d["state"],
                            "attempts": d["attempts"], "last_error": d["last_error"], "sent_at": d["sent_at"]}
                           for d in row["deliveries"]],
        })
    return listed


def send_test_alert(spec: AlertsSpec, *, now: dt.datetime | None = None,
                    environ: Mapping[str, str] | None = None) -> list[notify.Delivery]:
    """One test alert to every configured target, not recorded in the ledger; each target's result."""
    now = now or store.utcnow()
    payload = {"event": "test", "subject": "test", "reasons": ["test"], "report_url": spec.report_url,
               "title": "listener test alert", "message": f"If you can read this, alerts reach this target ({iso(now)})."}
    key = alerts.alert_key("test", iso(now), "test", iso(now))
    return [notify.send(target, title=alerts.headline(payload), message=alerts.message(payload), payload=payload,
                        alert_id=alerts.alert_id(key), secret_env=spec.secret_env, environ=environ)
            for target in notify.targets(spec.urls, spec.urls_env, environ)]


def alert_after_cycle(db: sqlite_utils.Database, config: Config, before: dict[str, tuple[str, str | None]], *,
                      now: dt.datetime) -> AlertRunSummary | None:
    """What a poll cycle runs once its feeds are stored: threads entering a queue, mood spikes over
    the last hours, feeds that started failing -> alerts. Never fails the poll: an error is logged."""
    spec = config.alerts
    if spec is None:
        return None
    try:
        threads = thread_summaries(db, config, since=now - config.triage.reply_window, now=now)
        candidates = candidates_from_threads(threads)
        spikes = term_spikes(db, config, now=now, window=spec.spike_window)
        transitions = transitions_between(before, feed_states(db)) if spec.feed_health else []
        return run_alerts(db, spec, candidates, spikes, transitions, now=now, report_url=spec.report_url)
    except (ListenerError, sqlite3.Error) as exc:
        log.error("alerts: %s (the poll itself is stored)", exc, exc_info=log.isEnabledFor(logging.DEBUG))
        return None
