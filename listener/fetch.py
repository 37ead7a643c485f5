"""HTTP and local-file fetching -> FetchResult (bytes + headers) or FetchError.

Why not feedparser.parse(url) or a plain httpx call: neither bounds the whole fetch (httpx
timeouts are per socket operation, so a server dripping a byte every 0.5 s never trips them)
nor the inflated size of a compressed body (RELIABILITY A1-A3, A5, A6, A8-A12, A16). Here:

- one wall-clock deadline per fetch covers connect, TLS, every redirect hop and the body;
- the body is decoded here in bounded steps and capped at `max_bytes` decoded bytes;
- redirects are followed hop by hop (count, loops, http/https only);
- a job with a LinkPolicy (a comment feed: its URL came from feed content) checks every
  connection it opens, every redirect hop included, against that policy's address rule,
  on what DNS answers and on the connected peer (RELIABILITY A14, listener/netpolicy.py);
- conditional GET: validators in, validators out, 304 -> body None;
- statuses and exceptions become one FetchError kind a user can act on.

Proxy settings from the environment are ignored (trust_env=False): a fetch goes where the
feed URL says. SSL_CERT_FILE / SSL_CERT_DIR are still honoured.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import socket
import ssl
import stat
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

from listener import __version__
from listener.errors import FetchError
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
IDLE_AFTER = 0.05  # fetch_many's caller is told it waits (on_idle) after this long without an outcome


K = TypeVar("K")


@dataclass(frozen=True)
class FetchJob(Generic[K]):
    """One fetch for Fetcher.fetch_many; `key` is the caller's handle, passed back untouched."""

    key: K
    url: str
    etag: str | None = None
    last_modified: str | None = None
    verify_tls: bool = True
    policy: LinkPolicy | None = None  # set for URLs found in feed content (comment feeds)


def fetch_feed(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    limits: FetchLimits = FetchLimits(),
    client: httpx.Client | None = None,
    verify_tls: bool = True,
    policy: LinkPolicy | None = None,
) -> FetchResult:
    """Fetch one feed (http(s) URL, absolute path or file:// URL); raise FetchError when there
    is no usable body.

        result = fetch_feed("https://example.com/feed", etag=stored_etag)
        if result.not_modified: ...

    `client` is used as is (its pool, its TLS settings) for verified fetches; without one, or
    with verify_tls=False, a short-lived client is made. To fetch many feeds use a Fetcher:
    it keeps one pool and the per-host limit.
    """
    if _is_local(url):
        return _fetch_file(url, last_modified=last_modified, limits=limits)
    if policy is not None and (reason := policy.refusal(url)):
        raise FetchError("refused", reason)
    if client is not None and verify_tls and policy is None:
        return _fetch_http(url, etag, last_modified, limits, client, _HostSlots(None))
    with _new_client(limits, verify=verify_tls) as own:
        return _fetch_http(url, etag, last_modified, limits, own, _HostSlots(None), policy)


class Fetcher:
    """One connection pool (keep-alive) and per-host limits shared by every fetch; thread-safe.

        with Fetcher(config.fetch) as fetcher:
            for job, outcome in fetcher.fetch_many(jobs): ...
    """

    def __init__(self, limits: FetchLimits = FetchLimits()) -> None:
        self.limits = limits
        self._slots = _HostSlots(limits.per_host)
        self._clients: dict[tuple[bool, bool], httpx.Client] = {}
        self._lock = threading.Lock()

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        verify_tls: bool = True,
        policy: LinkPolicy | None = None,
    ) -> FetchResult:
        """fetch_feed() through the shared pool, never exceeding `per_host` requests per host.

        With a `policy` (a URL from feed content) a local path is refused, and the fetch uses a
        client that keeps no idle connections: every connection it uses is one it opened and
        checked itself, never one opened for another feed under other rules.
        """
        if policy is not None and (reason := policy.refusal(url)):
            raise FetchError("refused", reason)
        if _is_local(url):
            return _fetch_file(url, last_modified=last_modified, limits=self.limits)
        client = self._client(verify_tls, guarded=policy is not None)
        return _fetch_http(url, etag, last_modified, self.limits, client, self._slots, policy)

    def fetch_many(
        self, jobs: Iterable[FetchJob[K]], *, on_idle: Callable[[], None] | None = None,
        ahead: int | None = None,
    ) -> Iterator[tuple[FetchJob[K], FetchResult | FetchError]]:
        """Run up to `workers` fetches at once and yield each job with its outcome as it completes.

        One job's failure never raises here: it is yielded as its FetchError (kind "error" for
        an unexpected exception, which is also logged with its traceback). Jobs are handed to
        workers only when their host has a free slot, so a host with many feeds never parks
        workers that other hosts could use. Closing the generator early waits for the fetches
        in flight (each bounded by its deadline) and starts no new ones. `on_idle` is called (in
        the caller's thread) when no outcome came for IDLE_AFTER seconds, before waiting on.

        Memory stays flat however many jobs there are: at most `ahead` (default: `workers`)
        outcomes wait for the caller; past that no new fetch starts until the caller takes one.
        """
        waiting = _HostQueue(jobs, self.limits.per_host)
        total = waiting.count
        finished: queue.SimpleQueue[tuple[FetchJob[K], FetchResult | FetchError]] = queue.SimpleQueue()
        lock = threading.RLock()  # a job done before its callback is attached calls back inside refill()
        state = {"running": 0, "ready": 0, "stopped": False}
        workers = self.limits.workers
        most = workers + (workers if ahead is None else max(ahead, 0))  # running + waiting for the caller

        with ThreadPoolExecutor(workers, thread_name_prefix="listener-fetch") as pool:

            def refill() -> None:
                with lock:
                    if state["stopped"]:
                        return
                    room = min(workers - state["running"], most - state["running"] - state["ready"])
                    for job in waiting.take(max(room, 0)):
                        state["running"] += 1
                        pool.submit(self._outcome, job).add_done_callback(partial(complete, job))

            def complete(job: FetchJob[K], future: Future[FetchResult | FetchError]) -> None:
                # Runs in the worker that finished: the next job starts at once while the caller
                # keeps up (fewer than `ahead` outcomes wait), however long it takes over each.
                with lock:
                    state["running"] -= 1
                    state["ready"] += 1
                    waiting.done(job)
                finished.put((job, future.result()))
                refill()

            refill()
            try:
                for _ in range(total):
                    try:
                        outcome = finished.get(timeout=IDLE_AFTER if on_idle is not None else None)
                    except queue.Empty:
                        assert on_idle is not None  # a get without a timeout never raises Empty
                        on_idle()
                        outcome = finished.get()
                    with lock:
                        state["ready"] -= 1
                    refill()
                    yield outcome
            finally:
                with lock:
                    state["stopped"] = True

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _client(self, verify: bool, *, guarded: bool = False) -> httpx.Client:
        with self._lock:
            if (verify, guarded) not in self._clients:
                self._clients[verify, guarded] = _new_client(self.limits, verify=verify, keep_alive=not guarded)
            return self._clients[verify, guarded]

    def _outcome(self, job: FetchJob[Any]) -> FetchResult | FetchError:
        try:
            return self.fetch(
                job.url, etag=job.etag, last_modified=job.last_modified, verify_tls=job.verify_tls,
                policy=job.policy,
            )
        except FetchError as exc:
            return exc
        except Exception as exc:  # a bug in one fetch must not end the run (RELIABILITY F7)
            log.exception("unexpected error fetching %s", job.url)
            return FetchError("error", f"unexpected {type(exc).__name__}: {exc}")


# --- HTTP ------------------------------------------------------------------------------------


def _fetch_http(
    url: str,
    etag: str | None,
    last_modified: str | None,
    limits: FetchLimits,
    client: httpx.Client,
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
                with deadline.bound(), _guarded(policy), client.stream(
                    "GET", current, headers=headers, timeout=deadline.timeouts()
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
        parsed = httpx.URL(url)
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


def _too_large(max_bytes: int, what: str) -> FetchError:
    return FetchError("too_large", f"body is over the {max_bytes} byte cap ({what})")


# --- Local files -----------------------------------------------------------------------------


def _is_local(url: str) -> bool:
    return url.startswith("/") or url[:5].lower() == "file:"


def _local_path(url: str) -> Path:
    if url.startswith("/"):
        return Path(url)
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise FetchError("bad_url", f"not a local file URL: {url!r}")
    return Path(unquote(parts.path))


def _fetch_file(url: str, *, last_modified: str | None, limits: FetchLimits) -> FetchResult:
    """Read a local feed with the same size cap as a download. Its mtime, as an HTTP-date,
    is the Last-Modified validator (one-second resolution, like the header)."""
    started = time.monotonic()
    path = _local_path(url)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device could block or never end
            raise FetchError("bad_url", f"not a regular file: {path}")
        mtime = formatdate(info.st_mtime, usegmt=True)
        body = None
        if mtime != last_modified:
            with path.open("rb") as file:
                body = file.read(limits.max_bytes + 1)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise FetchError("not_found", f"no such file: {path}") from exc
    except PermissionError as exc:
        raise FetchError("auth", f"permission denied: {path}") from exc
    except OSError as exc:
        raise FetchError("network", f"cannot read {path}: {exc}") from exc
    if body is not None and len(body) > limits.max_bytes:
        raise _too_large(limits.max_bytes, "file")
    return FetchResult(
        url=url,
        status=304 if body is None else 200,
        body=body,
        headers={"last-modified": mtime},
        last_modified=mtime,
        elapsed=time.monotonic() - started,
    )


# --- Per-host politeness ---------------------------------------------------------------------


def _host_key(url: httpx.URL) -> str:
    return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


def _job_host(url: str) -> str | None:
    """The host a job contacts first; None (no limit) for local files and unparsable URLs."""
    if _is_local(url):
        return None
    try:
        return _host_key(httpx.URL(url))
    except httpx.InvalidURL:
        return None


class _HostSlots:
    """At most `per_host` requests in flight to one host:port across all threads (None: no
    limit). Taken per hop, so a redirect to another host counts against that host."""

    def __init__(self, per_host: int | None) -> None:
        self._per_host = per_host
        self._semaphores: dict[str, threading.Semaphore] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, host: str, *, timeout: float | None) -> Iterator[None]:
        if self._per_host is None:
            yield
            return
        with self._lock:
            semaphore = self._semaphores.setdefault(host, threading.Semaphore(self._per_host))
        if not semaphore.acquire(timeout=None if timeout is None else max(timeout, 0.0)):
            raise FetchError("timeout", f"no free connection slot for {host} before the deadline")
        try:
            yield
        finally:
            semaphore.release()


class _HostQueue(Generic[K]):
    """Jobs waiting to run, grouped by host. Handing out only jobs whose host has a free slot
    keeps workers busy with other hosts instead of parked on one host's semaphore."""

    def __init__(self, jobs: Iterable[FetchJob[K]], per_host: int) -> None:
        self._per_host = per_host
        self._waiting: dict[str | None, deque[FetchJob[K]]] = {}
        self._running: Counter[str | None] = Counter()
        for job in jobs:
            self._waiting.setdefault(_job_host(job.url), deque()).append(job)

    def take(self, n: int) -> list[FetchJob[K]]:
        taken: list[FetchJob[K]] = []
        for host, waiting in list(self._waiting.items()):
            while waiting and len(taken) < n and self._has_room(host):
                taken.append(waiting.popleft())
                self._running[host] += 1
            if not waiting:
                del self._waiting[host]
        return taken

    def done(self, job: FetchJob[K]) -> None:
        self._running[_job_host(job.url)] -= 1

    @property
    def count(self) -> int:
        """Jobs not yet handed out."""
        return sum(len(waiting) for waiting in self._waiting.values())

    def _has_room(self, host: str | None) -> bool:
        return host is None or self._running[host] < self._per_host


# --- Deadline: one wall-clock budget for connect, TLS, request, headers and body ---------------

_current = threading.local()  # this thread's running fetch deadline; sync httpx I/O runs here


class _Deadline:
    """The budget of one fetch. The clock starts when the first request goes out (not while
    waiting for a per-host slot) and covers every redirect hop and every byte of the body."""

    def __init__(self, limits: FetchLimits) -> None:
        self.seconds = limits.timeout
        self._connect = limits.connect_timeout
        self._started: float | None = None

    def start(self) -> None:
        if self._started is None:
            self._started = time.monotonic()

    def remaining(self) -> float | None:
        """Seconds left; None before the clock starts."""
        if self._started is None:
            return None
        return self._started + self.seconds - time.monotonic()

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def elapsed(self) -> float:
        return 0.0 if self._started is None else time.monotonic() - self._started

    def check(self) -> None:
        if self.expired():
            raise FetchError("timeout", f"no complete response within {self.seconds:g} s")

    def timeouts(self) -> httpx.Timeout:
        """Per-operation httpx timeouts for the next request: none may wait past the deadline."""
        self.check()
        left = self.remaining() or self.seconds
        return httpx.Timeout(left, connect=min(self._connect, left))

    @contextmanager
    def bound(self) -> Iterator[None]:
        """Make every socket operation of this thread end at the deadline (_DeadlineBackend)."""
        previous = getattr(_current, "end", None)
        _current.end = None if self._started is None else self._started + self.seconds
        try:
            yield
        finally:
            _current.end = previous


@contextmanager
def _guarded(policy: LinkPolicy | None) -> Iterator[None]:
    """Make every connection this thread opens pass `policy`'s address rule (_DeadlineBackend)."""
    previous = getattr(_current, "policy", None)
    _current.policy = policy
    try:
        yield
    finally:
        _current.policy = previous


def _check_peer(host: str, port: int, stream: httpcore.NetworkStream) -> None:
    policy: LinkPolicy | None = getattr(_current, "policy", None)
    if policy is None:
        return
    peer = stream.get_extra_info("server_addr")
    address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
    reason = policy.address_refusal(host, port, address) if address else f"no peer address for {host}"
    if reason is not None:
        stream.close()
        raise FetchError("refused", reason)


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    end = getattr(_current, "end", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise error("fetch deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """Clamps every connect, TLS handshake, read and write to the thread's fetch deadline."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        policy: LinkPolicy | None = getattr(_current, "policy", None)
        if policy is not None and (reason := policy.resolved_refusal(host, port)):
            raise FetchError("refused", reason)  # before a single packet goes there
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        _check_peer(host, port, stream)  # what we actually reached: DNS may have answered differently
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _new_client(limits: FetchLimits, *, verify: bool, keep_alive: bool = True) -> httpx.Client:
    # No pool ceiling: the worker count and per-host slots already bound concurrency, and a
    # pool wait would be one more place for a fetch to stall.
    idle = 2 * limits.workers if keep_alive else 0
    pool_limits = httpx.Limits(max_connections=None, max_keepalive_connections=idle)
    transport = httpx.HTTPTransport(verify=verify, limits=pool_limits)
    _install_deadline_backend(transport)
    return httpx.Client(transport=transport, follow_redirects=False, trust_env=False)


def _install_deadline_backend(transport: httpx.HTTPTransport) -> None:
    """Wrap the pool's network backend so every socket operation ends at the deadline.

    httpx reads its per-operation timeouts once per response, so a server that sends a few
    bytes and then stalls could otherwise hold a fetch for up to twice the deadline. httpx
    has no public hook for this; if its internals change, fetches still stop at the
    per-request timeouts and the per-chunk check, only less precisely (a test pins this).
    """
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is None:
        log.warning("httpx internals changed: fetch deadlines are checked per chunk only")
        return
    pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
