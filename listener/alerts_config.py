"""The `alerts:` key of feeds.yaml -> AlertsSpec. A leaf like models.py: config.py and the alert stage import it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from listener.errors import ConfigError


@dataclass(frozen=True)
class AlertsSpec:
    """The `alerts:` key of feeds.yaml. Durations in seconds; quiet hours are local to `timezone`."""

    urls: tuple[str, ...] = ()
    urls_env: str | None = "LISTENER_ALERT_URLS"
    min_priority: float = 40.0
    cooldown: int = 6 * 3600
    quiet_hours: tuple[dt.time, dt.time] | None = (dt.time(22, 0), dt.time(7, 0))
    max_per_hour: int = 10
    spike_window: int = 3 * 3600
    feed_health: bool = False
    secret_env: str | None = None
    report_url: str | None = None
    timezone: str = "UTC"


ALERT_KEYS = {"urls", "urls_env", "min_priority", "cooldown", "quiet_hours", "max_per_hour",
              "spike_window", "feed_health", "secret_env", "report_url"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_alerts(raw: Any, where: str, *, timezone: str = "UTC") -> AlertsSpec:
    """The `alerts:` mapping -> AlertsSpec; a mistake raises ConfigError naming `where` and the key."""
    def fail(key: str, expected: str) -> ConfigError:
        return ConfigError(f"{where}: alerts.{key}: {expected}" if key else f"{where}: alerts: {expected}")

    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise fail("", "expected a mapping")
    if "secret" in raw:
        raise fail("secret", "secrets never live in the file; name an environment variable in secret_env")
    unknown = sorted(str(k) for k in raw if k not in ALERT_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (expected one of: {', '.join(sorted(ALERT_KEYS))})")
    base = AlertsSpec()

    def duration(key: str, default: int) -> int:
        value = raw.get(key)
        match = _DURATION.match(str(value)) if value is not None else None
        if value is None:
            return default
        if not match:
            raise fail(key, f"expected a duration like 30m, 6h or 1d, got {value!r}")
        return round(float(match.group(1)) * _UNIT_SECONDS[match.group(2)])

    def env_name(key: str, default: str | None) -> str | None:
        value = raw.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not _ENV_NAME.match(value):
            raise fail(key, f"expected an environment variable name like LISTENER_ALERT_SECRET, got {value!r}")
        return value

    urls = raw.get("urls") or []
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not all(isinstance(u, str) and "://" in u for u in urls):
        raise fail("urls", "expected a list of Apprise URLs like slack://... or jsons://host/path")
    min_priority = raw.get("min_priority", base.min_priority)
    if isinstance(min_priority, bool) or not isinstance(min_priority, (int, float)) or not 0 <= min_priority <= 100:
        raise fail("min_priority", "expected a number from 0 to 100")
    max_per_hour = raw.get("max_per_hour", base.max_per_hour)
    if isinstance(max_per_hour, bool) or not isinstance(max_per_hour, int) or not 1 <= max_per_hour <= 1000:
        raise fail("max_per_hour", "expected a whole number from 1 to 1000")
    feed_health = raw.get("feed_health", base.feed_health)
    if not isinstance(feed_health, bool):
        raise fail("feed_health", "expected true or false")
    report_url = raw.get("report_url")
    if report_url is not None and (not isinstance(report_url, str) or not re.match(r"^https?://", report_url)):
        raise fail("report_url", "expected an http(s) URL where the reports are served")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("quiet_hours", f"unknown time zone {timezone!r}") from None
    return AlertsSpec(
        urls=tuple(u.strip() for u in urls),
        urls_env=env_name("urls_env", base.urls_env),
        min_priority=float(min_priority),
        cooldown=duration("cooldown", base.cooldown),
        quiet_hours=_quiet_hours(raw.get("quiet_hours", "22:00-07:00"), fail),
        max_per_hour=max_per_hour,
        spike_window=duration("spike_window", base.spike_window),
        feed_health=feed_health,
        secret_env=env_name("secret_env", None),
        report_url=report_url,
        timezone=timezone,
    )


def _quiet_hours(value: Any, fail: Any) -> tuple[dt.time, dt.time] | None:
    if value is None or value is False or value == "off":
        return None
    parts = str(value).split("-")
    clocks = [_CLOCK.match(part) for part in parts]
    if len(parts) != 2 or not all(clocks) or any(int(c.group(1)) > 23 or int(c.group(2)) > 59
                                                  for c in clocks if c):
        raise fail("quiet_hours", f'expected local times like "22:00-07:00" (or off), got {value!r}')
    start, end = (dt.time(int(c.group(1)), int(c.group(2))) for c in clocks if c)
    return None if start == end else (start, end)
