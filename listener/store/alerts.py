"""The alert ledger: one row per (subject, reason, window) and one per (alert, target).

An alert is `sent` only after every target accepted it. A target that failed is retried on later
cycles with back-off (BACKOFF), and a target that accepted is never sent it again. Each target's
acceptance is written the moment it is known, so a process killed between a send and that write
re-sends to that one target once (at least once, never lost). Targets are stored as a hash of
their URL, never the URL, which may carry a secret.

Every write goes through `write()` (BEGIN IMMEDIATE); all SQL is parameterised. The tables come
from migration m006 (schema.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from listener.store.base import MAX_ERROR_CHARS, write
from listener.times import iso, parse_iso

BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=15), dt.timedelta(minutes=60))
GIVE_UP_AFTER = dt.timedelta(hours=24)  # an alert a day old that still fails is marked failed
CLAIM_LIMIT = 100


def create_alert_tables(db: sqlite_utils.Database) -> None:
    """The alert ledger and its deliveries (issue 12)."""
    db.table("alerts").create({
        "key": str, "subject_kind": str, "subject_id": str, "reason": str, "window": str,
        "created": str, "state": str, "payload": str, "negative_items": int, "attempts": int,
        "next_try": str, "last_error": str, "queued": str, "sent_at": str, "summary_key": str,
    }, pk="key", not_null={"subject_kind", "subject_id", "reason", "window", "created", "state", "payload"},
        defaults={"attempts": 0, "negative_items": 0})
    db.table("alerts").create_index(["subject_kind", "subject_id", "created"])
    db.table("alerts").create_index(["state", "next_try"])
    db.table("alerts").create_index(["created"])
    db.table("alert_deliveries").create({
        "alert_key": str, "target": str, "scheme": str, "state": str, "attempts": int,
        "last_error": str, "updated": str, "sent_at": str,
    }, pk=("alert_key", "target"), not_null={"state"}, defaults={"attempts": 0},
        foreign_keys=[("alert_key", "alerts", "key")])
    db.table("alert_deliveries").create_index(["state"])


# --- recording decisions ----------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    """One decided alert: `state` pending (send now), held (until `next_try`) or folded (into `summary_key`)."""

    key: str
    subject_kind: str
    subject_id: str
    reason: str
    window: str
    state: str
    payload: dict[str, Any]
    negative_items: int = 0
    next_try: dt.datetime | None = None
    summary_key: str | None = None


def record(db: sqlite_utils.Database, entries: Sequence[LedgerEntry], *, now: dt.datetime) -> None:
    """Write a cycle's decision in one transaction. A known key changes only from `held` (its release)."""
    stamp = iso(now)
    with write(db):
        for entry in entries:
            queued = stamp if entry.state == "pending" else None
            db.execute(
                "INSERT INTO alerts (key, subject_kind, subject_id, reason, window, created, state, payload,"
                " negative_items, attempts, next_try, queued, summary_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET state = excluded.state, queued = excluded.queued,"
                " next_try = excluded.next_try, summary_key = excluded.summary_key"
                " WHERE alerts.state = 'held' AND excluded.state != 'held'",
                [entry.key, entry.subject_kind, entry.subject_id, entry.reason, entry.window, stamp, entry.state,
                 json.dumps(entry.payload, sort_keys=True), entry.negative_items, iso(entry.next_try), queued,
                 entry.summary_key])


def decision_rows(db: sqlite_utils.Database, subjects: Iterable[tuple[str, str]], *,
                  now: dt.datetime) -> list[dict[str, Any]]:
    """What the rules need: every row of these subjects, every held row, every row queued in the last hour."""
    rows: dict[str, dict[str, Any]] = {}
    for kind, ident in set(subjects):
        for row in db.query("SELECT * FROM alerts WHERE subject_kind = ? AND subject_id = ?"
                            " ORDER BY created DESC LIMIT 50", [kind, ident]):
            rows[row["key"]] = row
    for row in db.query("SELECT * FROM alerts WHERE state = 'held' OR queued > ?",
                        [iso(now - dt.timedelta(hours=1))]):
        rows[row["key"]] = row
    return list(rows.values())


# --- delivering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueAlert:
    """An alert to deliver now, and the targets (hashes) that already accepted it."""

    key: str
    payload: dict[str, Any]
    attempts: int
    created: dt.datetime
    accepted: frozenset[str]


def claim_due(db: sqlite_utils.Database, *, now: dt.datetime, limit: int = CLAIM_LIMIT) -> list[DueAlert]:
    """Pending alerts whose next try has come: oldest first, within a cycle highest rank first, summaries last."""
    due = []
    for row in db.query("SELECT key, payload, attempts, created FROM alerts WHERE state = 'pending'"
                        " AND (next_try IS NULL OR next_try <= ?) ORDER BY created, subject_kind = 'summary',"
                        " json_extract(payload, '$.rank') DESC, key LIMIT ?",
                        [iso(now), limit]):
        accepted = frozenset(r[0] for r in db.execute(
            "SELECT target FROM alert_deliveries WHERE alert_key = ? AND state = 'sent'", [row["key"]]).fetchall())
        created = parse_iso(row["created"])
        assert created is not None  # NOT NULL
        due.append(DueAlert(row["key"], json.loads(row["payload"]), row["attempts"] or 0, created, accepted))
    return due


def mark_attempt(db: sqlite_utils.Database, key: str, target: str, scheme: str, *, now: dt.datetime) -> None:
    """Before a send: the target's row says `sending`, so a crash leaves a trace of the try."""
    with write(db):
        db.execute(
            "INSERT INTO alert_deliveries (alert_key, target, scheme, state, attempts, updated)"
            " VALUES (?, ?, ?, 'sending', 1, ?) ON CONFLICT(alert_key, target) DO UPDATE SET"
            " state = 'sending', attempts = alert_deliveries.attempts + 1, updated = excluded.updated"
            " WHERE alert_deliveries.state != 'sent'",
            [key, target, scheme, iso(now)])


def mark_accepted(db: sqlite_utils.Database, key: str, target: str, *, now: dt.datetime) -> None:
    """The target accepted the alert: it is never sent it again."""
    with write(db):
        db.execute("UPDATE alert_deliveries SET state = 'sent', sent_at = ?, updated = ?, last_error = NULL"
                   " WHERE alert_key = ? AND target = ?", [iso(now), iso(now), key, target])


def mark_target_failed(db: sqlite_utils.Database, key: str, target: str, error: str, *, now: dt.datetime) -> None:
    with write(db):
        db.execute("UPDATE alert_deliveries SET state = 'failed', last_error = ?, updated = ?"
                   " WHERE alert_key = ? AND target = ? AND state != 'sent'",
                   [error[:MAX_ERROR_CHARS], iso(now), key, target])


def settle(db: sqlite_utils.Database, key: str, targets: Sequence[str], *, now: dt.datetime) -> str:
    """After a round: `sent` when every target accepted, else a retry is scheduled (or, a day on, `failed`)."""
    with write(db):
        accepted = {r[0] for r in db.execute(
            "SELECT target FROM alert_deliveries WHERE alert_key = ? AND state = 'sent'", [key]).fetchall()}
        if all(target in accepted for target in targets):
            db.execute("UPDATE alerts SET state = 'sent', sent_at = ?, next_try = NULL, last_error = NULL"
                       " WHERE key = ?", [iso(now), key])
            return "sent"
        row = db.execute("SELECT attempts, created FROM alerts WHERE key = ?", [key]).fetchone()
        attempts = (row[0] or 0) + 1
        errors = [f"{target}: {error}" for target, error in db.execute(
            "SELECT target, last_error FROM alert_deliveries WHERE alert_key = ? AND state != 'sent'", [key])]
        last_error = "; ".join(errors)[:MAX_ERROR_CHARS] or "not delivered"
        created = parse_iso(row[1])
        assert created is not None
        if now - created >= GIVE_UP_AFTER:
            db.execute("UPDATE alerts SET state = 'failed', attempts = ?, next_try = NULL, last_error = ?"
                       " WHERE key = ?", [attempts, last_error, key])
            return "failed"
        next_try = now + BACKOFF[min(attempts, len(BACKOFF)) - 1]
        db.execute("UPDATE alerts SET attempts = ?, next_try = ?, last_error = ? WHERE key = ?",
                   [attempts, iso(next_try), last_error, key])
        return "pending"



def mark_folded_sent(db: sqlite_utils.Database, summary_key: str, *, now: dt.datetime) -> None:
    """The summary went out: the alerts folded into it count as delivered."""
    with write(db):
        db.execute("UPDATE alerts SET sent_at = ? WHERE summary_key = ? AND state = 'folded'",
                   [iso(now), summary_key])


# --- reading ----------------------------------------------------------------------------------


def recent_alerts(db: sqlite_utils.Database, *, since: dt.datetime | None = None,
                  limit: int = 50) -> list[dict[str, Any]]:
    """Newest first, each with its `deliveries` (target hash, scheme, state, attempts, last_error, sent_at)."""
    rows = list(db.query(
        "SELECT * FROM alerts WHERE created >= ? ORDER BY created DESC, key LIMIT ?",
        [iso(since) if since else "", limit]))
    for row in rows:
        row["payload"] = json.loads(row["payload"])
        row["deliveries"] = list(db.query(
            "SELECT target, scheme, state, attempts, last_error, sent_at FROM alert_deliveries"
            " WHERE alert_key = ? ORDER BY target", [row["key"]]))
    return rows
