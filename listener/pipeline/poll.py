"""One poll cycle, from due feeds to stored, scored, threaded items: `listener poll` and the daemon's job.

Fetches run on a thread pool (I/O), parsing and scoring on a process pool (workers.py, both cores),
and the main thread is the single writer. Each feed's write is one SAVEPOINT (its validators with
its items; its failure rolls back alone) inside a store.WriteGroup, which commits many feeds at
once: every GROUP_UNITS feeds, every 0.5 s, and before the cycle waits for anything. A feed's
outcome is announced (`on_outcome`) only once the transaction holding it is committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from functools import cached_property
from typing import TYPE_CHECKING

import sqlite_utils

from listener import store
from listener.errors import FetchError, ListenerError, ParseError, StoreError, UsageError
from listener.fetch import IDLE_AFTER, Fetcher, FetchJob
from listener.lock import hold_lock
from listener.match import compile_watchlist
from listener.models import Config, FetchResult, ItemPlacement, Judging, ScoredItem
from listener.netpolicy import LinkPolicy
from listener.pipeline.comments import due_comment_feeds
from listener.pipeline.outcomes import FeedOutcome, PollSummary
from listener.pipeline.pool import ParsePool
from listener.schedule import (
    DISABLE_AFTER,
    FAILING_AFTER_ERRORS,
    hinted_interval,
    next_poll_after_failure,
    next_poll_after_success,
)
from listener.text import human_duration
from listener.threads import ThreadRef, assign_threads

if TYPE_CHECKING:
    from listener.pipeline.alerts import AlertRunSummary
    from listener.pipeline.workers import ProcessedFeed

log = logging.getLogger(__name__)

WORKERS_FROM_FEEDS = 8  # a cycle with fewer feeds parses in-process
INLINE_BYTES = 256 * 1024  # ...unless a body is at least this large
NOT_MODIFIED_BATCH = 100  # plain 304s written in one statement


class PollCycle:
    """One cycle over the due feeds; holds the open database, fetcher and worker pool while it runs."""

    def __init__(self, config: Config, db: sqlite_utils.Database, fetcher: Fetcher, pool: ParsePool,
                 *, on_outcome: Callable[[FeedOutcome], None] | None = None) -> None:
        self.config = config
        self.db = db
        self.fetcher = fetcher
        self.pool = pool
        self.watchlist = compile_watchlist(config.watch)
        self.intervals = {spec.name: spec.every or config.poll_every for spec in config.feeds}
        self.comment_feeds_of = {spec.name for spec in config.feeds if spec.comments}
        self.verify_tls = {spec.name: spec.verify_tls for spec in config.feeds}
        self.comment_counts: dict[int, int | None] = {}  # comment feed id -> its post's count, until stored
        self.on_outcome = on_outcome or (lambda outcome: None)
        self.many_feeds = False
        self.group = store.WriteGroup(db)
        # Bodies fetched but not yet parsed, at most (and as many again waiting in the fetcher):
        # enough to keep every worker busy, few enough that memory stays flat in the number of feeds.
        self.waiting_bodies = 4 * (pool.workers if pool else 2)
        self._outcomes: list[FeedOutcome] = []
        self._unsettled: list[tuple[int, store.FeedRow]] = []  # index in _outcomes, feed: not committed yet
        self._not_modified: list[tuple[store.FeedRow, store.NotModified]] = []  # 304s not written yet

    # The parser, the verdict and triage load at the first body: a cycle of 304s never needs them.

    @cached_property
    def judging(self) -> Judging:
        from listener.pipeline.workers import judging_for

        return judging_for(self.config)

    @cached_property
    def staff(self) -> frozenset[str]:
        from listener.triage import staff_set

        return staff_set(self.config.staff_authors)

    def run(self, feeds: Sequence[store.FeedRow]) -> list[FeedOutcome]:
        """Fetch, process and store `feeds`; one feed's failure never stops the others."""
        by_id = {feed.id: feed for feed in feeds}
        jobs = [FetchJob(feed.id, feed.url, feed.etag, feed.last_modified, self._verify_tls(feed),
                         self._link_policy(feed)) for feed in feeds]
        pending: list[tuple[store.FeedRow, FetchResult, Future]] = []
        self._outcomes = []
        self.many_feeds = len(feeds) >= WORKERS_FROM_FEEDS
        try:
            for job, result in self.fetcher.fetch_many(jobs, on_idle=self._settle, ahead=self.waiting_bodies):
                feed = by_id[job.key]
                if isinstance(result, FetchError):
                    self._done(feed, self._failed(feed, result.kind, str(result), result.status,
                                                  result.retry_after, gone=result.kind == "gone"))
                elif result.not_modified and not result.permanent_redirect and feed.id not in self.comment_counts:
                    self._unchanged(feed, result)
                elif result.not_modified:
                    self._done(feed, self._store(feed, result, None))
                else:
                    pending.append((feed, result, self._submit(feed, result)))
                # Store whatever the workers have finished while fetches continue.
                pending = self._drain(pending, block=False)
                if len(pending) > self.waiting_bodies:  # the workers are behind: fetching waits for them
                    self._drain(pending[:1], block=True)
                    pending = pending[1:]
            self._drain(pending, block=True)
        finally:
            self._settle()  # what is written is complete per feed: commit it, even when stopping
        return self._outcomes

    # --- grouped commits ----------------------------------------------------------------------

    def _done(self, feed: store.FeedRow, outcome: FeedOutcome) -> None:
        """One feed's unit is written (or failed) inside the group; commit when the group is due."""
        self._outcomes.append(outcome)
        self._unsettled.append((len(self._outcomes) - 1, feed))
        try:
            committed = self.group.done_unit()
        except StoreError as exc:
            self._lost(exc)
        else:
            if committed:
                self._announce()

    def _unchanged(self, feed: store.FeedRow, result: FetchResult) -> None:
        """A plain 304 (no redirect, no comment count to record): its row waits to be written with
        others in one statement (store.save_not_modified), always before the group commits."""
        now = store.utcnow()
        next_poll = next_poll_after_success(now, self._interval(feed), floor=self.config.min_interval,
                                            hint=hinted_interval(result.headers, ttl_seconds=None, now=now))
        self._not_modified.append((feed, store.NotModified(feed.id, result.etag, result.last_modified, next_poll, now)))
        if len(self._not_modified) >= NOT_MODIFIED_BATCH:
            self._write_not_modified()

    def _write_not_modified(self) -> None:
        batch, self._not_modified = self._not_modified, []
        if not batch:
            return
        try:
            self.group.open()
            store.save_not_modified(self.db, [answer for _, answer in batch])
        except Exception as exc:  # noqa: BLE001 - disk full, locked for too long: validators stay old
            log.debug("storing %d unchanged feeds failed", len(batch), exc_info=True)  # _failed logs each
            for feed, _ in batch:
                self._done(feed, self._failed(feed, "store", f"{type(exc).__name__}: {exc}", 304, None))
            return
        for feed, _ in batch:
            self._done(feed, FeedOutcome(feed.name, feed.kind, "not_modified"))

    def _settle(self) -> None:
        """Commit the group now (the cycle is about to wait, or ends)."""
        self._write_not_modified()
        try:
            self.group.commit()
        except Exception as exc:  # noqa: BLE001 - a failed COMMIT is every unit's store failure
            self._lost(exc)
        else:
            self._announce()

    def _announce(self) -> None:
        settled, self._unsettled = self._unsettled, []
        for index, _ in settled:
            self.on_outcome(self._outcomes[index])

    def _lost(self, exc: Exception) -> None:
        """The group's transaction is gone (a failed COMMIT, or SQLite rolled it back on a full
        disk): none of its feeds was stored, so each becomes a store failure, validators old."""
        self.group.rollback()
        lost, self._unsettled = self._unsettled, []
        log.debug("a grouped commit failed", exc_info=True)
        for index, feed in lost:
            if self._outcomes[index].error_kind == "store":
                continue  # already a store failure, and recorded as one
            self._outcomes[index] = self._failed(feed, "store", f"{type(exc).__name__}: {exc}", None, None)
        try:
            self.group.commit()  # the error rows, best effort
        except Exception:  # noqa: BLE001 - the summary already says these feeds were not stored
            self.group.rollback()
        for index, _ in lost:
            self.on_outcome(self._outcomes[index])

    def _submit(self, feed: store.FeedRow, result: FetchResult) -> Future:
        body = result.body or b""
        if self.many_feeds or len(body) >= INLINE_BYTES:
            self.pool.start()  # at the first body to parse: a cycle of 304s never pays for workers
        return self.pool.submit(
            body, url=result.url, headers=result.headers,
            known=store.known_hashes(self.db, feed.id), watchlist=self.watchlist,
            match_all=feed.match_all, score_all=feed.kind == "comments" or self.follows_comments(feed),
            parse_budget=self.config.fetch.parse_timeout, judging=self.judging)

    def _drain(self, pending, *, block: bool):
        still = []
        for feed, result, future in pending:
            if not future.done():
                if not block:
                    still.append((feed, result, future))
                    continue
                if not wait([future], timeout=IDLE_AFTER).done:
                    self._settle()  # never hold the write lock (and uncommitted feeds) while waiting
            try:
                processed = future.result()
            except ParseError as exc:
                outcome = self._failed(feed, exc.kind, str(exc), result.status, None)
            except Exception as exc:  # noqa: BLE001 - RELIABILITY F7: one feed's bug stays with that feed
                log.debug("processing %s failed", feed.name, exc_info=True)  # _failed logs the one line
                outcome = self._failed(feed, "error", f"{type(exc).__name__}: {exc}", result.status, None)
            else:
                outcome = self._store(feed, result, processed)
            self._done(feed, outcome)
        return still

    def _verify_tls(self, feed: store.FeedRow) -> bool:
        """A comment feed lives on its blog's server, so it inherits the blog's TLS setting."""
        name = feed.name if feed.kind == "feed" else feed.parent_name
        return self.verify_tls.get(name or "", True)

    def _link_policy(self, feed: store.FeedRow) -> LinkPolicy | None:
        """A comment feed's URL came from feed content: the fetcher checks every hop (RELIABILITY A14)."""
        if feed.kind != "comments":
            return None
        return LinkPolicy.for_feed(feed.parent_url or "", post_urls=[feed.thread_url],
                                   allow_hosts=self.config.comments.allow_hosts)

    def follows_comments(self, feed: store.FeedRow) -> bool:
        return feed.kind == "feed" and feed.name in self.comment_feeds_of

    def _interval(self, feed: store.FeedRow) -> int:
        name = feed.parent_name if feed.kind == "comments" else feed.name
        return self.intervals.get(name or "", self.config.poll_every)

    def _failed(self, feed: store.FeedRow, kind: str, message: str, http_status: int | None,
                retry_after: float | None, *, gone: bool = False) -> FeedOutcome:
        now = store.utcnow()
        errors = feed.consecutive_errors + 1
        next_poll = next_poll_after_failure(now, self._interval(feed), consecutive_errors=errors,
                                            floor=self.config.min_interval, retry_after=retry_after)
        disabled = False
        try:
            self.group.open()
            store.record_error(self.db, feed.id, kind=kind, message=message, http_status=http_status,
                               next_poll_at=next_poll, now=now, gone=gone)
            # RELIABILITY A4: a configured feed failing every poll for 7 days stops being polled.
            disabled = (not gone and feed.kind == "feed"
                        and store.disable_failing_feed(self.db, feed.id, failing_since=now - DISABLE_AFTER))
        except Exception as exc:  # noqa: BLE001 - the error row is best effort; the cycle goes on
            # A store failure (a full disk) is summed up in one line at the end of the poll (issue 14.7).
            log.log(logging.WARNING if kind == "store" else logging.ERROR, "could not record the error of %s: %s",
                    feed.name, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        log.warning("%s: %s: %s", feed.name, kind, message)
        if gone:
            log.warning("%s: the server says it is gone for good (410): no longer polled", feed.name)
        elif disabled:
            log.warning("%s: failing for 7 days: disabled (`listener poll --feed NAME` tries it again)", feed.name)
        elif errors >= FAILING_AFTER_ERRORS:
            log.warning("%s: failing (%d errors in a row): next try in %s", feed.name, errors,
                        human_duration((next_poll - now).total_seconds()))
        return FeedOutcome(feed.name, feed.kind, "gone" if gone else "error", error=f"{kind}: {message}",
                           error_kind=kind)

    def _store(self, feed: store.FeedRow, result: FetchResult, processed: ProcessedFeed | None) -> FeedOutcome:
        now = store.utcnow()
        parsed = processed.parsed if processed else None
        hint = hinted_interval(result.headers, ttl_seconds=parsed.ttl_seconds if parsed else None, now=now)
        degraded = parsed.degraded if parsed else None
        status = "not_modified" if result.not_modified else ("degraded" if degraded else "ok")
        update = store.FeedUpdate(
            status=status, http_status=result.status, etag=result.etag, last_modified=result.last_modified,
            next_poll_at=next_poll_after_success(now, self._interval(feed), floor=self.config.min_interval,
                                                 hint=hint),
            title=parsed.title if parsed else None, link=parsed.link if parsed else None,
            message=degraded, redirect_target=result.permanent_redirect,
            url=self._moved_url(feed, result.permanent_redirect),
        )
        items = processed.items if processed else []
        try:
            self.group.open()
            counts = store.save_poll(self.db, feed.id, update, items, now=now,
                                     placements=self._placements(feed, items),
                                     seen=len(parsed.items) if parsed else 0,
                                     reply_window=self.config.triage.reply_window)
        except ListenerError as exc:
            return self._failed(feed, "store", str(exc), result.status, None)
        except Exception as exc:  # noqa: BLE001 - disk full, locked for too long: validators stay old
            log.debug("storing %s failed", feed.name, exc_info=True)  # _failed logs the one line
            return self._failed(feed, "store", f"{type(exc).__name__}: {exc}", result.status, None)
        if counts.rekeyed:
            log.warning("%s: re-keyed %d stored items (new guids for the same stories): updated, not new",
                        feed.name, counts.rekeyed)
        if feed.id in self.comment_counts:
            self._stored_comment_count(feed)
        return FeedOutcome(feed.name, feed.kind, status, counts.new, counts.updated, counts.new_hits)

    def _moved_url(self, feed: store.FeedRow, target: str | None) -> str | None:
        """The new URL once a feed was moved permanently (301/308) to the same place 3 polls in a row.

        Never for 302/307 (fetch reports only all-permanent chains); never onto another feed's URL
        (RELIABILITY A13). This poll is the third when the two before it already saw `target`.
        """
        if not target or target == feed.url:
            return None
        previous, count = store.redirect_state(self.db, feed.id)
        if previous != target or count + 1 < 3:
            return None
        if store.url_in_use(self.db, target, feed.id):
            if count + 1 == 3:
                log.warning("%s: moved permanently to %s, which another feed already polls: keeping %s",
                            feed.name, target, feed.url)
            return None
        log.warning("%s: moved permanently to %s (3 polls in a row): polling the new URL from now on",
                    feed.name, target)
        return target

    def _stored_comment_count(self, feed: store.FeedRow) -> None:
        """The post's comment count this fetch saw, written only once its comments are stored: a cycle
        killed before that fetches them again instead of skipping them as unchanged."""
        count = self.comment_counts.pop(feed.id)
        try:
            store.set_comment_count(self.db, feed.id, count)
        except Exception:  # noqa: BLE001 - without it the next cycle only fetches once more, conditionally
            log.exception("could not record the comment count of %s", feed.name)

    def _placements(self, feed: store.FeedRow, items: Sequence[ScoredItem]) -> dict[str, ItemPlacement]:
        """Each item's thread and whether staff wrote it, decided before the write transaction."""
        if not items:
            return {}
        from listener.pipeline.conversations import StoredThreads
        from listener.triage import is_staff

        comment_thread = None
        if feed.kind == "comments" and feed.thread_id:
            comment_thread = ThreadRef(feed.thread_id, feed.thread_id, False)
        refs = assign_threads([s.item for s in items], scope=f"feed{feed.id}",
                              comment_thread=comment_thread, index=StoredThreads(self.db, feed.id))
        placements = {}
        for scored in items:
            ref, item = refs[scored.item.key], scored.item
            placements[item.key] = ItemPlacement(
                ref.thread_id, ref.root, url=item.url if ref.is_root else None,
                title=item.title if ref.is_root else None, is_staff=is_staff(item.author, self.staff),
                root_cues=scored.root_cues if ref.is_root else None)  # read by the workers; None: when listed
        return placements

    # --- comment feeds ------------------------------------------------------------------------

    def comment_feeds_due(self, parents: Sequence[store.FeedRow], *, force: bool) -> list[store.FeedRow]:
        """The comment feeds worth fetching now (comments.due_comment_feeds); their posts' counts
        are written once each one's fetch is stored."""
        feeds, counts = due_comment_feeds(self.db, self.config, parents, force=force)
        self.comment_counts.update(counts)
        return feeds


def poll(config: Config, *, names: Sequence[str] = (), force: bool = False,
         on_outcome: Callable[[FeedOutcome], None] | None = None, on_plan: Callable[[int], None] | None = None,
         lock_wait: float = 0.0,
         pool: ParsePool | None = None) -> PollSummary:
    """One polling cycle (`listener poll`, and the daemon's poll job): the same code for both."""
    unknown = sorted(set(names) - {spec.name for spec in config.feeds})
    if unknown:
        raise UsageError(f"no feed named {unknown[0]!r} in {config.path}")
    started = time.monotonic()
    summary = PollSummary()
    with hold_lock(config.database, wait=lock_wait):
        db = store.open_db(config.database)
        try:
            store.sync_feeds(db, config.feeds)
            before = _feed_states(db, config)
            feeds = store.due_feed_rows(db, names=names, force=force, now=store.utcnow())
            owned_pool = pool is None
            pool = pool or ParsePool()
            try:
                with Fetcher(config.fetch) as fetcher:
                    cycle = PollCycle(config, db, fetcher, pool, on_outcome=on_outcome)
                    if on_plan:
                        on_plan(len(feeds))
                    summary.outcomes += cycle.run(feeds)
                    parents = [f for f in feeds if cycle.follows_comments(f)]
                    comment_feeds = cycle.comment_feeds_due(parents, force=force or bool(names))
                    if on_plan:
                        on_plan(len(comment_feeds))
                    summary.outcomes += cycle.run(comment_feeds)
            finally:
                if owned_pool:
                    pool.close()
            summary.alerts = _alerts_after(db, config, before)
        finally:
            db.close()
    summary.elapsed = time.monotonic() - started
    log.info("%s", summary.line())
    return summary




# Alerts load only when configured (listener.pipeline.alerts brings the triage queues with it).

def _feed_states(db: sqlite_utils.Database, config: Config) -> dict[str, tuple[str, str | None]]:
    if config.alerts is None:
        return {}
    from listener.pipeline.alerts import feed_states

    return feed_states(db)


def _alerts_after(db: sqlite_utils.Database, config: Config,
                  before: dict[str, tuple[str, str | None]]) -> AlertRunSummary | None:
    if config.alerts is None:
        return None
    from listener.pipeline.alerts import alert_after_cycle

    return alert_after_cycle(db, config, before, now=store.utcnow())
