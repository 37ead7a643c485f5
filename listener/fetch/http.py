"""One HTTP fetch: conditional GET, redirects, status kinds, and a body bounded in time and decoded size."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import zlib
from collections.abc import Iterable, Iterator

import httpx

from listener import __version__
from listener.errors import FetchError
from listener.fetch.deadline import _ClientSession, _Deadline, _guarded, _Session
from listener.fetch.hosts import _host_key, _HostSlots, _parsed_url
from listener.fetch.local import _too_large
from listener.models import FetchLimits, FetchResult
from listener.netpolicy import LinkPolicy
from listener.times import parse_retry_after

log = logging.getLogger(__name__)


USER_AGENT = f"listener/{__version__} (+https://github.com/listener; feed watchlist)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate"  # decoded here with bounded zlib steps; no brotli

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_STATUS_KINDS = {401: "auth", 403: "auth", 404: "not_found", 410: "gone", 429: "rate_limited"}
_MAX_RETRY_AFTER = 24 * 3600.0
_GZIP = frozenset({"gzip", "x-gzip"})
_DECODABLE = _GZIP | {"deflate"}
_PIECE = 64 * 1024  # most bytes one decompress step may produce


# --- HTTP ------------------------------------------------------------------------------------


def _fetch_http(
    url: str,
    etag: str | None,
    last_modified: str | None,
    limits: FetchLimits,
    session: _Session | _ClientSession,
    slots: _HostSlots,
    policy: LinkPolicy | None = None,
) -> FetchResult:
    """Follow redirects ourselves so every hop is checked (scheme, loop, count, per-host
    slot, and the policy's address rule on each connection) and all hops share one deadline."""
    current = _parse_url(url)
    deadline = _Deadline(limits)
    headers = _request_headers(etag, last_modified)
    seen = {str(current)}
    hops: list[int] = []
    try:
        for _ in range(limits.max_redirects + 1):
            with slots.hold(_host_key(current), timeout=deadline.remaining()):
                deadline.start()  # waiting for the first slot is queueing, not fetching
                with deadline.bound(), _guarded(policy), session.stream(
                    current, headers, deadline.timeouts()
                ) as response:
                    location = _redirect_location(response)
                    if location is None:
                        return _finish(response, etag, last_modified, limits, deadline, hops)
            hops.append(response.status_code)
            current = _next_hop(current, location, seen)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _classify(exc, deadline) from exc
    raise FetchError("redirects", f"more than {limits.max_redirects} redirects from {url}")


def _finish(
    response: httpx.Response,
    etag: str | None,
    last_modified: str | None,
    limits: FetchLimits,
    deadline: _Deadline,
    hops: list[int],
) -> FetchResult:
    """Turn the final response into a FetchResult, or raise for an unusable status."""
    status = response.status_code
    if status == 304:  # a 304 may carry updated validators; otherwise keep the ones we sent
        body = None
        for _ in _raw_chunks(response, limits.max_bytes, deadline):
            pass  # none by protocol; reading to its end is what lets the pool keep the connection
        etag = response.headers.get("etag", etag)
        last_modified = response.headers.get("last-modified", last_modified)
    elif 200 <= status < 300:  # an empty body is returned too: the parser decides what it means
        body = _read_body(response, limits, deadline)
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
    else:
        raise _status_error(response)
    if _no_store(response):
        etag = last_modified = None
    permanent = bool(hops) and all(hop in _PERMANENT for hop in hops)
    result = FetchResult(
        url=str(response.url),
        status=status,
        body=body,
        headers=_header_dict(response.headers),
        etag=etag,
        last_modified=last_modified,
        permanent_redirect=str(response.url) if permanent else None,
        elapsed=deadline.elapsed(),
    )
    size = len(body or b"")
    log.debug("GET %s -> %d, %d bytes in %.2f s", result.url, status, size, result.elapsed)
    return result


def _parse_url(url: str) -> httpx.URL:
    try:
        parsed = _parsed_url(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError("bad_url", f"invalid URL {url!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError("bad_url", f"not an http(s) URL or local path: {url!r}")
    return parsed


def _request_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _redirect_location(response: httpx.Response) -> str | None:
    if response.status_code in _REDIRECTS:
        return response.headers.get("location")
    return None


def _next_hop(current: httpx.URL, location: str, seen: set[str]) -> httpx.URL:
    """The URL a redirect points to, refusing non-http(s) targets and loops."""
    try:
        target = current.join(location)
    except httpx.InvalidURL as exc:
        raise FetchError("redirects", f"bad redirect Location {location!r}") from exc
    if target.scheme not in ("http", "https") or not target.host:
        raise FetchError("redirects", f"redirect to a non-http(s) URL: {location!r}")
    if str(target) in seen:
        raise FetchError("redirects", f"redirect loop at {target}")
    seen.add(str(target))
    log.debug("redirect %s -> %s", current, target)
    return target


def _status_error(response: httpx.Response) -> FetchError:
    """Map an unusable status to a FetchError; the body (often an HTML error page) is never read."""
    status = response.status_code
    kind = _STATUS_KINDS.get(status, "http")
    if response.headers.get("cf-mitigated", "").strip().lower() == "challenge":
        kind = "blocked"  # Cloudflare's bot challenge: asking again the same way won't help
    retry_after = None
    if status in (429, 503):
        retry_after = _retry_after(response.headers.get("retry-after"))
    message = f"HTTP {status} {response.reason_phrase}".strip()
    return FetchError(kind, message, status=status, retry_after=retry_after)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait per Retry-After, at most 24 h; None when absent or unreadable, so a
    garbage header falls back to the normal backoff."""
    seconds = parse_retry_after(value, now=dt.datetime.now(dt.timezone.utc))
    return None if seconds is None else min(seconds, _MAX_RETRY_AFTER)


def _no_store(response: httpx.Response) -> bool:
    """True when the server asks us not to keep the response (Cache-Control: no-store, or
    Expires: 0 as Miniflux treats it): its validators are then not returned, so the next
    fetch is unconditional."""
    directives = {d.strip().lower() for d in response.headers.get("cache-control", "").split(",")}
    return "no-store" in directives or response.headers.get("expires", "").strip() == "0"


def _header_dict(headers: httpx.Headers) -> dict[str, str]:
    """Lower-cased names, first value of a repeated header."""
    result: dict[str, str] = {}
    for name, value in headers.multi_items():
        result.setdefault(name, value)
    return result


def _classify(exc: Exception, deadline: _Deadline) -> FetchError:
    """Turn an httpx exception into the FetchError kind a user can act on."""
    if isinstance(exc, httpx.TimeoutException) or deadline.expired():
        return FetchError("timeout", f"no complete response within {deadline.seconds:g} s")
    if _caused_by(exc, ssl.SSLError):
        return FetchError("tls", f"TLS error: {exc}")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return FetchError("bad_url", str(exc))
    if _caused_by(exc, socket.gaierror):
        return FetchError("network", f"DNS lookup failed: {exc}")
    if isinstance(exc, httpx.ConnectError):
        return FetchError("network", f"connection failed: {exc}")
    return FetchError("network", f"connection broken: {exc}")


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    for _ in range(10):  # httpx wraps httpcore, which wraps the socket error
        if exc is None:
            return False
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


# --- Body: bounded in time and decoded size --------------------------------------------------


def _read_body(response: httpx.Response, limits: FetchLimits, deadline: _Deadline) -> bytes:
    """Read and decode the body, aborting at the deadline or past `max_bytes` decoded bytes.

    We decode ourselves rather than use httpx's iter_bytes(): httpx inflates each network
    chunk in one call, and 64 KiB of a gzip bomb is 64 MiB (a double-gzipped one far more).
    A truncated body raises from httpcore (-> "network"), so a partial body is never returned.
    """
    _reject_declared_size(response, limits.max_bytes)
    chunks = _raw_chunks(response, limits.max_bytes, deadline)
    for encoding in reversed(_content_encodings(response)):
        chunks = _inflate(chunks, encoding)
    body = bytearray()
    for piece in chunks:
        body += piece
        if len(body) > limits.max_bytes:
            raise _too_large(limits.max_bytes, "decoded")
    return bytes(body)


def _reject_declared_size(response: httpx.Response, max_bytes: int) -> None:
    try:
        declared = int(response.headers.get("content-length", "0"))
    except ValueError:
        return  # h11 rejects a malformed Content-Length while reading
    if declared > max_bytes:
        raise FetchError("too_large", f"Content-Length {declared} is over the {max_bytes} byte cap")


def _raw_chunks(response: httpx.Response, max_bytes: int, deadline: _Deadline) -> Iterator[bytes]:
    """The body as sent, checking the deadline per chunk (a slow drip never trips a read
    timeout) and capping the encoded size too (a compressed body can't be bigger than that)."""
    received = 0
    for chunk in response.iter_raw():
        deadline.check()
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(max_bytes, "sent")
        yield chunk


def _content_encodings(response: httpx.Response) -> list[str]:
    """Content-Encoding values in the order applied; an encoding we can't decode is an error
    (httpx would pass the bytes through still encoded)."""
    values = response.headers.get_list("content-encoding", split_commas=True)
    encodings = [v.strip().lower() for v in values if v.strip().lower() not in ("", "identity")]
    for encoding in encodings:
        if encoding not in _DECODABLE:
            raise FetchError("encoding", f"unsupported Content-Encoding {encoding!r}")
    return encodings


def _inflate(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """Decompress gzip or deflate, yielding at most _PIECE bytes per step so a bomb is never
    inflated at once: the caller stops pulling at the cap. "deflate" is zlib-wrapped per the
    RFC but raw from some servers; the first bytes decide. A stream missing its end marker
    was cut short (a close-delimited body looks complete otherwise); data after it is ignored.
    """
    wbits = 16 + zlib.MAX_WBITS if encoding in _GZIP else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    started = False
    try:
        for data in chunks:
            while data and not inflater.eof:
                try:
                    piece = inflater.decompress(data, _PIECE)
                except zlib.error:
                    if started or wbits != zlib.MAX_WBITS:
                        raise
                    wbits = -zlib.MAX_WBITS
                    inflater = zlib.decompressobj(wbits)
                    continue
                started = True
                yield piece
                data = inflater.unconsumed_tail
                while len(piece) == _PIECE and not data:  # output held back inside zlib
                    piece = inflater.decompress(b"", _PIECE)
                    yield piece
    except zlib.error as exc:
        raise FetchError("encoding", f"corrupt {encoding} body: {exc}") from exc
    if started and not inflater.eof:
        raise FetchError("network", f"{encoding} body ends early: the transfer was cut short")


