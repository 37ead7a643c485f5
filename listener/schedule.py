"""When things are due: each feed's next poll (interval, hints, back-off), its health, and the digest time.

Pure functions of their arguments (the current time is always passed in), so the daemon, `listener
poll` and the tests share one set of rules and a test can put the clock anywhere.

Rules (RELIABILITY A4, A5, A7, F5, F8, H1, H3):

- a feed is polled every `every:` (else `schedule.poll`), stretched when the feed asks for longer
  (RSS `<ttl>`, `Cache-Control: max-age`, `Expires`, `Retry-After`), never more often than
  `schedule.min_interval` and never less often than once a day;
- a failure waits the interval, then twice that, four times... capped at 24 h, and at least what
  `Retry-After` asks; a success resets the count;
- a feed is `failing` after 3 consecutive errors, `disabled` after 7 days of nothing but errors,
  `gone` on 410, `stale` when a working feed brought nothing new for 14 days;
- the digest is due once the day's `schedule.digest` has passed in the configured time zone and
  the ledger does not say it was sent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from listener.times import local_day, parse_iso, parse_retry_after

MAX_INTERVAL = 24 * 3600
FAILING_AFTER_ERRORS = 3
DISABLE_AFTER = dt.timedelta(days=7)
STALE_AFTER = dt.timedelta(days=14)
MAX_TICK = 60  # the daemon looks for due feeds at least this often (seconds)

# Feed states, as `listener feeds` shows them.
NEW, OK, RETRYING, FAILING, STALE, GONE, DISABLED = "new", "ok", "retrying", "failing", "stale", "gone", "disabled"

# Digest ledger states after which the day's digest is not attempted again without --force.
DIGEST_DONE = frozenset({"sent", "failed_permanent"})


def _clamp(seconds: float, floor: int) -> float:
    return max(floor, min(MAX_INTERVAL, seconds))


def hinted_interval(headers: Mapping[str, str], *, ttl_seconds: int | None, now: dt.datetime) -> float | None:
    """The longest wait the feed asks for: RSS ttl, Cache-Control max-age, Expires, Retry-After.

    None without hints. `headers` has lower-case names.
    """
    hints: list[float] = []
    if ttl_seconds:
        hints.append(ttl_seconds)
    cache_control = headers.get("cache-control", "").lower()
    match = re.search(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", cache_control)
    if match and "no-cache" not in cache_control and "no-store" not in cache_control:
        hints.append(int(match.group(1)))
    expires = headers.get("expires")
    if expires:
        import email.utils  # socket, calendar, locale: not for `listener feeds`, which never parses a header

        try:
            moment = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None and moment.tzinfo is not None:
            hints.append((moment - now).total_seconds())
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    if retry_after is not None:
        hints.append(retry_after)
    return max(hints) if hints else None


def next_poll_after_success(now: dt.datetime, interval: int, *, floor: int,
                            hint: float | None = None) -> dt.datetime:
    """Poll again after the feed's interval, or later when the feed asks; never sooner than `floor`."""
    seconds = max(interval, hint or 0)
    return now + dt.timedelta(seconds=_clamp(seconds, floor))


def backoff_seconds(interval: int, consecutive_errors: int, *, floor: int,
                    retry_after: float | None = None) -> float:
    """The wait after the `consecutive_errors`-th failure in a row (this one included).

    interval, 2x, 4x, ... capped at 24 h; at least `retry_after` (itself capped at 24 h) and `floor`.
    """
    backoff = interval * 2 ** max(0, min(consecutive_errors - 1, 16))
    return _clamp(max(backoff, retry_after or 0), floor)


def next_poll_after_failure(now: dt.datetime, interval: int, *, consecutive_errors: int, floor: int,
                            retry_after: float | None = None) -> dt.datetime:
    """Exponential back-off from the poll interval (doubling, capped at 24 h), at least Retry-After.

    `consecutive_errors` counts this failure too, so the first failure waits one interval.
    """
    seconds = backoff_seconds(interval, consecutive_errors, floor=floor, retry_after=retry_after)
    return now + dt.timedelta(seconds=seconds)


def feed_state(row: Mapping[str, Any], now: dt.datetime) -> str:
    """ok, new, retrying, failing, stale, gone or disabled, from a feeds row (see the module docstring).

    Uses status, consecutive_errors, last_polled_at, last_new_item_at and created_at.
    """
    status = row.get("status")
    if status in (GONE, DISABLED):
        return status
    errors = row.get("consecutive_errors") or 0
    if errors >= FAILING_AFTER_ERRORS:
        return FAILING
    if errors:
        return RETRYING
    if not row.get("last_polled_at"):
        return NEW
    # A feed that never brought anything counts from when it was added.
    last_new = parse_iso(row.get("last_new_item_at")) or parse_iso(row.get("created_at"))
    if last_new is not None and now - last_new >= STALE_AFTER:
        return STALE
    return OK


def poll_tick(intervals: Iterable[int], *, floor: int) -> int:
    """How often the daemon looks for due feeds: the shortest effective interval, 1 s to 60 s."""
    shortest = min((max(floor, i) for i in intervals), default=MAX_TICK)
    return int(max(1, min(MAX_TICK, shortest)))


# --- the digest -------------------------------------------------------------------------------


def digest_fire_time(day: dt.date, at: dt.time, tz: str) -> dt.datetime:
    """When the digest of `day` is due, as an aware UTC datetime.

    On the spring-forward day a time in the gap (01:30 in Europe/London on 2026-03-29) means the
    same wall time on the old offset, i.e. an hour later on the new clock (02:30 BST); on the
    fall-back day an ambiguous time means its first occurrence (01:30 BST). APScheduler's cron
    trigger fires at the same instants (and once more at the second 01:30, which the ledger
    turns into a no-op).
    """
    local = dt.datetime.combine(day, at.replace(tzinfo=None), tzinfo=ZoneInfo(tz)).replace(fold=0)
    return local.astimezone(dt.timezone.utc)


def digest_due(now: dt.datetime, ledger_status: str | None, at: dt.time, tz: str) -> bool:
    """Is it time to (try to) send today's digest? Today is `now`'s day in `tz`.

    Due when the day's digest time has passed and the ledger does not say it is done: no row,
    `pending`, `sending` (a crash after SMTP, resent with the same Message-ID) or a temporary
    failure are all due; `sent` and `failed_permanent` are not.
    """
    if ledger_status in DIGEST_DONE:
        return False
    return now >= digest_fire_time(local_day(now, tz), at, tz)


# --- the wall clock ---------------------------------------------------------------------------


def clock_skew(wall_then: float, mono_then: float, wall_now: float, mono_now: float) -> float:
    """How far the wall clock moved beyond the real elapsed time (seconds; < 0 = it went back).

    `wall_*` from time.time(), `mono_*` from time.monotonic(): monotonic time never jumps, so any
    difference between the two elapsed times is a step of the wall clock (NTP, suspend, an admin).
    """
    return (wall_now - wall_then) - (mono_now - mono_then)
