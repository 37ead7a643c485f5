"""feeds.yaml -> a validated Config. Every mistake is one line naming the file, the key and what is expected."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from listener.config import cache
from listener.config.alerts import parse_alerts
from listener.errors import ConfigError, UsageError
from listener.models import (
    BusinessHours,
    CommentLimits,
    Config,
    DigestSpec,
    FeedSpec,
    FetchLimits,
    Scorer,
    SmtpSpec,
    TriageSpec,
    WatchSpec,
)
from listener.times import parse_age, parse_duration, parse_opening, parse_weekdays, parse_when  # noqa: F401

log = logging.getLogger(__name__)

DEFAULT_PATH = "feeds.yaml"

TOP_KEYS = {
    "database", "reports_dir", "timezone", "watch", "staff", "feeds", "schedule",
    "thresholds", "digest", "fetch", "comments", "retention_days", "alerts", "sentiment", "triage",
}


def _choose(value: str | None, choices: Sequence[str], option: str, what: str, path: Path) -> str | None:
    if value is None:
        return None
    for choice in choices:
        if choice.casefold() == value.strip().casefold():
            return choice
    if not choices:
        raise UsageError(f"{option}: no {what} named {value!r}: {path} has none")
    listed = ", ".join(repr(c) for c in choices[:20]) + (f" and {len(choices) - 20} more" if len(choices) > 20 else "")
    raise UsageError(f"{option}: no {what} named {value!r} in {path} (choose from: {listed})")


def watch_name(config: Config, value: str | None, option: str = "--term") -> str | None:
    """The watch entry `value` names (any case); an unknown one is a usage error naming the choices,
    never an empty answer that reads as "nobody said anything"."""
    return _choose(value, [w.name for w in config.watch], option, "watch entry", config.path)


def feed_name(config: Config, value: str | None, option: str = "--feed") -> str | None:
    """The configured feed `value` names (any case); an unknown one is a usage error naming the choices."""
    return _choose(value, [f.name for f in config.feeds], option, "feed", config.path)


def config_path(path: str | os.PathLike[str] | None) -> Path:
    """The config to use: the argument, else $LISTENER_CONFIG, else ./feeds.yaml."""
    return Path(path or os.environ.get("LISTENER_CONFIG") or DEFAULT_PATH)


def _load_yaml(text: str) -> Any:
    """libyaml's safe loader when PyYAML has it (the pure-Python one takes ~0.15 s for 300 feeds);
    a broken file is read again by the pure-Python loader, whose messages name the problem better."""
    import yaml  # ~8 ms: only when the file changed since the cache last saw it

    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _parse(path: Path, data: bytes) -> Any:
    """The YAML data of the file: as parsed before when these bytes were (config/cache.py)."""
    raw = cache.cached(path, data)
    if raw is not cache.MISSING:
        return raw
    import yaml

    try:
        raw = _load_yaml(data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"))  # as read_text() reads
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{line}: {problem}") from None
    cache.remember(path, data, raw)
    return raw


def _loopback(host: str) -> bool:
    from listener.netpolicy import is_loopback_host  # loads socket: only a plain-text login needs it

    return is_loopback_host(host)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    path = config_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (create one with `listener init`)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    raw = _parse(path, data)
    config = _Reader(path).config(raw if raw is not None else {})
    if not config.feeds and not config.watch:
        log.warning("%s lists no feeds and no watch terms: listener will hear nothing "
                    "(`listener init --brand NAME` writes a starter, `listener import-opml` adds feeds)", path)
    return config


class _Reader:
    """Walks the YAML tree, remembering the file so every error can name file and key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.resolve().parent

    def fail(self, key: str, expected: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {expected}")

    def mapping(self, value: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key or "(top level)", "expected a mapping")
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            prefix = f"{key}." if key else ""
            raise self.fail(f"{prefix}{unknown[0]}", f"unknown key (expected one of: {', '.join(sorted(allowed))})")
        return value

    @overload
    def string(self, value: Any, key: str, *, default: str, required: bool = False) -> str: ...
    @overload
    def string(self, value: Any, key: str, *, default: None = None, required: Literal[True]) -> str: ...
    @overload
    def string(self, value: Any, key: str, *, default: str | None = None, required: bool = False) -> str | None: ...

    def string(self, value: Any, key: str, *, default: str | None = None, required: bool = False) -> str | None:
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "expected a non-empty string")
        return value.strip()

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, "expected a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def boolean(self, value: Any, key: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, "expected true or false")
        return value

    def number(self, value: Any, key: str, default: float, *, low: float, high: float) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise self.fail(key, f"expected a number from {low:g} to {high:g}")
        return value

    def integer(self, value: Any, key: str, default: int, *, low: int, high: int) -> int:
        if value is not None and not isinstance(value, int):
            raise self.fail(key, f"expected a whole number from {low} to {high}")
        return int(self.number(value, key, default, low=low, high=high))

    @overload
    def duration(self, value: Any, key: str, default: int) -> int: ...
    @overload
    def duration(self, value: Any, key: str, default: None) -> int | None: ...

    def duration(self, value: Any, key: str, default: int | None) -> int | None:
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None

    def local_path(self, value: Any, key: str, default: str) -> Path:
        path = Path(os.path.expanduser(self.string(value, key, default=default)))
        return path if path.is_absolute() else self.base / path

    def config(self, raw: Any) -> Config:
        top = self.mapping(raw, "", TOP_KEYS)
        timezone = self.string(top.get("timezone"), "timezone", default="UTC")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail("timezone", f"unknown time zone {timezone!r} (expected an IANA name like Europe/London)") from None
        schedule = self.mapping(top.get("schedule"), "schedule", {"poll", "digest", "min_interval"})
        thresholds = self.mapping(top.get("thresholds"), "thresholds", {"negative", "positive"})
        negative = self.number(thresholds.get("negative"), "thresholds.negative", -0.05, low=-1, high=1)
        positive = self.number(thresholds.get("positive"), "thresholds.positive", 0.05, low=-1, high=1)
        if negative > positive:
            raise self.fail("thresholds.negative", "must not be greater than thresholds.positive")
        poll_every = self.duration(schedule.get("poll"), "schedule.poll", 15 * 60)
        min_interval = self.duration(schedule.get("min_interval"), "schedule.min_interval", 5 * 60)
        staff = self.mapping(top.get("staff"), "staff", {"authors"})
        return Config(
            path=self.path.resolve(),
            database=self.local_path(top.get("database"), "database", "listener.db"),
            reports_dir=self.local_path(top.get("reports_dir"), "reports_dir", "reports"),
            timezone=timezone,
            watch=self.watchlist(top.get("watch")),
            staff_authors=self.strings(staff.get("authors"), "staff.authors"),
            feeds=self.feeds(top.get("feeds")),
            poll_every=poll_every,
            min_interval=min_interval,
            digest_time=self.clock(schedule.get("digest"), "schedule.digest"),
            negative=negative,
            positive=positive,
            digest=self.digest(top.get("digest")),
            fetch=self.fetch_limits(top.get("fetch")),
            comments=self.comment_limits(top.get("comments")),
            retention_days=self.integer(top.get("retention_days"), "retention_days", 180, low=1, high=100_000),
            alerts=parse_alerts(top["alerts"], str(self.path), timezone=timezone) if "alerts" in top else None,
            scorer=self.scorer(top.get("sentiment")),
            triage=self.triage(top.get("triage"), timezone),
        )

    def triage(self, value: Any, timezone: str) -> TriageSpec:
        raw = self.mapping(value, "triage", {"reply_window", "first_reply_within", "business_hours"})
        sla, hours = raw.get("first_reply_within", "4h"), raw.get("business_hours", {})
        hours = {} if hours is None else hours  # `off` is YAML's false: every hour counts
        spec = {} if hours in (False, "off") else self.mapping(hours, "triage.business_hours", {"days", "hours"})
        try:
            days, (opens, closes) = parse_weekdays(spec.get("days", "mon-fri")), parse_opening(spec.get("hours", "09:00-17:30"))
        except ValueError as exc:
            raise self.fail("triage.business_hours", str(exc)) from None
        window = self.duration(raw.get("reply_window"), "triage.reply_window", 14 * 86400)
        return TriageSpec(
            reply_window=dt.timedelta(seconds=max(3600, window)),
            first_reply_within=None if sla in (None, False, "off")
            else dt.timedelta(seconds=self.duration(sla, "triage.first_reply_within", 4 * 3600)),
            business_hours=None if hours in (False, "off") else BusinessHours(days, opens, closes, timezone))

    def scorer(self, value: Any) -> Scorer:
        raw = self.mapping(value, "sentiment", {"scorer"})
        scorer = raw.get("scorer", "service")
        if scorer not in ("service", "vader"):
            raise self.fail("sentiment.scorer", f"expected service (listener's verdict) or vader (VADER alone), got {scorer!r}")
        return scorer

    def clock(self, value: Any, key: str) -> dt.time:
        if value is None:
            return dt.time(7, 30)
        if isinstance(value, int) and 0 <= value < 24 * 60:  # YAML 1.1 reads 07:30 as sexagesimal 450
            return dt.time(value // 60, value % 60)
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value).strip())
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise self.fail(key, f'expected a local time like "07:30", got {value!r}')
        return dt.time(int(match.group(1)), int(match.group(2)))

    def watchlist(self, value: Any) -> tuple[WatchSpec, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail("watch", "expected a list of entries with name and terms")
        entries, names = [], set()
        for index, raw in enumerate(value):
            key = f"watch[{index}]"
            entry = self.mapping(raw, key, {"name", "terms", "exclude"})
            name = self.string(entry.get("name"), f"{key}.name", required=True)
            if name.lower() in names:
                raise self.fail(f"{key}.name", f"duplicate watch name {name!r}")
            names.add(name.lower())
            terms = self.strings(entry.get("terms"), f"{key}.terms")
            if not terms:
                raise self.fail(f"{key}.terms", "expected at least one term")
            entries.append(WatchSpec(name, terms, self.strings(entry.get("exclude"), f"{key}.exclude")))
        return tuple(entries)

    def feeds(self, value: Any) -> tuple[FeedSpec, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail("feeds", "expected a list of feeds with name and url")
        feeds, names = [], set()
        for index, raw in enumerate(value):
            key = f"feeds[{index}]"
            entry = self.mapping(raw, key, {"name", "url", "comments", "every", "match", "verify_tls"})
            url = self.feed_url(self.string(entry.get("url"), f"{key}.url", required=True), f"{key}.url")
            name = self.string(entry.get("name"), f"{key}.name", default=url)
            if name in names:
                raise self.fail(f"{key}.name", f"duplicate feed name {name!r}")
            names.add(name)
            match = self.string(entry.get("match"), f"{key}.match", default="terms")
            if match not in ("terms", "all"):
                raise self.fail(f"{key}.match", f"expected terms or all, got {match!r}")
            feeds.append(FeedSpec(
                name=name,
                url=url,
                comments=self.boolean(entry.get("comments"), f"{key}.comments", False),
                every=self.duration(entry.get("every"), f"{key}.every", None),
                match=match,
                verify_tls=self.boolean(entry.get("verify_tls"), f"{key}.verify_tls", True),
            ))
        return tuple(feeds)

    def feed_url(self, url: str, key: str) -> str:
        """http(s) URLs pass through; anything else is a local file path, made absolute."""
        scheme = url.split(":", 1)[0].lower() if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url) else ""
        if scheme in ("http", "https"):
            return url
        if scheme == "file":
            return url
        if scheme:
            raise self.fail(key, f"expected an http(s) URL or a file path, got scheme {scheme!r}")
        path = Path(os.path.expanduser(url))
        return str(path if path.is_absolute() else (self.base / path).resolve())

    def digest(self, value: Any) -> DigestSpec:
        raw = self.mapping(value, "digest", {"from", "to", "smtp", "max_items"})
        if isinstance(raw.get("smtp"), dict) and "password" in raw["smtp"]:
            raise self.fail("digest.smtp.password",
                            "secrets never live in the file; name an environment variable in password_env")
        smtp = self.mapping(raw.get("smtp"), "digest.smtp", {"host", "port", "starttls", "ssl", "username", "password_env",
                                                              "timeout", "allow_plaintext_auth"})
        spec = SmtpSpec(
            host=self.string(smtp.get("host"), "digest.smtp.host", default="localhost"),
            port=self.integer(smtp.get("port"), "digest.smtp.port", 25, low=1, high=65535),
            starttls=self.boolean(smtp.get("starttls"), "digest.smtp.starttls", False),
            ssl=self.boolean(smtp.get("ssl"), "digest.smtp.ssl", False),
            username=self.string(smtp.get("username"), "digest.smtp.username"),
            password_env=self.string(smtp.get("password_env"), "digest.smtp.password_env", default="LISTENER_SMTP_PASSWORD"),
            timeout=self.number(smtp.get("timeout"), "digest.smtp.timeout", 30.0, low=1, high=600),
        )
        if spec.ssl and spec.starttls:
            raise self.fail("digest.smtp.ssl", "choose ssl or starttls, not both")
        plaintext_ok = self.boolean(smtp.get("allow_plaintext_auth"), "digest.smtp.allow_plaintext_auth", False)
        if spec.username and not (spec.ssl or spec.starttls or plaintext_ok or _loopback(spec.host)):
            raise self.fail("digest.smtp.username", f"the password would cross the network to {spec.host} in plain text: "
                            "set starttls: true (port 587) or ssl: true (port 465), or allow_plaintext_auth: true")
        return DigestSpec(
            from_addr=self.address(raw.get("from"), "digest.from", default="listener@localhost"),
            to=tuple(self.address(a, "digest.to") for a in self.strings(raw.get("to"), "digest.to")),
            smtp=spec,
            max_items=self.integer(raw.get("max_items"), "digest.max_items", 50, low=1, high=1000),
        )

    def address(self, value: Any, key: str, default: str | None = None) -> str:
        address = self.string(value, key, default=default)
        if address is None or not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+", address):
            raise self.fail(key, f"expected an email address like team@example.com, got {address!r}")
        return address

    def fetch_limits(self, value: Any) -> FetchLimits:
        raw = self.mapping(value, "fetch", {"timeout", "connect_timeout", "max_bytes", "max_redirects", "workers", "per_host",
                                               "parse_timeout"})
        base = FetchLimits()
        return FetchLimits(
            timeout=self.number(raw.get("timeout"), "fetch.timeout", base.timeout, low=0.1, high=600),
            connect_timeout=self.number(raw.get("connect_timeout"), "fetch.connect_timeout", base.connect_timeout,
                                        low=0.1, high=600),
            max_bytes=self.integer(raw.get("max_bytes"), "fetch.max_bytes", base.max_bytes, low=1024, high=1 << 30),
            max_redirects=self.integer(raw.get("max_redirects"), "fetch.max_redirects", base.max_redirects, low=0, high=20),
            workers=self.integer(raw.get("workers"), "fetch.workers", base.workers, low=1, high=64),
            per_host=self.integer(raw.get("per_host"), "fetch.per_host", base.per_host, low=1, high=16),
            parse_timeout=self.number(raw.get("parse_timeout"), "fetch.parse_timeout", base.parse_timeout,
                                      low=0.1, high=600),
        )

    def comment_limits(self, value: Any) -> CommentLimits:
        raw = self.mapping(value, "comments", {"max_post_age", "max_feeds_per_cycle", "allow_hosts"})
        base = CommentLimits()
        age = self.duration(raw.get("max_post_age"), "comments.max_post_age", base.max_post_age_days * 86400)
        return CommentLimits(
            max_post_age_days=max(1, age // 86400),
            max_feeds_per_cycle=self.integer(raw.get("max_feeds_per_cycle"), "comments.max_feeds_per_cycle",
                                             base.max_feeds_per_cycle, low=0, high=10_000),
            allow_hosts=tuple(h.strip().lower() for h in self.strings(raw.get("allow_hosts"), "comments.allow_hosts")),
        )
