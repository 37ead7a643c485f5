"""How listener writes and reads moments: ISO 8601 UTC text in the database and JSON, local days.

A leaf module like models.py: every stage may import it, and it imports no stage.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
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
    import email.utils  # only a Retry-After date needs it, and it loads socket, calendar and locale

    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000" parses naive; HTTP-dates are UTC
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (moment - now).total_seconds())


# --- what people type: durations, ages, moments ---------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_AGE = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")
_AGE_DAYS = {"d": 1, "w": 7}
MAX_AGE_DAYS = 100_000


def parse_duration(value: str) -> int:
    """'15m' -> 900. Raises ValueError with what is expected."""
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected a duration like 30s, 15m, 2h or 1d, got {value!r}")
    return round(float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_age(value: str) -> int:
    """'90d' -> 90, '12w' -> 84: how old an item must be to lose its text, in whole days.

    Pruning cannot be undone, so nothing is guessed: `m` means minutes in every other duration
    (`1m` once pruned everything polled a minute earlier), units below a day are refused, and
    so is 0 (which once silently meant the default). Raises ValueError naming the value.
    """
    match = _AGE.match(str(value))
    unit = match.group(2).lower() if match else ""
    if match and unit in _AGE_DAYS:
        days = int(match.group(1)) * _AGE_DAYS[unit]
        if days == 0:
            raise ValueError(f"{value!r} would drop the text of every item; the shortest age is 1d")
        if days > MAX_AGE_DAYS:
            raise ValueError(f"{value!r} is more than {MAX_AGE_DAYS} days")
        return days
    if match and unit in _UNIT_SECONDS:
        what = {"s": "seconds", "m": "minutes (a month is 30d)", "h": "hours"}.get(unit, "")
        raise ValueError(f"{value!r} is in {what}: ages are whole days or weeks, like 90d or 12w")
    raise ValueError(f"expected an age in days or weeks like 90d or 12w, got {value!r}")


def parse_when(value: str, timezone: str, now: dt.datetime) -> dt.datetime:
    """`--since`: `30m`, `24h`, `7d` ago; `today` or `yesterday` (that local day's midnight, as
    `--date` reads them); or an ISO date/time (a bare date is its midnight in `timezone`). UTC out."""
    text = str(value).strip()
    try:
        return now - dt.timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    zone = ZoneInfo(timezone)
    if text.lower() in ("today", "yesterday"):
        day = now.astimezone(zone).date() - dt.timedelta(days=text.lower() == "yesterday")
        return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.timezone.utc)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected 30m, 24h, 7d, today, yesterday or an ISO date/time, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(dt.timezone.utc)


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_OPENING = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_weekdays(value: str) -> frozenset[int]:
    """'mon-fri' -> {0..4}; 'mon,wed,fri' and 'sat-sun' too (0 = Monday). Raises ValueError."""
    days: set[int] = set()
    for part in str(value).lower().replace(" ", "").split(","):
        ends = part.split("-")
        if len(ends) > 2 or not all(e[:3] in _WEEKDAYS for e in ends):
            raise ValueError(f"expected days like mon-fri or mon,wed,fri, got {value!r}")
        first, last = _WEEKDAYS.index(ends[0][:3]), _WEEKDAYS.index(ends[-1][:3])
        days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
    return frozenset(days)


def parse_opening(value: str) -> tuple[dt.time, dt.time]:
    """'09:00-17:30' -> (09:00, 17:30); a closing time at or before the opening one is the next day."""
    match = _OPENING.match(str(value))
    if not match or int(match.group(1)) > 23 or int(match.group(3)) > 24 or int(match.group(2)) > 59 \
            or int(match.group(4)) > 59:
        raise ValueError(f'expected local hours like "09:00-17:30", got {value!r}')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return dt.time(h1, m1), (dt.time(0, 0) if h2 == 24 else dt.time(h2, m2))


BUSINESS_DAYS_MAX = 400  # a wait is counted over at most this many days: older items left the reply window


def business_seconds(start: dt.datetime, end: dt.datetime, *, days: frozenset[int], opens: dt.time,
                     closes: dt.time, timezone: str, past: float | None = None) -> float:
    """Seconds of [start, end) that fall in business hours (local wall clock in `timezone`, DST included).

    `past`: the caller only needs to know whether the total exceeds it; counting stops once it does.
    """
    if end <= start or not days:
        return 0.0
    tz = ZoneInfo(timezone)
    first = start.astimezone(tz).date() - dt.timedelta(days=1)  # yesterday's overnight hours may reach today
    last = min(end.astimezone(tz).date(), first + dt.timedelta(days=BUSINESS_DAYS_MAX))
    total = 0.0
    day = first
    while day <= last:
        if day.weekday() in days:
            opening, closing = _business_day(day, opens, closes, timezone)
            overlap = (min(end, closing) - max(start, opening)).total_seconds()
            total += max(0.0, overlap)
            if past is not None and total > past:
                break
        day += dt.timedelta(days=1)
    return total


@functools.lru_cache(maxsize=1024)
def _business_day(day: dt.date, opens: dt.time, closes: dt.time, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """A business day's opening and closing in UTC: the same few days recur for every thread a list ranks."""
    tz = ZoneInfo(timezone)
    opening = dt.datetime.combine(day, opens, tzinfo=tz).astimezone(dt.timezone.utc)
    closing_day = day + dt.timedelta(days=1) if closes <= opens else day
    return opening, dt.datetime.combine(closing_day, closes, tzinfo=tz).astimezone(dt.timezone.utc)
