"""The `alerts:` key of feeds.yaml -> AlertsSpec, with one clear line for each mistake."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from listener.errors import ConfigError
from listener.models import AlertsSpec
from listener.times import parse_duration, parse_opening

# --- alerts: ---------------------------------------------------------------------------------

ALERT_KEYS = {"urls", "urls_env", "min_priority", "cooldown", "quiet_hours", "max_per_hour",
              "spike_window", "feed_health", "secret_env", "report_url"}
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
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError:
            raise fail(key, f"expected a duration like 30m, 6h or 1d, got {value!r}") from None

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
    try:
        start, end = parse_opening(value)
    except ValueError:
        raise fail("quiet_hours", f'expected local times like "22:00-07:00" (or off), got {value!r}') from None
    return None if start == end else (start, end)
