"""The day's report and digest: what the stored mentions say about a day, rendered and delivered."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlite_utils

from listener import mail, mood, report, store
from listener.errors import ListenerError, LockedError, MailError, UsageError
from listener.models import Config
from listener.pipeline.conversations import thread_summaries
from listener.pipeline.upkeep import feed_overview
from listener.schedule import FAILING_AFTER_ERRORS
from listener.text import display_title, stored_terms
from listener.times import local_day, stored_moment

log = logging.getLogger(__name__)


def _tallies(db: sqlite_utils.Database, config: Config, start: dt.datetime, end: dt.datetime) -> mood.Tallies:
    """The mood's counts per local day, from the store's counts by the quarter hour."""
    counts = []
    for quarter, found, kind, count, total, scored in store.mood_counts(db, start, end, negative=config.negative,
                                                                        positive=config.positive):
        try:
            counts.append((stored_moment(f"{quarter}:00Z"), kind, stored_terms(found), count, total, scored))
        except (TypeError, ValueError):
            log.warning("%d mentions with unreadable data (first_seen %r…) are left out of the mood", count, quarter)
    return mood.tally_counts(counts, timezone=config.timezone, terms=[w.name for w in config.watch])


def _titled(rows: list[dict]) -> list[dict]:
    """A comment's own title is "By: Name"; a reader needs to know which conversation it is in."""
    for row in rows:
        row["title"] = display_title(row.get("title"), thread_title=row.get("thread_title")) or row.get("title")
    return rows


def day_report(db: sqlite_utils.Database, config: Config, day: dt.date, *,
               now: dt.datetime | None = None) -> report.DayReport:
    """What the report and the digest show for `day` (a local day in config.timezone).

    The mood counts the mentions heard that day (first seen; published, for a first poll's archive);
    the queues (reply, moderate, thank) and the feed health are as of `now`.
    """
    now = now or store.utcnow()
    tz = config.timezone
    history, _ = mood.day_bounds(mood.history_start(day, chart_days=report.CHART_DAYS), tz)
    start, end = mood.day_bounds(day, tz)
    tallies = _tallies(db, config, history, end)
    top = report.TOP_MENTIONS
    problems = []
    try:
        threads = [t for t in thread_summaries(db, config, since=now - config.triage.reply_window, now=now) if t.queues]
    except Exception as exc:  # noqa: BLE001 - RELIABILITY D6: the rest of the report still goes out
        log.exception("could not list the threads in the queues")
        threads, problems = [], [f"The threads that need a reply could not be listed ({type(exc).__name__}: {exc})."]
    return report.build_report(
        day=day, timezone=tz, generated_at=now,
        overall=mood.scope_mood(tallies, mood.OVERALL, day, chart_days=report.CHART_DAYS),
        terms=[mood.scope_mood(tallies, w.name, day, chart_days=report.CHART_DAYS) for w in config.watch],
        threads=threads, problems=problems,
        negative_rows=_titled(store.day_mentions(db, start, end, most="negative", threshold=config.negative, limit=top)),
        positive_rows=_titled(store.day_mentions(db, start, end, most="positive", threshold=config.positive, limit=top)),
        feed_rows=feed_overview(store.feed_health(db, include_comment_feeds=True, failing_after=FAILING_AFTER_ERRORS),
                                now=now),
        negative=config.negative, positive=config.positive,
        listening_since=local_day(first, tz) if (first := store.first_heard(db)) else None, never_heard=first is None,
    )


def _write_report(config: Config, data: report.DayReport, out_dir: Path, now: dt.datetime) -> Path:
    """Write the day's page, then the index; a full disk or a bad directory is one clear error."""
    path = out_dir / f"{data.day.isoformat()}.html"
    try:
        report.write_page(path, report.render_report(data))
        index = report.render_index(report.index_entries(out_dir), generated_at=now, timezone=config.timezone)
        report.write_page(out_dir / "index.html", index)
    except OSError as exc:
        raise ListenerError(f"cannot write the report {path}: {exc.strerror or exc}") from exc
    return path


def render_report(config: Config, day: dt.date | None = None, out_dir: str | os.PathLike | None = None, *,
                  now: dt.datetime | None = None,
                  on_made: Callable[[report.DayReport], None] | None = None) -> Path:
    """`listener report`: write reports/YYYY-MM-DD.html and refresh reports/index.html; return the page's path.

    Both files are written to a temp file and renamed, so a reader never sees half a page.
    """
    now = now or store.utcnow()
    day = day or local_day(now, config.timezone)
    db = store.open_db(config.database)
    try:
        data = day_report(db, config, day, now=now)
    finally:
        db.close()
    path = _write_report(config, data, Path(out_dir) if out_dir else config.reports_dir, now)
    if on_made:
        on_made(data)
    return path


def run_digest(config: Config, day: dt.date | None = None, *, send: bool = False,
               to: Sequence[str] | None = None, force: bool = False,
               now: dt.datetime | None = None) -> mail.DigestOutcome:
    """`listener digest` and the daemon's digest job: build the day's digest; with `send`, deliver it.

    At most once per day and recipient (the `digests` ledger) unless `force`; "sent" is recorded
    only after the server accepted the message. A failure raises MailError after the ledger is
    updated, so the next run retries exactly the recipients that did not get it (never those
    refused for good, unless `force`). Another run sending right now -> LockedError (exit 75).
    """
    now = now or store.utcnow()
    day = day or local_day(now, config.timezone)
    recipients = tuple(dict.fromkeys(mail.check_address(a) for a in (to or config.digest.to)))
    if send and not recipients:
        raise UsageError(f"no one to send the digest to: set digest.to in {config.path} or pass --to")
    db = store.open_db(config.database)
    try:
        data = day_report(db, config, day, now=now)
        parts = report.render_digest(data, max_items=config.digest.max_items,
                                     report_hint=f" (listener report --date {day.isoformat()})")
        message = mail.build_message(subject=parts.subject, from_addr=config.digest.from_addr, to=recipients,
                                     text=parts.text, html=parts.html, date=now,
                                     message_id=_message_id(config, day, recipients))
        outcome = mail.DigestOutcome(day, message, recipients)
        if send:
            try:
                outcome.report_path = str(_write_report(config, data, config.reports_dir, now))
            except ListenerError as exc:  # the email still goes out; its "more in the report" hint says how to make it
                log.warning("could not write the report for %s: %s", day, exc)
            _deliver(db, config, outcome, force=force, now=now)
    finally:
        db.close()
    return outcome


def _message_id(config: Config, day: dt.date, recipients: Sequence[str], *, resend: int = 0) -> str:
    """Per installation, day and recipients: a resend after a crash reuses it; two installations mailing
    one inbox never share one (mail clients would hide the second)."""
    return mail.message_id(day, recipients, resend=resend, installation=mail.installation_id(config.database),
                           domain=mail.id_domain(config.digest.from_addr))


def _deliver(db: sqlite_utils.Database, config: Config, outcome: mail.DigestOutcome, *, force: bool,
             now: dt.datetime) -> None:
    spec = config.digest.smtp
    password = mail.smtp_password(spec)  # a username without a password is a config error, before any claim
    claim = store.claim_digest(
        db, outcome.day, outcome.recipients, force=force, now=now,
        message_id=lambda resend: _message_id(config, outcome.day, outcome.recipients, resend=resend),
        in_flight_for=dt.timedelta(seconds=max(300.0, 10 * spec.timeout)))
    outcome.already_sent, outcome.permanent, outcome.in_flight = claim.already_sent, claim.permanent, claim.in_flight
    groups: dict[str, list[str]] = {}
    for recipient, message_id in claim.due.items():
        groups.setdefault(message_id, []).append(recipient)
    errors: list[MailError] = []
    for message_id, group in groups.items():
        outcome.message.replace_header("Message-ID", message_id)
        results: dict[str, tuple[str, str | None]] = {}
        try:
            delivery = mail.send(outcome.message, group, spec, from_addr=config.digest.from_addr, password=password)
        except MailError as exc:
            errors.append(exc)
            status = "failed_permanent" if exc.permanent else "pending"
            results = {recipient: (status, str(exc)) for recipient in group}
        else:
            results = {recipient: ("sent", None) for recipient in delivery.accepted}
            for recipient, (code, text) in delivery.refused.items():
                permanent = 500 <= code < 600
                errors.append(MailError("refused", f"{recipient}: {code} {text}", permanent=permanent))
                results[recipient] = ("failed_permanent" if permanent else "pending", f"{code} {text}")
        store.finish_digest(db, outcome.day, results, now=store.utcnow())
        for recipient, (status, error) in results.items():
            if status == "sent":
                outcome.sent.append(recipient)
            else:
                outcome.failed[recipient] = f"{error}" + (" (permanent: not retried)" if status == "failed_permanent"
                                                         else " (will retry)")
        log.info("digest %s, %s: %s", outcome.day, message_id, results)
    if errors:
        kinds = {exc.kind for exc in errors}
        raise MailError(kinds.pop() if len(kinds) == 1 else "partial", outcome.line(),
                        permanent=all(exc.permanent for exc in errors))
    if outcome.in_flight and not outcome.sent:
        raise LockedError(outcome.line())

