"""A CPU-time budget for one piece of work, enforced with a profiling timer (issue 14.4).

feedparser's loose parser is superlinear on some malformed markup (2 MiB of unclosed tags:
about 26 s of CPU; 14 MiB held a poll for 40 s and 587 MB), and nothing inside it can be
asked to stop. ITIMER_PROF counts this process's CPU time and delivers SIGPROF, whose handler
raises OutOfTime in the running code. It re-fires every 0.25 s, in case library code swallows
the first one; OutOfTime is a BaseException so `except Exception` blocks do not.

Signals reach only the main thread: elsewhere (the daemon parses small cycles in its job
thread) the budget is not enforced, and the callers' size limits are the bound instead.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

REFIRE_SECONDS = 0.25


class OutOfTime(BaseException):
    """The budget ran out; catch it right around `cpu_budget`."""


def enforceable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def cpu_budget(seconds: float | None) -> Iterator[None]:
    """Raise OutOfTime inside the block once it has used `seconds` of CPU (None or 0: no limit)."""
    if not seconds or seconds <= 0 or not enforceable():
        yield
        return

    def out_of_time(signum: int, frame: object) -> None:
        raise OutOfTime(seconds)

    previous = signal.signal(signal.SIGPROF, out_of_time)
    signal.setitimer(signal.ITIMER_PROF, seconds, REFIRE_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
