"""When each feed is due next: its interval, stretched by the feed's own hints, and back-off on failure."""

from __future__ import annotations

import datetime as dt
import email.utils
import re

MAX_INTERVAL = 24 * 3600


def _clamp(seconds: float, floor: int) -> float:
    return max(floor, min(MAX_INTERVAL, seconds))


def hinted_interval(headers: dict[str, str], *, ttl_seconds: int | None, now: dt.datetime) -> float | None:
    """The longest wait the feed asks for: RSS ttl, Cache-Control max-age, Expires. None without hints."""
    hints: list[float] = []
    if ttl_seconds:
        hints.append(ttl_seconds)
    cache_control = headers.get("cache-control", "")
    match = re.search(r"max-age\s*=\s*(\d+)", cache_control)
    if match and "no-cache" not in cache_control and "no-store" not in cache_control:
        hints.append(int(match.group(1)))
    expires = headers.get("expires")
    if expires:
        try:
            moment = email.utils.parsedate_to_datetime(expires)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None and moment.tzinfo is not None:
            hints.append((moment - now).total_seconds())
    return max(hints) if hints else None


def next_poll_after_success(now: dt.datetime, interval: int, *, floor: int,
                            hint: float | None = None) -> dt.datetime:
    """Poll again after the feed's interval, or later when the feed asks; never sooner than `floor`."""
    seconds = max(interval, hint or 0)
    return now + dt.timedelta(seconds=_clamp(seconds, floor))


def next_poll_after_failure(now: dt.datetime, interval: int, *, consecutive_errors: int, floor: int,
                            retry_after: float | None = None) -> dt.datetime:
    """Exponential back-off from the poll interval (doubling, capped at 24 h), at least Retry-After.

    `consecutive_errors` counts this failure too, so the first failure waits one interval.
    """
    backoff = interval * 2 ** max(0, min(consecutive_errors - 1, 16))
    seconds = max(backoff, retry_after or 0)
    return now + dt.timedelta(seconds=_clamp(seconds, floor))
