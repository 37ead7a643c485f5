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

import listener.fetch.httpx_without_cli  # noqa: F401 - first: httpx loads without its command-line client

# isort: split

import logging
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from listener.errors import FetchError
from listener.fetch.deadline import _ClientSession, _new_session, _Session
from listener.fetch.hosts import _HostSlots, _job_host
from listener.fetch.http import ACCEPT, USER_AGENT, _fetch_http  # noqa: F401 - ACCEPT, USER_AGENT: part of fetch's API
from listener.fetch.local import _fetch_file, _is_local
from listener.models import FetchLimits, FetchResult
from listener.netpolicy import LinkPolicy

log = logging.getLogger(__name__)

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
        return _fetch_http(url, etag, last_modified, limits, _ClientSession(client), _HostSlots(None))
    with _new_session(limits, verify=verify_tls) as own:
        return _fetch_http(url, etag, last_modified, limits, own, _HostSlots(None), policy)


class Fetcher:
    """One connection pool (keep-alive) and per-host limits shared by every fetch; thread-safe.

        with Fetcher(config.fetch) as fetcher:
            for job, outcome in fetcher.fetch_many(jobs): ...
    """

    def __init__(self, limits: FetchLimits = FetchLimits()) -> None:
        self.limits = limits
        self._slots = _HostSlots(limits.per_host)
        self._sessions: dict[tuple[bool, bool], _Session] = {}
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
        session = self._session(verify_tls, guarded=policy is not None)
        return _fetch_http(url, etag, last_modified, self.limits, session, self._slots, policy)

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
        workers = self.limits.workers
        hand_off = _HandOff(waiting, workers=workers, most=workers + (workers if ahead is None else max(ahead, 0)))
        threads = [threading.Thread(target=self._work, args=(hand_off,), name=f"listener-fetch-{n}")
                   for n in range(min(workers, waiting.most_at_once()))]
        for thread in threads:
            thread.start()
        try:
            for _ in range(total):
                try:
                    outcome = hand_off.finished.get(timeout=IDLE_AFTER if on_idle is not None else None)
                except queue.Empty:
                    assert on_idle is not None  # a get without a timeout never raises Empty
                    on_idle()
                    outcome = hand_off.finished.get()
                hand_off.taken()
                yield outcome
        finally:
            hand_off.stop()
            for thread in threads:
                thread.join()  # the fetches in flight, each bounded by its deadline

    def _work(self, hand_off: _HandOff[K]) -> None:
        """One fetch thread: job after job while there are jobs its host has room for (fewer thread
        and future hand-offs per fetch than a pool task each, which at 1,000 304s was ~0.1 s)."""
        while (job := hand_off.next_job()) is not None:
            hand_off.done(job, self._outcome(job))

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _session(self, verify: bool, *, guarded: bool = False) -> _Session:
        with self._lock:
            if (verify, guarded) not in self._sessions:
                self._sessions[verify, guarded] = _new_session(self.limits, verify=verify, keep_alive=not guarded)
            return self._sessions[verify, guarded]

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


class _HandOff(Generic[K]):
    """fetch_many's shared state: jobs handed to fetch threads only while fewer than `workers` run
    and fewer than `most` are running or waiting for the caller, each only when its host has room."""

    def __init__(self, waiting: _HostQueue[K], *, workers: int, most: int) -> None:
        self.finished: queue.SimpleQueue[tuple[FetchJob[K], FetchResult | FetchError]] = queue.SimpleQueue()
        self._waiting = waiting
        self._workers = workers
        self._most = most
        self._running = self._ready = 0
        self._stopped = False
        self._changed = threading.Condition()

    def next_job(self) -> FetchJob[K] | None:
        """The next job to fetch, waiting for room; None when none is left (or the caller stopped)."""
        with self._changed:
            while not self._stopped and self._waiting.count:
                if self._running < self._workers and self._running + self._ready < self._most:
                    taken = self._waiting.take(1)
                    if taken:
                        self._running += 1
                        return taken[0]
                self._changed.wait()
            return None

    def done(self, job: FetchJob[K], outcome: FetchResult | FetchError) -> None:
        with self._changed:
            self._running -= 1
            self._ready += 1
            self._waiting.done(job)
            self._changed.notify()  # its host has room again
        self.finished.put((job, outcome))

    def taken(self) -> None:
        """The caller took an outcome: one more fetch may start."""
        with self._changed:
            self._ready -= 1
            self._changed.notify()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()


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

    def most_at_once(self) -> int:
        """How many of the jobs could run at once: a thread more would only wait (and hold memory:
        each fetching thread keeps its own malloc arena)."""
        return sum(len(waiting) if host is None else min(len(waiting), self._per_host)
                   for host, waiting in self._waiting.items())

    @property
    def count(self) -> int:
        """Jobs not yet handed out."""
        return sum(len(waiting) for waiting in self._waiting.values())

    def _has_room(self, host: str | None) -> bool:
        return host is None or self._running[host] < self._per_host


