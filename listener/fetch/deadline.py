"""One wall-clock budget for connect, TLS, request, headers and body, enforced on every socket operation."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from listener.errors import FetchError
from listener.models import FetchLimits
from listener.netpolicy import LinkPolicy

log = logging.getLogger(__name__)


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


class _Session:
    """Sends one GET at a time through a connection pool, without httpx.Client's per-request layers.

    Client.send adds a cookie jar, auth flows, redirect handling, event hooks and a log line per
    request; a fetch uses none of them (redirects are followed hop by hop in http.py, and no
    cookies are kept between feeds), and they were a third of a 304's CPU. The transport still
    maps httpcore's errors to httpx's, so callers see the same exceptions.
    """

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self._transport = transport

    @contextmanager
    def stream(self, url: httpx.URL, headers: dict[str, str], timeout: httpx.Timeout) -> Iterator[httpx.Response]:
        request = httpx.Request("GET", url, headers=headers, extensions={"timeout": timeout.as_dict()})
        response = self._transport.handle_request(request)
        response.request = request
        try:
            yield response
        finally:
            response.close()  # releases the connection to the pool (kept alive once the body is read)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _ClientSession:
    """A caller's own httpx.Client behind the same `stream` (its settings, its pool, its cookies)."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    @contextmanager
    def stream(self, url: httpx.URL, headers: dict[str, str], timeout: httpx.Timeout) -> Iterator[httpx.Response]:
        with self._client.stream("GET", url, headers=headers, timeout=timeout) as response:
            yield response


def _new_session(limits: FetchLimits, *, verify: bool, keep_alive: bool = True) -> _Session:
    # No pool ceiling: the worker count and per-host slots already bound concurrency, and a
    # pool wait would be one more place for a fetch to stall.
    idle = 2 * limits.workers if keep_alive else 0
    pool_limits = httpx.Limits(max_connections=None, max_keepalive_connections=idle)
    transport = httpx.HTTPTransport(verify=verify, limits=pool_limits)
    _install_deadline_backend(transport)
    return _Session(transport)


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
