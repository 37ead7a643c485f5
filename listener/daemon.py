"""`listener run`: APScheduler jobs over the pipeline functions, the locks, and clean stops.

Jobs (one worker thread, so the daemon's own jobs never overlap and never contend for the run lock):

- **poll**, every `tick` seconds (the shortest feed interval, 1 s to 60 s): when a configured feed is
  due, run `pipeline.poll()` -- exactly what `listener poll` runs -- with a process pool kept for
  the daemon's life. Each feed is due on its own `next_poll_at` (schedule.py: interval, hints,
  back-off), so a tick with nothing due costs one indexed SELECT.
- **digest**, a cron trigger at `schedule.digest` in `timezone`, `misfire_grace_time=None`.
- **digest-catchup**, at start-up and hourly: today's digest is sent if its time has passed and the
  ledger does not say it was sent (schedule.digest_due). The ledger decides, never the scheduler's
  memory: a daemon that was down at 07:30, a skipped DST hour, a suspended laptop or a clock step
  all end in exactly one send.
- **retention**, 10 minutes after start-up and then daily: `pipeline.prune()`.

Locks: the daemon holds `<database>.daemon.lock` for its lifetime (a second daemon exits 75), and
takes the run lock `<database>.lock` -- the one `listener poll` takes -- per cycle. So a cron
`listener poll` can run alongside the daemon: whichever comes second while the other is mid-cycle
steps aside (the cron run with exit 75, the daemon until its next tick).

Stopping: SIGTERM or SIGINT stops the scheduler, so no job starts; a poll cycle in flight stops
after the feed it is storing (each feed is its own transaction) and waits only for the fetches
already running (each bounded by `fetch.timeout`). If the work in flight is not done within
`stop_timeout` seconds, it is abandoned: the process exits at once, SQLite rolls back the one open
transaction. Either way the exit status is 0. A second signal abandons at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from listener import pipeline, store
from listener.errors import ListenerError, LockedError
from listener.lock import hold_lock
from listener.models import Config
from listener.schedule import clock_skew, digest_due, poll_tick
from listener.times import local_day

log = logging.getLogger(__name__)

STOP_TIMEOUT = 30.0  # seconds the work in flight gets after SIGTERM
CATCHUP_EVERY = 3600  # seconds between digest catch-up checks
DIGEST_RETRY_MINUTES = (1, 5, 15, 60)  # after a temporary SMTP failure
RETENTION_EVERY = 24 * 3600
RETENTION_DELAY = 600  # first prune this long after start-up, out of the first cycle's way
CLOCK_CHECK = 5.0  # seconds between wall-clock checks
CLOCK_STEP = 30.0  # a wall-clock step at least this big reschedules the jobs
SKIPS_WARNING = 3  # warn when the poll cycle outlasts this many ticks in a row (RELIABILITY F4)

DigestRunner = Callable[..., Any]  # pipeline.run_digest(config, day, *, send, to, force)
LedgerReader = Callable[[Config, dt.date], str | None]  # (config, day) -> the day's ledger status


class StopRequested(Exception):
    """Raised inside a poll cycle, between two feeds, once a stop was asked for."""


class Daemon:
    """The long-running `listener run` process. `run()` blocks until a signal, then returns 0.

    `run_digest` and `digest_status` are injectable for tests; by default they are
    `pipeline.run_digest` and the digests ledger in the database.
    """

    def __init__(self, config: Config, *, stop_timeout: float = STOP_TIMEOUT,
                 run_digest: DigestRunner | None = None, digest_status: LedgerReader | None = None,
                 install_signals: bool = True) -> None:
        self.config = config
        self.stop_timeout = stop_timeout
        self.tz = ZoneInfo(config.timezone)
        self.tick = poll_tick([f.every or config.poll_every for f in config.feeds] or [config.poll_every],
                              floor=config.min_interval)
        self._run_digest = run_digest or pipeline.run_digest
        self._digest_status = digest_status or _ledger_status
        self._install_signals = install_signals
        self.stopping = threading.Event()
        self.pool = pipeline.ParsePool()
        self.scheduler = BlockingScheduler(
            timezone=self.tz,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"max_instances": 1, "coalesce": True},
        )
        self.stats = {"cycles": 0, "digests": 0, "skipped_ticks": 0, "errors": 0, "clock_steps": 0}
        self._skips_in_a_row = 0
        self._digest_failures = 0
        self._busy = 0
        self._idle = threading.Condition()
        self._db: sqlite_utils.Database | None = None  # opened by run()

    # --- lifecycle ----------------------------------------------------------------------------

    def run(self) -> int:
        """Hold the daemon lock, schedule the jobs and block until SIGTERM/SIGINT (or stop())."""
        with hold_lock(daemon_lock_path(self.config.database)):
            self._db = store.open_db(self.config.database)
            if (status := store.quick_check(self._db)) != "ok":  # RELIABILITY E6: say so, keep going
                log.error("the database fails its quick check (%s): make a backup and see the README", status)
            store.sync_feeds(self._db, self.config.feeds)
            if store.rebase_schedule(self._db, store.utcnow()):
                log.warning("feeds were last polled in the future: the clock went back; their waits now count from now")
            self._schedule_jobs()
            if self._install_signals:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, self._on_signal)
            threading.Thread(target=self._watch_clock, name="listener-clock", daemon=True).start()
            log.info("listener daemon started (pid %d): %d feeds, due feeds checked every %ds, digest at %s %s%s",
                     os.getpid(), len(self.config.feeds), self.tick, self.config.digest_time.strftime("%H:%M"),
                     self.config.timezone, "" if self.config.digest.to else " (off: no digest.to)")
            self._say_if_the_digest_goes_now()
            if not self.stopping.is_set():
                self.scheduler.start()  # blocks until stop()
            return self._finish()

    def _say_if_the_digest_goes_now(self) -> None:
        """A person starting the daemon after the digest time should not be surprised by a mail."""
        if not self.config.digest.to or self._db is None:
            return
        now = store.utcnow()
        day = local_day(now, self.config.timezone)
        status = store.digest_ledger_status(self._db, day, self.config.digest.to)
        if digest_due(now, status, self.config.digest_time, self.config.timezone):
            log.info("today's digest (%s) is past its time and not sent yet: it goes out after the first poll", day)

    def stop(self, reason: str = "stop requested") -> None:
        """Take no more work; run() then waits up to stop_timeout for the work in flight."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        log.info("%s: stopping (the work in flight gets up to %gs)", reason, self.stop_timeout)
        # shutdown() takes the scheduler's locks: never from inside a signal handler, which may
        # have interrupted the main thread while it holds them.
        threading.Thread(target=self._shutdown_scheduler, name="listener-stop", daemon=True).start()

    def _shutdown_scheduler(self) -> None:
        # A signal during start-up can come before the scheduler runs: wait for it to, briefly.
        deadline = time.monotonic() + 10
        while True:
            try:
                self.scheduler.shutdown(wait=False)
                return
            except SchedulerNotRunningError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)

    def _on_signal(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.stopping.is_set():
            log.warning("second %s: abandoning the work in flight now", name)
            _exit_now(0)
        self.stop(name)

    def _finish(self) -> int:
        if not self._wait_idle(time.monotonic() + self.stop_timeout):
            log.warning("work still in flight after %gs: abandoned; everything committed before is kept",
                        self.stop_timeout)
            _exit_now(0)
        self.pool.close()
        if self._db is not None:
            self._db.close()
        log.info("stopped: %s", self.status_line())
        return 0

    def status_line(self) -> str:
        s = self.stats
        return (f"{s['cycles']} poll cycles, {s['digests']} digests sent, {s['skipped_ticks']} ticks skipped,"
                f" {s['errors']} job errors, {s['clock_steps']} clock steps, max RSS {max_rss_mb():.0f} MB")

    # --- jobs ---------------------------------------------------------------------------------

    def _schedule_jobs(self) -> None:
        now = store.utcnow().astimezone(self.tz)
        at = self.config.digest_time
        self.scheduler.add_job(self._poll_job, IntervalTrigger(seconds=self.tick, timezone=self.tz), id="poll",
                               name="poll", next_run_time=now, misfire_grace_time=max(300, 2 * self.tick))
        self.scheduler.add_job(self._digest_job, CronTrigger(hour=at.hour, minute=at.minute, timezone=self.tz),
                               id="digest", name="digest", args=["scheduled"], misfire_grace_time=None)
        # The first catch-up check a second after the first poll, so it queues behind it (one worker)
        # and a digest sent at start-up includes what that poll found.
        self.scheduler.add_job(self._digest_job, IntervalTrigger(seconds=CATCHUP_EVERY, timezone=self.tz),
                               id="digest-catchup", name="digest catch-up", args=["catch-up"],
                               next_run_time=now + dt.timedelta(seconds=1), misfire_grace_time=CATCHUP_EVERY)
        self.scheduler.add_job(self._retention_job, IntervalTrigger(seconds=RETENTION_EVERY, timezone=self.tz),
                               id="retention", name="retention", misfire_grace_time=RETENTION_EVERY,
                               next_run_time=now + dt.timedelta(seconds=RETENTION_DELAY))
        self.scheduler.add_listener(self._job_event,
                                    EVENT_JOB_ERROR | EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    def _poll_job(self) -> None:
        with self._working() as go:
            assert self._db is not None  # run() opens it before it schedules any job
            if not go or not store.due_feed_rows(self._db, now=store.utcnow()):
                return
            try:
                summary = pipeline.poll(self.config, pool=self.pool, on_outcome=self._between_feeds)
            except LockedError as exc:
                log.info("%s; the daemon tries again in %ds", exc, self.tick)
                return
            except StopRequested:
                log.info("poll cycle cut short by the stop; the feeds it finished are committed")
                return
            self.stats["cycles"] += 1
            log.debug("cycle %d done: %d outcomes", self.stats["cycles"], len(summary.outcomes))

    def _between_feeds(self, outcome: pipeline.FeedOutcome) -> None:
        """Called after each feed is committed: the safe point to leave a cycle when stopping."""
        if self.stopping.is_set():
            raise StopRequested

    def _digest_job(self, reason: str) -> None:
        with self._working() as go:
            if go and reason == "catch-up":
                log.info("alive: %s", self.status_line())
            if not go or not self.config.digest.to:
                return
            now = store.utcnow()
            day = local_day(now, self.config.timezone)
            status = self._digest_status(self.config, day)
            if not digest_due(now, status, self.config.digest_time, self.config.timezone):
                log.debug("digest for %s not due (%s, ledger: %s)", day, reason, status)
                return
            log.info("sending the digest for %s (%s; ledger: %s)", day, reason, status or "no entry")
            try:
                self._run_digest(self.config, day, send=True, to=None, force=False)
            except LockedError as exc:
                log.warning("digest for %s postponed: %s; the next catch-up check sends it", day, exc)
                return
            except ListenerError as exc:
                if getattr(exc, "permanent", False):
                    log.error("digest for %s not sent (refused for good): %s", day, exc)
                else:
                    minutes = self._schedule_digest_retry(now)
                    log.error("digest for %s not sent (next try in %d min): %s", day, minutes, exc)
                return
            self._digest_failures = 0
            self.stats["digests"] += 1

    def _schedule_digest_retry(self, now: dt.datetime) -> int:
        """A temporary failure is retried after 1, 5, 15, then every 60 minutes (RELIABILITY G1)."""
        minutes = DIGEST_RETRY_MINUTES[min(self._digest_failures, len(DIGEST_RETRY_MINUTES) - 1)]
        self._digest_failures += 1
        self.scheduler.add_job(self._digest_job, DateTrigger(now + dt.timedelta(minutes=minutes)),
                               id="digest-retry", name="digest retry", args=["retry"],
                               replace_existing=True, misfire_grace_time=None)
        return minutes

    def _retention_job(self) -> None:
        with self._working() as go:
            if go:
                pipeline.prune(self.config)

    @contextmanager
    def _working(self) -> Iterator[bool]:
        """Count a job as work in flight; yields False once stopping (the job then does nothing)."""
        with self._idle:
            if self.stopping.is_set():
                go = False
            else:
                go = True
                self._busy += 1
        try:
            yield go
        finally:
            if go:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def _wait_idle(self, deadline: float) -> bool:
        with self._idle:
            while self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def _job_event(self, event: JobExecutionEvent | JobSubmissionEvent) -> None:
        """Log job failures and keep going; count ticks skipped because a cycle is still running."""
        if event.code == EVENT_JOB_ERROR:
            self.stats["errors"] += 1
            exc = event.exception
            log.error("job %s failed: %s: %s (the daemon carries on)", event.job_id, type(exc).__name__, exc,
                      exc_info=(type(exc), exc, exc.__traceback__) if log.isEnabledFor(logging.DEBUG) else None)
        elif event.code == EVENT_JOB_MISSED:
            log.info("job %s missed its %s run (the process was busy or asleep)", event.job_id,
                     event.scheduled_run_time)
        elif event.code == EVENT_JOB_MAX_INSTANCES and event.job_id == "poll":
            self.stats["skipped_ticks"] += 1
            self._skips_in_a_row += 1
            if self._skips_in_a_row == SKIPS_WARNING + 1:
                log.warning("a poll cycle has been running for more than %d ticks (%ds each)",
                            SKIPS_WARNING, self.tick)
        if event.code in (EVENT_JOB_EXECUTED, EVENT_JOB_ERROR) and event.job_id == "poll":
            self._skips_in_a_row = 0

    # --- the wall clock -----------------------------------------------------------------------

    def _watch_clock(self) -> None:
        """APScheduler sleeps by the wall clock: after a step back it would sleep through the step.

        Compare the wall clock with the monotonic one; on a step, re-base the feeds' waits and run
        the poll and digest catch-up jobs now (the ledger keeps the digest to one send).
        """
        wall, mono = time.time(), time.monotonic()
        while not self.stopping.wait(CLOCK_CHECK):
            now_wall, now_mono = time.time(), time.monotonic()
            skew = clock_skew(wall, mono, now_wall, now_mono)
            wall, mono = now_wall, now_mono
            if abs(skew) >= CLOCK_STEP:
                self.clock_stepped(skew)

    def clock_stepped(self, skew: float) -> None:
        self.stats["clock_steps"] += 1
        log.warning("the wall clock stepped %s by %.0fs: rescheduling", "forward" if skew > 0 else "back", abs(skew))
        try:
            if skew < 0:
                db = store.open_db(self.config.database)
                try:
                    store.rebase_schedule(db, store.utcnow())
                finally:
                    db.close()
            now = store.utcnow().astimezone(self.tz)
            # The cron job's next run is an absolute time and stays right; these two would wait out
            # a step back, so they run now.
            for job_id in ("poll", "digest-catchup"):
                self.scheduler.modify_job(job_id, next_run_time=now)
        except Exception:  # noqa: BLE001 - the hourly catch-up still guards the digest
            log.exception("could not reschedule after the clock step")


def daemon_lock_path(database: str | os.PathLike[str]) -> Path:
    """hold_lock(this) -> `<database>.daemon.lock`: one daemon per database."""
    return Path(f"{database}.daemon")


def _ledger_status(config: Config, day: dt.date) -> str | None:
    db = store.open_db(config.database)
    try:
        return store.digest_ledger_status(db, day, config.digest.to)
    finally:
        db.close()


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _exit_now(status: int) -> None:
    """Leave without waiting for threads in flight (their open transaction rolls back)."""
    logging.shutdown()
    os._exit(status)


def quiet_libraries(level: int) -> None:
    """Below -vv, keep the daemon's log to our lines: APScheduler logs every job run at INFO (and job
    errors, which our listener reports once), httpx every request."""
    if level > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)


def run(config: Config, *, stop_timeout: float = STOP_TIMEOUT) -> int:
    """`listener run`: the daemon until SIGTERM/SIGINT; 75 when another daemon holds the database."""
    quiet_libraries(logging.getLogger().getEffectiveLevel())
    return Daemon(config, stop_timeout=stop_timeout).run()
