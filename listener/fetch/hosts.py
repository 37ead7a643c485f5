"""Politeness: at most `per_host` requests at once to one host, queued fairly."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from listener.errors import FetchError
from listener.fetch.local import _is_local

log = logging.getLogger(__name__)


# --- Per-host politeness ---------------------------------------------------------------------


def _host_key(url: httpx.URL) -> str:
    return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


@functools.lru_cache(maxsize=4096)
def _parsed_url(url: str) -> httpx.URL:
    """httpx.URL(url), parsed once: a cycle's queue and its fetch both need every feed URL parsed
    (~20 µs each), and the daemon fetches the same URLs every cycle. httpx.URL is immutable."""
    return httpx.URL(url)


def _job_host(url: str) -> str | None:
    """The host a job contacts first; None (no limit) for local files and unparsable URLs."""
    if _is_local(url):
        return None
    try:
        return _host_key(_parsed_url(url))
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
