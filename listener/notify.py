"""Delivering one alert to one target: Apprise for chat and mail, a signed POST for json:// webhooks.

One URL per target in Apprise's syntax (slack://, msteams://, discord://, ntfy://, mailto://, json://,
100+ services). `json://` and `jsons://` are posted here with httpx rather than by Apprise, because
the `X-Listener-Signature` HMAC must cover the exact bytes sent and Apprise builds its own body;
the URL is still read by Apprise's parser, so its syntax (user:password@, `+Header=value`,
`method=`, `verify=no`) holds. Every result is per target: accepted, or failed with a reason that
has been scrubbed of the URL's secrets. URLs are never logged; a target is named by a hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from listener import __version__

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Listener-Signature"
ALERT_ID_HEADER = "X-Listener-Alert"
WEBHOOK_TIMEOUT = 10.0
WEBHOOK_SCHEMES = ("json", "jsons")
PLAIN_HOST_SCHEMES = ("json", "jsons", "mailto", "mailtos")  # their host names no secret
ERROR_CHARS = 500

# Apprise logs request URLs (tokens included) at debug level: keep its records out of our logs.
_apprise_log = logging.getLogger("apprise")
_apprise_log.propagate = False
_apprise_log.setLevel(logging.WARNING)


class _Scrub(logging.Filter):
    """httpx logs every request's URL at INFO: while a webhook is posted, its secrets are cut from them."""

    def __init__(self) -> None:
        super().__init__()
        self.active: list[Target] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if self.active:
            record.msg, record.args = redact(record.getMessage(), list(self.active)), ()
        return True


_scrub = _Scrub()
logging.getLogger("httpx").addFilter(_scrub)


@contextmanager
def _scrubbing(target: Target) -> Iterator[None]:
    _scrub.active.append(target)
    try:
        yield
    finally:
        _scrub.active.remove(target)


@dataclass(frozen=True)
class Target:
    """One configured destination. `url` stays in memory; `id` and `label` are what may be shown or stored."""

    url: str
    id: str
    scheme: str
    label: str


@dataclass(frozen=True)
class Delivery:
    target: str  # Target.id
    label: str
    accepted: bool
    error: str | None = None


def target_urls(urls: Sequence[str], urls_env: str | None, environ: Mapping[str, str] | None = None) -> list[str]:
    """The configured URLs, then those in the environment variable (separated by spaces or newlines)."""
    environ = os.environ if environ is None else environ
    extra = environ.get(urls_env, "").split() if urls_env else []
    seen: dict[str, None] = {}
    for url in [*urls, *extra]:
        seen.setdefault(url.strip(), None)
    return [url for url in seen if url]


def make_target(url: str) -> Target:
    scheme = url.split("://", 1)[0].lower()
    digest = hashlib.sha256(b"listener-alert-target\x00" + url.encode()).hexdigest()[:16]
    host = urlsplit(url).hostname if scheme in PLAIN_HOST_SCHEMES else None
    return Target(url, digest, scheme, f"{scheme}://{host or '…'} #{digest[:8]}")


def targets(urls: Sequence[str], urls_env: str | None, environ: Mapping[str, str] | None = None) -> list[Target]:
    return [make_target(url) for url in target_urls(urls, urls_env, environ)]


def sign(body: bytes, secret: str) -> str:
    """Hex HMAC-SHA256 of the raw body: what a receiver recomputes to trust a webhook."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(payload: Mapping[str, Any], *, alert_id: str, title: str, message: str) -> bytes:
    """The JSON a webhook receives: the alert's payload plus Apprise's title/message fields."""
    body = {key: value for key, value in payload.items() if key != "rank"}
    body.update({"id": alert_id, "title": title, "message": message, "version": 1})
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def secrets_of(url: str) -> list[str]:
    """The pieces of a URL that may be secret: itself, user, password, path segments, query values."""
    parts = urlsplit(url)
    pieces = [url, url.split("://", 1)[-1]]
    if parts.scheme.lower() not in PLAIN_HOST_SCHEMES:
        pieces.append(parts.netloc)
        pieces.append(parts.hostname or "")
    pieces += [parts.username or "", parts.password or ""]
    pieces += [unquote(segment) for segment in parts.path.split("/")]
    pieces += [segment for segment in parts.path.split("/")]
    pieces += [value for _, value in parse_qsl(parts.query)]
    if parts.fragment:
        pieces.append(parts.fragment)
    return sorted({p for p in pieces if len(p) >= 4}, key=len, reverse=True)


def redact(text: str, target_list: Sequence[Target]) -> str:
    """`text` with every secret-looking piece of every target URL replaced by ***."""
    for target in target_list:
        for piece in secrets_of(target.url):
            text = text.replace(piece, "***")
    return text[:ERROR_CHARS]


def send(target: Target, *, title: str, message: str, payload: Mapping[str, Any], alert_id: str,
         secret_env: str | None, environ: Mapping[str, str] | None = None) -> Delivery:
    """Deliver one alert to one target; never raises for a delivery problem."""
    environ = os.environ if environ is None else environ
    try:
        if target.scheme in WEBHOOK_SCHEMES:
            secret = None
            if secret_env:
                secret = environ.get(secret_env)
                if not secret:
                    return Delivery(target.id, target.label, False,
                                    f"{secret_env} is not set: the webhook cannot be signed")
            error = _post_webhook(target, webhook_body(payload, alert_id=alert_id, title=title, message=message),
                                  alert_id=alert_id, secret=secret)
        else:
            error = _apprise_notify(target, title=title, message=message)
    except Exception as exc:  # noqa: BLE001 - a plugin bug must cost one target, not the cycle
        error = f"{type(exc).__name__}: {exc}"
    if error is None:
        log.info("alert %s accepted by %s", alert_id, target.label)
        return Delivery(target.id, target.label, True)
    error = redact(error, [target])
    log.warning("alert %s not accepted by %s: %s", alert_id, target.label, error)
    return Delivery(target.id, target.label, False, error)


def _apprise() -> Any:
    """Apprise (~50 ms to import, and every poll imports this module), loaded when an alert goes out."""
    import apprise

    return apprise


def _post_webhook(target: Target, body: bytes, *, alert_id: str, secret: str | None) -> str | None:
    plugin = _apprise().Apprise.instantiate(target.url)
    if plugin is None:
        return "not a valid json:// URL"
    scheme = "https" if plugin.secure else "http"
    port = f":{plugin.port}" if plugin.port else ""
    url = f"{scheme}://{plugin.host}{port}{plugin.fullpath or '/'}"
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": f"listener/{__version__}",
               ALERT_ID_HEADER: alert_id, **dict(getattr(plugin, "headers", {}))}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    auth = (plugin.user, plugin.password or "") if plugin.user else None
    try:
        with _scrubbing(target):
            response = httpx.request(getattr(plugin, "method", None) or "POST", url, content=body,
                                     headers=headers, auth=auth, timeout=WEBHOOK_TIMEOUT, verify=plugin.verify_certificate,
                                     follow_redirects=False)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _apprise_warnings() -> Iterator[_Records]:
    records = _Records()
    _apprise_log.addHandler(records)
    try:
        yield records
    finally:
        _apprise_log.removeHandler(records)


def _apprise_notify(target: Target, *, title: str, message: str) -> str | None:
    with _apprise_warnings() as records:
        apprise = _apprise()
        plugin = apprise.Apprise.instantiate(target.url)
        if plugin is None:
            return "; ".join(records.messages[-2:]) or "not a URL Apprise knows"
        ok = plugin.notify(body=message, title=title, body_format=apprise.NotifyFormat.TEXT)
    if ok:
        return None
    return "; ".join(_tidy(m) for m in records.messages[-2:]) or "not accepted"


def _tidy(message: str) -> str:
    return re.sub(r"\s+", " ", message).strip()
