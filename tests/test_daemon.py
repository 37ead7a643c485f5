"""`listener run` and the feed lifecycle it drives.

The daemon runs as a real subprocess against the loopback feed server with 1-second intervals
(`every: 1s`, `schedule.min_interval: 1s`); the digest and clock logic run in-process under
time-machine with a stub digest sender. Time bounds are generous: they tell "1 s" from "8 s",
not 1.0 s from 1.2 s.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner
from conftest import run_cli
from feedgen import Entry, Watchlist, rss
from feedserver import drip, redirect_to, respond

from listener import daemon as daemon_module
from listener import pipeline, store
from listener.cli import cli
from listener.config import load_config
from listener.daemon import Daemon
from listener.errors import MailError
from listener.lock import lock_path
from listener.models import DigestSpec

LONDON = "Europe/London"


def entries(count: int, prefix: str = "post") -> list[Entry]:
    return [Entry(title=f"Quillfeather {prefix} {i}", body=f"Quillfeather {prefix} number {i}.",
                  link=f"https://blog.quill.example/{prefix}/{i}/", guid=f"{prefix}-{i}", author="Sam")
            for i in range(count)]


def feed(name: str, url: str, every: str = "1s") -> dict:
    return {"name": name, "url": url, "every": every}


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def rows(database: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(database, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


class DaemonProcess:
    """`python -m listener --config CFG run` with its stderr in a file."""

    def __init__(self, config: str, *args: str, env: dict | None = None, debug: bool = False) -> None:
        self.log_path = Path(config).parent / f"daemon-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        verbosity = ["-vv"] if debug else []
        self.proc = subprocess.Popen([sys.executable, "-m", "listener", "--config", config, *verbosity, "run", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log,
                                     env={**os.environ, **(env or {})})

    def terminate(self, timeout: float = 20) -> tuple[int, float]:
        """SIGTERM; returns (exit status, seconds it took to exit)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - started

    @property
    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def start(request):
    started: list[DaemonProcess] = []

    def start_daemon(config: str, *args: str, env: dict | None = None, debug: bool = False) -> DaemonProcess:
        process = DaemonProcess(config, *args, env=env, debug=debug)
        started.append(process)
        return process

    yield start_daemon
    for process in started:
        process.close()


def listener(config: str, *args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, config=config)


def item_count(database: Path) -> int:
    """Items stored so far; -1 while the database or its schema does not exist yet."""
    if not database.exists():
        return -1
    try:
        return rows(database, "SELECT count(*) FROM items")[0][0]
    except sqlite3.OperationalError:
        return -1


def run_lock_held(database: Path) -> bool:
    """True while a poll cycle holds the database's run lock, i.e. is inside pipeline.poll."""
    fd = os.open(lock_path(database), os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the lock if the probe got it
    return False


def gaps(server, path: str) -> list[float]:
    times = [r.time for r in server.requests if r.path == path]
    return [b - a for a, b in zip(times, times[1:])]


# --- the daemon as a subprocess ---------------------------------------------------------------


def test_daemon_polls_backs_off_honours_retry_after_and_stops_cleanly(tmp_path, feed_server, start):
    feed_server.add("/good.xml", rss(entries(3)), etag='"v1"')
    feed_server.script("/flaky.xml", [500, 500, 500, 200], body=rss(entries(2, "flaky")))
    limited = []

    def rate_limited(handler):
        limited.append(time.monotonic())
        if len(limited) == 1:
            respond(handler, 429, "slow down\n", content_type="text/plain", headers={"Retry-After": "5"})
        else:
            respond(handler, 200, rss(entries(1, "limited")))

    feed_server.route("/limited.xml", rate_limited)
    config = Watchlist(feeds=[feed("Good", feed_server.url("/good.xml")),
                              feed("Flaky", feed_server.url("/flaky.xml")),
                              feed("Limited", feed_server.url("/limited.xml"))]).write(tmp_path)
    daemon = start(config)
    wait_for(lambda: feed_server.hits("/flaky.xml") >= 5 and len(limited) >= 2, 40, "five polls of the flaky feed")
    code, took = daemon.terminate()
    assert code == 0, daemon.output
    assert took < 10

    # Back-off: 1 s, 2 s, 4 s after the three 500s (next_poll_at is kept to the second, so a wait
    # can end up to 1 s early), then the 200 resets it: the next poll comes one interval later.
    flaky = gaps(feed_server, "/flaky.xml")
    assert flaky[0] < 3.5
    assert 1.0 <= flaky[1] < 5.5
    assert 3.0 <= flaky[2] < 9  # without back-off it would be about 1 s
    assert flaky[3] < 3.5, "the success must reset the back-off"
    # Retry-After: 5 beats the first back-off step (1 s).
    assert limited[1] - limited[0] >= 4.0
    # The healthy feed is polled each second, conditionally after the first time.
    good = [r for r in feed_server.requests if r.path == "/good.xml"]
    assert len(good) >= 4
    assert all(r.headers.get("if-none-match") == '"v1"' for r in good[1:])

    health = {f["name"]: f for f in json.loads(listener(config, "feeds", "--format", "json").stdout)}
    assert {name: (f["state"], f["consecutive_errors"]) for name, f in health.items()} == {
        "Good": ("ok", 0), "Flaky": ("ok", 0), "Limited": ("ok", 0)}
    assert health["Good"]["status"] == "not_modified"
    log = daemon.output
    assert "Flaky: failing (3 errors in a row): next try in <1m" in log
    assert "polled 3 feeds and 0 comment feeds" in log  # the cycle summary line
    assert "stopped:" in log and "Traceback" not in log
    database = tmp_path / "listener.db"
    assert rows(database, "SELECT count(*), count(DISTINCT feed_id || key) FROM items") == [(6, 6)]
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]


def test_sigterm_mid_fetch_finishes_the_cycle_within_the_deadline(tmp_path, feed_server, start):
    feed_server.add("/good.xml", rss(entries(3)))
    feed_server.route("/slow.xml", drip(interval=0.2, total_seconds=30))
    config = Watchlist(feeds=[feed("Good", feed_server.url("/good.xml"), "1h"),
                              feed("Slow", feed_server.url("/slow.xml"), "1h")]).write(tmp_path)
    database = tmp_path / "listener.db"
    daemon = start(config)
    wait_for(lambda: feed_server.hits("/slow.xml") and database.exists()
             and rows(database, "SELECT count(*) FROM items") == [(3,)], 60, "the good feed stored mid-cycle")
    code, took = daemon.terminate()
    assert code == 0, daemon.output
    assert took < 8  # the fetch deadline (2 s) bounds the cycle, far inside the 30 s stop timeout
    assert "SIGTERM: stopping" in daemon.output
    assert "poll cycle cut short by the stop" in daemon.output  # no comment-feed phase, no next feed
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]
    assert rows(database, "SELECT name, error_kind FROM feeds ORDER BY name") == [("Good", None), ("Slow", "timeout")]


def test_work_stuck_past_the_stop_timeout_is_abandoned_and_nothing_breaks(tmp_path, feed_server, start):
    feed_server.add("/good.xml", rss(entries(3)))
    config = Watchlist(feeds=[feed("Good", feed_server.url("/good.xml"))]).write(tmp_path)
    database = tmp_path / "listener.db"
    daemon = start(config, "--stop-timeout", "1", debug=True)
    wait_for(lambda: item_count(database) == 3, 60, "first cycle")
    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # a cycle starting now waits on SQLite's 30 s busy timeout
    try:
        # A poll job that starts after the lock was taken and holds the run lock is inside
        # pipeline.poll, whose first statement writes: it is stuck, whatever the machine's speed.
        # (A job that starts without a due feed returns at once and is not counted as stuck.)
        before = daemon.output.count('Running job "poll')
        wait_for(lambda: daemon.output.count('Running job "poll') > before and run_lock_held(database), 60,
                 "a poll cycle stuck behind the write lock")
        # Waiting for the job would take the 30 s busy timeout; abandoning it takes the 1 s stop timeout.
        code, _ = daemon.terminate(timeout=25)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert code == 0, daemon.output
    assert "abandoned" in daemon.output
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]
    assert rows(database, "SELECT count(*) FROM items") == [(3,)]


def test_kill_9_mid_transaction_then_restart_loses_and_doubles_nothing(tmp_path, feed_server, start):
    feed_server.add("/big.xml", rss(entries(20, "big")), etag='"b1"')
    feed_server.add("/small.xml", rss(entries(3, "small")))
    config = Watchlist(feeds=[feed("Big", feed_server.url("/big.xml")),
                              feed("Small", feed_server.url("/small.xml"))]).write(tmp_path)
    database = tmp_path / "listener.db"
    killed = start(config, env={"LISTENER_FAULT": "kill_after_items:8"})
    assert killed.proc.wait(30) == -signal.SIGKILL
    # Each feed is one transaction: the feed being written when the process died left nothing.
    assert rows(database, "SELECT count(*) FROM items") in ([(0,)], [(3,)])
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]
    assert rows(database, "SELECT etag FROM feeds WHERE name = 'Big'") == [(None,)]

    again = start(config)  # the kernel dropped the dead daemon's locks: no exit 75
    wait_for(lambda: item_count(database) == 23, 60, "all items after the restart")
    assert again.proc.poll() is None, again.output
    wait_for(lambda: feed_server.hits("/big.xml") >= 3, 60, "a conditional re-poll")
    code, _ = again.terminate()
    assert code == 0
    assert rows(database, "SELECT count(*), count(DISTINCT feed_id || '/' || key) FROM items") == [(23, 23)]
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]


def test_one_daemon_per_database_and_cron_polls_still_work_beside_it(tmp_path, feed_server, start):
    feed_server.add("/good.xml", rss(entries(2)))
    config = Watchlist(feeds=[feed("Good", feed_server.url("/good.xml"), "1h")]).write(tmp_path)
    database = tmp_path / "listener.db"
    first = start(config)
    wait_for(lambda: item_count(database) == 2, 60, "first cycle")
    second = start(config)
    assert second.proc.wait(30) == 75
    assert "stepping aside" in second.output
    # Between cycles the run lock is free: a cron `listener poll` (here forced) runs normally.
    polled = listener(config, "poll", "--all")
    assert polled.returncode == 0, polled.stderr
    assert feed_server.hits("/good.xml") == 2
    assert first.terminate()[0] == 0


class Mailbox:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[list[str], bytes]] = []
        with socket.socket() as probe:  # a free port (aiosmtpd's Controller wants one up front)
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def message_ids(self) -> list[str]:
        from email import message_from_bytes

        return [message_from_bytes(content)["Message-ID"] for _, content in self.messages]


@pytest.fixture
def mailbox():
    box = Mailbox()
    yield box
    box.controller.stop()


def test_a_digest_due_at_start_up_is_sent_once_and_not_again_after_a_restart(tmp_path, feed_server, mailbox, start):
    feed_server.add("/blog.xml", rss([Entry("Quillfeather lost my notes", "Awful, furious.", guid="n1")]))
    text = Watchlist(feeds=[feed("Blog", feed_server.url("/blog.xml"), "1h")]).text().replace(
        "schedule: {poll: 15m, min_interval: 1s}", 'schedule: {poll: 15m, min_interval: 1s, digest: "00:00"}')
    text += ("digest:\n  from: listener@example.com\n  to: [team@example.com]\n"
             f"  smtp: {{host: 127.0.0.1, port: {mailbox.port}, timeout: 5}}\n")
    config = tmp_path / "feeds.yaml"
    config.write_text(text)
    database = tmp_path / "listener.db"

    first = start(str(config))
    wait_for(lambda: mailbox.messages, 60, "the catch-up digest")
    assert first.terminate()[0] == 0, first.output
    assert len(mailbox.messages) == 1
    recipients, content = mailbox.messages[0]
    assert recipients == ["team@example.com"]
    assert b"Quillfeather lost my notes" in content  # the first poll ran before the catch-up check
    [(day, status)] = rows(database, "SELECT day, status FROM digests")
    assert status == "sent"

    again = start(str(config), debug=True)
    wait_for(lambda: "not due (catch-up, ledger: sent)" in again.output, 60, "the start-up catch-up check")
    assert again.terminate()[0] == 0, again.output
    assert len(mailbox.messages) == 1
    assert rows(database, "SELECT day, status, attempts FROM digests") == [(day, "sent", 1)]


# --- feed lifecycle: gone, permanent redirects, auto-disable (in-process polls) ----------------


def config_for(tmp_path, feeds: list[dict]):
    return load_config(Watchlist(feeds=feeds).write(tmp_path))


def states(config) -> dict[str, dict]:
    db = store.open_db(config.database)
    try:
        return {row["name"]: row for row in pipeline.feed_health(db, config)}
    finally:
        db.close()


def test_410_marks_a_feed_gone_and_stops_polling_it(tmp_path, feed_server):
    feed_server.add("/old.xml", "gone\n", status=410, content_type="text/plain")
    config = config_for(tmp_path, [feed("Old", feed_server.url("/old.xml"))])
    summary = pipeline.poll(config)
    assert [o.status for o in summary.outcomes] == ["gone"]
    with time_machine.travel(store.utcnow() + dt.timedelta(days=2), tick=False):
        pipeline.poll(config)
        pipeline.poll(config, force=True)  # --all skips gone feeds too
    assert feed_server.hits("/old.xml") == 1
    assert states(config)["Old"]["state"] == "gone"
    pipeline.poll(config, names=["Old"])  # naming it tries again
    assert feed_server.hits("/old.xml") == 2


@pytest.mark.parametrize("status, moves", [(301, True), (308, True), (302, False), (307, False)])
def test_a_permanent_redirect_is_followed_for_good_after_three_polls(tmp_path, feed_server, status, moves):
    feed_server.route("/old.xml", redirect_to("/new.xml", status))
    feed_server.add("/new.xml", rss(entries(2)))
    config = config_for(tmp_path, [feed("Blog", feed_server.url("/old.xml"))])
    for _ in range(5):
        pipeline.poll(config, force=True)
    assert feed_server.hits("/new.xml") == 5
    db = store.open_db(config.database)
    url = db.execute("SELECT url FROM feeds WHERE name = 'Blog'").fetchone()[0]
    db.close()
    if moves:
        assert url == feed_server.url("/new.xml")
        assert feed_server.hits("/old.xml") == 3
    else:
        assert url == feed_server.url("/old.xml")
        assert feed_server.hits("/old.xml") == 5


def test_a_moved_url_survives_restarts_until_feeds_yaml_changes(tmp_path, feed_server):
    feed_server.route("/old.xml", redirect_to("/new.xml", 301))
    feed_server.add("/new.xml", rss(entries(2)))
    feed_server.add("/other.xml", rss(entries(1, "other")))
    config = config_for(tmp_path, [feed("Blog", feed_server.url("/old.xml"))])
    for _ in range(4):
        pipeline.poll(config, force=True)
    assert feed_server.hits("/old.xml") == 3  # sync_feeds did not put the configured URL back
    edited = config_for(tmp_path, [feed("Blog", feed_server.url("/other.xml"))])
    pipeline.poll(edited, force=True)
    assert feed_server.hits("/other.xml") == 1


def test_a_permanent_redirect_onto_another_feeds_url_is_refused(tmp_path, feed_server, caplog):
    feed_server.route("/old.xml", redirect_to("/new.xml", 301))
    feed_server.add("/new.xml", rss(entries(2)))
    config = config_for(tmp_path, [feed("Blog", feed_server.url("/old.xml")), feed("New", feed_server.url("/new.xml"))])
    for _ in range(4):
        pipeline.poll(config, force=True)
    assert feed_server.hits("/old.xml") == 4
    assert "which another feed already polls" in caplog.text


def test_a_feed_failing_for_seven_days_is_disabled_and_a_success_revives_it(tmp_path, feed_server):
    feed_server.script("/down.xml", [500, 500, 500, 200], body=rss(entries(1)))
    config = config_for(tmp_path, [feed("Down", feed_server.url("/down.xml"))])
    start = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)
    with time_machine.travel(start, tick=False):
        pipeline.poll(config)
    with time_machine.travel(start + dt.timedelta(days=3), tick=False):
        pipeline.poll(config)
        assert states(config)["Down"]["state"] == "retrying"
    with time_machine.travel(start + dt.timedelta(days=7, minutes=1), tick=False):
        pipeline.poll(config)
        health = states(config)["Down"]
        assert (health["state"], health["consecutive_errors"]) == ("disabled", 3)
    with time_machine.travel(start + dt.timedelta(days=30), tick=False):
        pipeline.poll(config)  # a disabled feed is never due
        assert feed_server.hits("/down.xml") == 3
        pipeline.poll(config, names=["Down"])
        health = states(config)["Down"]
        assert (health["state"], health["consecutive_errors"], health["backoff"]) == ("ok", 0, None)


def test_feeds_command_shows_state_backoff_and_last_error(tmp_path, feed_server):
    feed_server.add("/broken.xml", "oops", status=503, content_type="text/plain")
    config = config_for(tmp_path, [feed("Broken", feed_server.url("/broken.xml"), "10m")])
    for _ in range(3):
        pipeline.poll(config, force=True)
    shown = CliRunner().invoke(cli, ["--config", str(config.path), "feeds", "--format", "json"])
    [health] = json.loads(shown.output)
    assert (health["state"], health["consecutive_errors"], health["backoff"]) == ("failing", 3, "40m")
    assert health["last_error"] == "HTTP 503 Service Unavailable" and health["next_poll_at"]
    table = CliRunner().invoke(cli, ["--config", str(config.path), "feeds"]).output
    assert "failing" in table and "40m" in table


# --- the digest and the clock: the daemon in-process, under time-machine ------------------------


class Ledger:
    """A stub digests ledger and sender: records each send; `fail` makes the next sends raise."""

    def __init__(self, fail: int = 0) -> None:
        self.status: dict[dt.date, str] = {}
        self.sends: list[tuple[dt.date, dt.datetime]] = []
        self.checks: list[dt.date] = []  # each digest job's ledger read: it has decided once this returns
        self.fail = fail

    def read(self, config, day):
        self.checks.append(day)
        return self.status.get(day)

    def send(self, config, day, *, send, to, force):
        assert (send, to, force) == (True, None, False)
        if self.fail:
            self.fail -= 1
            self.status[day] = "failed"
            raise MailError("smtp", "connection refused")
        self.sends.append((day, store.utcnow()))
        self.status[day] = "sent"


def digest_config(tmp_path, at: str, feeds: list[dict] | None = None):
    config = config_for(tmp_path, feeds or [])
    return replace(config, digest_time=dt.time(*map(int, at.split(":"))), timezone=LONDON,
                   digest=DigestSpec(from_addr="listener@example.com", to=("team@example.com",)))


class InProcess:
    """Daemon.run() in a thread (no signal handlers); stop() and join."""

    def __init__(self, config, ledger: Ledger) -> None:
        self.daemon = Daemon(config, run_digest=ledger.send, digest_status=ledger.read, install_signals=False)
        self.result: list[int] = []
        self.thread = threading.Thread(target=lambda: self.result.append(self.daemon.run()), daemon=True)
        self.thread.start()

    def stop(self) -> int:
        wait_for(lambda: self.daemon.scheduler.running, 30, "the scheduler to start")
        self.daemon.stop()
        self.thread.join(15)
        assert not self.thread.is_alive()
        return self.result[0]


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(LONDON))


def test_the_digest_goes_out_at_its_time_once(tmp_path):
    ledger = Ledger()
    with time_machine.travel(local(2026, 10, 25, 1, 29, 58), tick=True):  # fall-back day: 01:30 happens twice
        running = InProcess(digest_config(tmp_path, "01:30"), ledger)
        wait_for(lambda: ledger.sends, 60, "the 01:30 digest")
        running.daemon._digest_job("catch-up")
        running.daemon._digest_job("scheduled")  # what the second 01:30 fire does
        assert running.stop() == 0
    assert [day for day, _ in ledger.sends] == [dt.date(2026, 10, 25)]
    sent_at = ledger.sends[0][1]
    assert dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.timezone.utc) <= sent_at < \
        dt.datetime(2026, 10, 25, 0, 30, 30, tzinfo=dt.timezone.utc)  # at 01:30 BST, not 01:30 GMT


def test_a_digest_missed_while_down_is_sent_at_start_up_and_never_again(tmp_path):
    ledger = Ledger()
    config = digest_config(tmp_path, "07:30")
    with time_machine.travel(local(2026, 6, 1, 8, 5), tick=True):
        first = InProcess(config, ledger)
        wait_for(lambda: ledger.sends, 30, "the catch-up send")
        assert first.stop() == 0
        checked = len(ledger.checks)
        second = InProcess(config, ledger)  # restarted: the ledger says sent
        wait_for(lambda: len(ledger.checks) > checked, 60, "the start-up catch-up check")
        assert second.stop() == 0  # waits for the check in flight
    assert [day for day, _ in ledger.sends] == [dt.date(2026, 6, 1)]


def test_before_its_time_the_digest_is_not_sent_and_a_failure_is_retried(tmp_path, monkeypatch):
    # The test moves the clock itself and runs the catch-up by hand: the clock watchdog (which would
    # see the step) and the 07:30 job (past due once the clock moved) must not race it.
    monkeypatch.setattr(daemon_module, "CLOCK_CHECK", 3600)
    ledger = Ledger(fail=1)
    config = digest_config(tmp_path, "07:30")
    with time_machine.travel(local(2026, 6, 1, 7, 0), tick=True) as traveller:
        running = InProcess(config, ledger)
        wait_for(lambda: ledger.checks and not running.daemon._busy, 60, "the start-up catch-up check")
        assert ledger.status == {} and ledger.sends == []  # catch-up at start-up: not yet 07:30
        running.daemon.scheduler.pause_job("digest")
        traveller.move_to(local(2026, 6, 1, 7, 45))
        running.daemon._digest_job("catch-up")
        assert ledger.status == {dt.date(2026, 6, 1): "failed"} and ledger.sends == []
        running.daemon._digest_job("catch-up")  # the next hourly check
        assert running.stop() == 0
    assert [day for day, _ in ledger.sends] == [dt.date(2026, 6, 1)]


def test_a_temporary_digest_failure_is_retried_after_1_5_and_15_minutes(tmp_path):
    ledger = Ledger(fail=3)
    config = digest_config(tmp_path, "07:30")
    with time_machine.travel(local(2026, 6, 1, 7, 45), tick=True):
        running = InProcess(config, ledger)
        waits = []
        for _ in range(3):
            wait_for(lambda: running.daemon.scheduler.get_job("digest-retry") is not None, 30, "a retry")
            retry = running.daemon.scheduler.get_job("digest-retry")
            waits.append(round((retry.next_run_time - local(2026, 6, 1, 7, 45)).total_seconds() / 60))
            running.daemon.scheduler.remove_job("digest-retry")
            if len(waits) < 3:
                running.daemon._digest_job("retry")
        running.daemon._digest_job("retry")
        assert running.daemon.scheduler.get_job("digest-retry") is None
        assert running.stop() == 0
    assert waits == [1, 5, 15]
    assert [day for day, _ in ledger.sends] == [dt.date(2026, 6, 1)]


def test_a_wall_clock_step_back_does_not_make_the_daemon_sleep_through_it(tmp_path, feed_server, monkeypatch):
    monkeypatch.setattr(daemon_module, "CLOCK_CHECK", 0.2)
    feed_server.add("/good.xml", rss(entries(1)))
    config = digest_config(tmp_path, "07:30", [feed("Good", feed_server.url("/good.xml"), "2s")])
    with time_machine.travel(local(2026, 6, 1, 12, 0), tick=True) as traveller:
        running = InProcess(config, Ledger())
        wait_for(lambda: feed_server.hits("/good.xml") >= 1, 30, "the first poll")
        traveller.shift(dt.timedelta(hours=-1))
        # Without the watchdog the scheduler would wait an hour for its next tick, and the feed's
        # next_poll_at would lie an hour ahead.
        wait_for(lambda: feed_server.hits("/good.xml") >= 2, 30, "a poll after the step back")
        assert running.daemon.stats["clock_steps"] == 1
        assert running.stop() == 0


def test_a_failing_job_is_logged_and_the_daemon_carries_on(tmp_path, feed_server, monkeypatch, caplog):
    feed_server.add("/good.xml", rss(entries(1)))
    config = digest_config(tmp_path, "07:30", [feed("Good", feed_server.url("/good.xml"))])
    real_poll, calls = pipeline.poll, []

    def flaky_poll(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real_poll(*args, **kwargs)

    monkeypatch.setattr(pipeline, "poll", flaky_poll)
    running = InProcess(config, Ledger())
    wait_for(lambda: feed_server.hits("/good.xml") >= 1, 30, "a poll after the failed one")
    assert running.stop() == 0
    assert running.daemon.stats["errors"] == 1
    assert "job poll failed: RuntimeError: boom (the daemon carries on)" in caplog.text


def test_ticks_skipped_behind_a_long_cycle_are_counted_and_warned_about_once(tmp_path, caplog):
    from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent, JobSubmissionEvent

    running = Daemon(digest_config(tmp_path, "07:30"), install_signals=False)
    now = store.utcnow()
    for _ in range(6):
        running._job_event(JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "poll", "default", [now]))
    running._job_event(JobExecutionEvent(EVENT_JOB_EXECUTED, "poll", "default", now))
    running._job_event(JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "poll", "default", [now]))
    assert running.stats["skipped_ticks"] == 7
    assert caplog.text.count("a poll cycle has been running for more than 3 ticks") == 1
