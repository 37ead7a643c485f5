"""The process pool that runs workers.process_body on every core while the main thread commits.

This module is light on purpose: a poll cycle makes its pool before it knows whether any body will
arrive, and a cycle of 304s should not pay for the parser, VADER and the verdict model
(workers.py, ~0.15 s of imports). They load at the first body, in-process or in the workers.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from listener import lifeline
from listener.errors import ParseError

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 10  # seconds the workers get to finish when the pool closes
WORKERS = "listener.pipeline.workers"


def _workers() -> Any:
    return importlib.import_module(WORKERS)


def _warm_up() -> None:
    _workers().warm_up()


def _worker_init(listener_pid: int | None = None) -> None:
    """Defence in depth for hostile feeds that get past the parser's own checks (RELIABILITY B3),
    and no worker outlives the listener process that started it (issue 14.5)."""
    if listener_pid is not None:
        lifeline.die_with(listener_pid)
    try:
        import resource
        limit = 2 * 1024 ** 3
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


class ParsePool:
    """Runs process_body on every core while the main thread commits.

    A cycle with few feeds parses in-process: starting workers (~0.3 s) costs more than it saves.
    A larger cycle starts them at its first body to parse, so their start-up overlaps the fetches
    still running, and a cycle of 304s never starts them.

    A worker that dies (RLIMIT_AS, the OOM killer, a kill) breaks the whole executor and fails
    every job in flight. The pool is replaced and those jobs run once more in the new one, so
    the feeds that happened to be parsed beside the culprit are not recorded as failing; a job
    that breaks the pool twice is the culprit, and fails with ParseError("worker_died").
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 2
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.RLock()
        self.replaced = 0  # broken executors replaced so far (for tests and logs)

    def start(self) -> None:
        with self._lock:
            if self._pool is None and self.workers > 1:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload([WORKERS])
                self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_worker_init,
                                                 initargs=(os.getpid(),))
                for _ in range(self.workers):
                    self._pool.submit(_warm_up)

    def submit(self, body: bytes, **kwargs) -> Future:
        if self._pool is None:
            future: Future = Future()
            try:
                future.set_result(_workers().process_body(body, **kwargs))
            except Exception as exc:  # noqa: BLE001 - delivered to the caller like a worker's error
                future.set_exception(exc)
            return future
        outer: Future = Future()
        self._run(outer, body, kwargs, retries=1)
        return outer

    def _run(self, outer: Future, body: bytes, kwargs: dict, *, retries: int) -> None:
        """Submit to the current executor; relay its result to `outer`, retrying once if it breaks."""
        with self._lock:
            executor = self._pool
            if executor is None:  # closed meanwhile
                outer.set_exception(ParseError("worker_died", "the parse workers were stopped"))
                return
            try:
                inner = executor.submit(_workers().process_body, body, **kwargs)
            except BrokenProcessPool:
                self._replace(executor)
                self._run(outer, body, kwargs, retries=retries)
                return

        def relay(done: Future) -> None:
            if done.cancelled():  # close() while in flight
                outer.cancel()
                return
            error = done.exception()
            if error is None:
                outer.set_result(done.result())
            elif not isinstance(error, BrokenProcessPool):
                outer.set_exception(error)
            elif retries > 0:
                self._replace(executor)
                self._run(outer, body, kwargs, retries=retries - 1)
            else:
                outer.set_exception(ParseError("worker_died", f"a parse worker died on this feed twice ({error})"))

        inner.add_done_callback(relay)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Swap a broken executor for a fresh one, once however many of its jobs report it."""
        with self._lock:
            if self._pool is not broken:
                return
            log.warning("a parse worker died: starting new workers and retrying the feeds in flight")
            broken.shutdown(wait=False, cancel_futures=True)  # may run on its own manager thread: never wait
            self._pool = None
            self.replaced += 1
            self.start()

    def close(self) -> None:
        """Stop the workers, waiting at most CLOSE_TIMEOUT for them; a worker still there is killed.

        `shutdown(wait=True)` alone can wait for ever on an executor that a dying worker left
        half-broken (seen under load after a replacement), and a stuck close is a stuck poll.
        """
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + CLOSE_TIMEOUT
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                log.warning("a parse worker did not stop in %ds: killed", CLOSE_TIMEOUT)
                process.kill()
                process.join(1)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
