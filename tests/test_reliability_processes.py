"""Issue 14.5: a killed `listener poll` leaves no process behind (workers, forkserver, resource tracker)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from feedgen import Entry, Watchlist, rss

BODY = rss([Entry(title=f"Post {i}", body="<p>Quillfeather <b>notes</b></p>" * 100, guid=f"p{i}")
            for i in range(300)]).encode()


def session_members(sid: int) -> list[tuple[int, str]]:
    """(pid, state) of every live process in session `sid` (zombies are dead: not listed)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        state, session = fields[0], int(fields[3])
        if session == sid and state not in ("Z", "X"):
            members.append((int(entry.name), state))
    return members


def wait_for(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_killed_poll_leaves_no_worker_forkserver_or_tracker_running(tmp_path, feed_server, signum):
    def slow(handler):
        feed_server.stopping.wait(0.4)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(BODY)))
        handler.end_headers()
        handler.wfile.write(BODY)

    for n in range(40):
        feed_server.route(f"/f{n}.xml", slow)
    config = Watchlist(feeds=[{"name": f"F{n}", "url": feed_server.url(f"/f{n}.xml")} for n in range(40)]).write(tmp_path)
    poll = subprocess.Popen([sys.executable, "-m", "listener", "--config", config, "poll"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # The main process, the resource tracker, the forkserver and at least one worker.
        assert wait_for(lambda: len(session_members(poll.pid)) >= 4), session_members(poll.pid)
        assert poll.poll() is None, "the poll finished before it could be killed"
        os.kill(poll.pid, signum)
        poll.wait(timeout=60)
        assert wait_for(lambda: not session_members(poll.pid), 30), session_members(poll.pid)
    finally:
        for pid, _ in session_members(poll.pid):  # only this test's own session
            os.kill(pid, signal.SIGKILL)
