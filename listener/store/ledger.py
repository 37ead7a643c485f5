"""The digest ledger: one row per day and recipient, pending -> sending -> sent (or failed_permanent).

"sent" is written only after the SMTP server accepted the message (RELIABILITY F5, F6, G1-G5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from listener import lifeline
from listener.store.base import MAX_ERROR_CHARS, write
from listener.times import iso, parse_iso


@dataclass(frozen=True)
class DigestClaim:
    """Who this run will send the digest to, under which Message-ID, and who it leaves alone."""

    due: dict[str, str]  # recipient -> Message-ID to use
    already_sent: list[str]
    permanent: list[str]
    in_flight: list[str]


def digest_rows(db: sqlite_utils.Database, day: dt.date) -> dict[str, dict[str, Any]]:
    """recipient -> its ledger row for `day`."""
    return {row["recipient"]: row for row in db.query("SELECT * FROM digests WHERE day = ?", [day.isoformat()])}


def digest_ledger_status(db: sqlite_utils.Database, day: dt.date, recipients: Sequence[str]) -> str | None:
    """Where the digest of `day` stands for these recipients, from the `digests` ledger.

    `sent` when every recipient's row says sent; `failed_permanent` when every row is sent or
    failed_permanent and one failed; else the status of the first recipient not done (None when
    it has no row yet: nothing was attempted).
    """
    rows = digest_rows(db, day)
    statuses = [rows[recipient]["status"] if recipient in rows else None for recipient in recipients]
    for status in statuses:
        if status not in ("sent", "failed_permanent"):
            return status
    return "sent" if all(status == "sent" for status in statuses) else "failed_permanent"


def claim_digest(db: sqlite_utils.Database, day: dt.date, recipients: Sequence[str], *,
                 message_id: Callable[[int], str], force: bool, now: dt.datetime,
                 in_flight_for: dt.timedelta) -> DigestClaim:
    """Mark `sending` the recipients this run should send to, in one write transaction.

    Left alone: `sent` and `failed_permanent` (unless `force`), and `sending` rows younger than
    `in_flight_for` whose owner process still runs (another run is at it). A `pending` row, or a
    `sending` row older than that or whose owner died (a run killed around the SMTP call), is sent
    again with its stored Message-ID, so a duplicate is recognisable. `message_id(resend)` makes
    the id: resend 0 for a first send, n > 0 for the
    n-th forced resend. Concurrent runs serialise on BEGIN IMMEDIATE: one claims, the other sees it.
    """
    stamp, key, owner = iso(now), day.isoformat(), lifeline.process_token()
    due: dict[str, str] = {}
    already, permanent, flying = [], [], []
    with write(db):
        rows = digest_rows(db, day)
        resend = 1 + max((row["attempts"] or 0 for row in rows.values() if row["status"] == "sent"), default=0)
        for recipient in recipients:
            row = rows.get(recipient)
            status = row["status"] if row else None
            if status == "sent" and not force:
                already.append(recipient)
                continue
            if status == "failed_permanent" and not force:
                permanent.append(recipient)
                continue
            if row is not None and status == "sending" and not force:
                claimed_at = parse_iso(row["updated_at"])
                assert claimed_at is not None  # every write to the ledger stamps updated_at
                if claimed_at > now - in_flight_for and not lifeline.owner_is_dead(row.get("owner")):
                    flying.append(recipient)
                    continue
            if status in ("sent", "failed_permanent") or not row or not row["message_id"]:
                mid = message_id(resend if status == "sent" else 0)
            else:
                mid = row["message_id"]
            due[recipient] = mid
            db.execute(
                "INSERT INTO digests (day, recipient, status, message_id, attempts, updated_at, owner)"
                " VALUES (?, ?, 'sending', ?, 1, ?, ?)"
                " ON CONFLICT(day, recipient) DO UPDATE SET status = 'sending', message_id = excluded.message_id,"
                " attempts = digests.attempts + 1, updated_at = excluded.updated_at, owner = excluded.owner",
                [key, recipient, mid, stamp, owner])
    return DigestClaim(due, already, permanent, flying)


def finish_digest(db: sqlite_utils.Database, day: dt.date, outcomes: dict[str, tuple[str, str | None]], *,
                  now: dt.datetime) -> None:
    """Record what the server said: recipient -> (status, error); `sent` stamps sent_at."""
    stamp = iso(now)
    with write(db):
        for recipient, (status, error) in outcomes.items():
            db.execute(
                "UPDATE digests SET status = ?, last_error = ?, updated_at = ?,"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE day = ? AND recipient = ?",
                [status, (error or None) and error[:MAX_ERROR_CHARS], stamp, status, stamp, day.isoformat(),
                 recipient])

