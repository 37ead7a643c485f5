"""Child processes die with the process that started them, however it ended (issue 14.5).

ProcessPoolExecutor workers started through the forkserver hold both ends of their task pipe
and the forkserver's "alive" pipe, so when `listener poll` is killed (kill -9, SIGTERM, the
OOM killer, cron's timeout) nobody ever reads EOF: workers, forkserver and resource tracker
stay behind for good. A worker therefore watches the listener process itself (a pidfd, or a
once-a-second check where pidfds are missing) and exits the moment it is gone; with the last
worker gone the forkserver and the resource tracker see EOF and exit too. On Linux the worker
also asks for SIGKILL when its own parent (the forkserver) dies.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0


def _exit_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup: the work in hand belongs to a dead parent


def _set_parent_death_signal() -> None:
    import ctypes  # only a worker asks; the commands that read never load ctypes (and its subprocess)
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)  # Linux >= 5.3, Python >= 3.9
    except ProcessLookupError:
        _exit_now()
        return
    except (AttributeError, OSError):
        while _alive(pid):
            time.sleep(POLL_SECONDS)
        _exit_now()
        return
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while not poller.poll():
        pass
    _exit_now()


def die_with(pid: int) -> None:
    """Exit (SIGKILL) as soon as process `pid` is gone; call once, early, in a child process."""
    parent = os.getppid()
    _set_parent_death_signal()
    if os.getppid() != parent or not _alive(pid):  # it died before we were watching
        _exit_now()
    threading.Thread(target=_watch, args=(pid,), name="listener-lifeline", daemon=True).start()


# --- who owns a claim: a token that names this process, and a test whether it still runs ------


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc), so a reused pid is told apart."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="ascii", errors="replace").read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _host() -> str:
    import socket  # ~1.5 ms (selectors, its enums): not for the read commands, which never claim

    return socket.gethostname()


def process_token() -> str:
    """host:pid:start time of this process, stored beside a claim (e.g. a digest being sent)."""
    return f"{_host()}:{os.getpid()}:{_start_time(os.getpid()) or ''}"


def owner_is_dead(token: str | None) -> bool:
    """True only when `token` names a process on this host that is certainly gone.

    Another host's process, a token from an older version (None) or one that cannot be read
    are not known to be dead: the caller falls back to waiting for the claim to age.
    """
    if not token:
        return False
    host, _, rest = token.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != _host() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if not _alive(pid):
        return True
    now_started = _start_time(pid)
    return bool(started and now_started and now_started != started)


class FaultHook:
    """Crash tests (RELIABILITY E3, F2, F6): LISTENER_FAULT=<point>:N SIGKILLs this process the Nth
    time the code passes `point` (kill_after_items inside a feed's transaction, kill_after_alert_send
    between a send and its ledger write). Without the variable it costs one comparison."""

    def __init__(self, point: str) -> None:
        spec = os.environ.get("LISTENER_FAULT", "")
        self.kill_after = int(spec.split(":", 1)[1]) if spec.startswith(f"{point}:") else None
        self.passed = 0

    def passing(self) -> None:
        if self.kill_after is not None:
            self.passed += 1
            if self.passed >= self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
