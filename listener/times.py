"""How listener writes and reads moments: ISO 8601 UTC text in the database and JSON, local days.

A leaf module like models.py: every stage may import it, and it imports no stage.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import overload
from zoneinfo import ZoneInfo


@overload
def iso(moment: dt.datetime) -> str: ...
@overload
def iso(moment: None) -> None: ...
@overload
def iso(moment: dt.datetime | None) -> str | None: ...


def iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, to the second: sorts as text, reads as time."""
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | dt.datetime | None) -> dt.datetime | None:
    """An aware datetime from stored text (or a datetime, naive read as UTC); None for nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def stored_moment(value: str | dt.datetime | None) -> dt.datetime:
    """A timestamp from a NOT NULL column (published, first_seen, acked_at); missing is a bug."""
    moment = parse_iso(value)
    if moment is None:
        raise ValueError("a stored timestamp is missing")
    return moment


def local_day(moment: dt.datetime, timezone: str) -> dt.date:
    """The calendar day `moment` (aware) falls on in `timezone`: "today" for reports and the digest."""
    return moment.astimezone(ZoneInfo(timezone)).date()


def parse_retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Seconds a `Retry-After` value asks for: delta-seconds or an HTTP-date; None for garbage or absent.

    A date in the past means "now" (0). Capping is the caller's business (see _clamp).
    """
    value = (value or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000" parses naive; HTTP-dates are UTC
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (moment - now).total_seconds())
