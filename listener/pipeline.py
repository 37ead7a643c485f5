"""The only module that wires the stages: one poll cycle, from due feeds to stored, scored, threaded items.

Fetches run on a thread pool (I/O), parsing and scoring run on a process pool (CPU, both cores),
and the main thread is the single writer that commits one transaction per feed as results come in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from listener import lifeline, mail, mood, report, store
from listener.errors import FetchError, ListenerError, LockedError, MailError, ParseError, UsageError
from listener.fetch import Fetcher, FetchJob
from listener.lock import hold_lock
from listener.match import Watchlist, compile_watchlist, match_text
from listener.models import Config, FetchResult, Item, ParsedFeed, ScoredItem
from listener.netpolicy import LinkPolicy, local_path
from listener.parse import PARSE_BUDGET, parse_feed
from listener.schedule import (
    FAILING_AFTER_ERRORS,
    hinted_interval,
    human_duration,
    next_poll_after_failure,
    next_poll_after_success,
)
from listener.sentiment import is_boilerplate_title, score, scoring_text
from listener.times import local_day, parse_iso, stored_moment
from listener.threads import (
    Ack,
    ThreadIndex,
    ThreadItem,
    ThreadRef,
    ThreadSummary,
    assign_threads,
    canonical_url,
    conversation,
    is_reply,
    is_staff,
    rank,
    reply_subject,
    staff_set,
    subject_key,
    summarize_thread,
)

log = logging.getLogger(__name__)

WORKERS_FROM_FEEDS = 8  # a cycle with fewer feeds parses in-process
INLINE_BYTES = 256 * 1024  # ...unless a body is at least this large


class _FaultHook:
    """Crash tests: LISTENER_FAULT=kill_after_items:N SIGKILLs this process inside the Nth item's transaction."""

    def __init__(self) -> None:
        spec = os.environ.get("LISTENER_FAULT", "")
        self.kill_after = int(spec.split(":", 1)[1]) if spec.startswith("kill_after_items:") else None
        self.items = 0

    def item_written(self) -> None:
        if self.kill_after is not None:
            self.items += 1
            if self.items >= self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)


# --- the CPU-bound part: runs in a worker process ---------------------------------------------


def content_hash(item: Item) -> str:
    """Changes whenever anything we store about the item changes."""
    parts = (item.title, item.content, item.url or "", item.author or "", item.published_raw or "",
             item.comments_url or "", str(item.comment_count), item.in_reply_to or "")
    return hashlib.sha1("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ProcessedFeed:
    parsed: ParsedFeed
    items: list[ScoredItem]  # only the new and changed ones


def process_body(body: bytes, *, url: str, headers: dict[str, str], known: dict[str, str],
                 watchlist: Watchlist, match_all: bool, score_all: bool,
                 parse_budget: float | None = PARSE_BUDGET) -> ProcessedFeed:
    """Parse, match and score one feed body. Items whose stored copy is identical are skipped unscored."""
    parsed = parse_feed(body, url=url, headers=headers, budget=parse_budget)
    changed = []
    for item in parsed.items:
        digest = content_hash(item)
        if known.get(item.key) == digest:
            continue
        text = scoring_text(item.title, item.content)  # "By: Name" and "Re: …" titles are not the author's words
        match = match_text(watchlist, text, match_all=match_all)
        # A comment can make a thread about us need a reply without naming us: score it too.
        conversational = score_all or is_reply(item)
        sentiment = score(text) if match.hit or conversational else None
        changed.append(ScoredItem(item, digest, match, sentiment))
    return ProcessedFeed(parsed, changed)


def _warm_up() -> None:
    score("warm up")


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
                context.set_forkserver_preload(["listener.pipeline"])
                self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_worker_init,
                                                 initargs=(os.getpid(),))
                for _ in range(self.workers):
                    self._pool.submit(_warm_up)

    def submit(self, body: bytes, *, inline: bool, **kwargs) -> Future:
        if inline or self._pool is None:
            future: Future = Future()
            try:
                future.set_result(process_body(body, **kwargs))
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
                inner = executor.submit(process_body, body, **kwargs)
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
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- one poll cycle ---------------------------------------------------------------------------


@dataclass
class FeedOutcome:
    """What happened to one feed in a cycle, for the progress bar and the summary."""

    name: str
    kind: str
    status: str  # ok, not_modified, degraded, error, gone
    new: int = 0
    updated: int = 0
    new_hits: int = 0
    error: str | None = None
    error_kind: str | None = None


@dataclass
class PollSummary:
    outcomes: list[FeedOutcome] = field(default_factory=list)
    elapsed: float = 0.0

    def count(self, *statuses: str, kind: str | None = None) -> int:
        return sum(1 for o in self.outcomes if o.status in statuses and (kind is None or o.kind == kind))

    @property
    def new_items(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def new_hits(self) -> int:
        return sum(o.new_hits for o in self.outcomes)

    @property
    def failed(self) -> list[FeedOutcome]:
        return [o for o in self.outcomes if o.status in ("error", "gone")]

    @property
    def not_stored(self) -> list[FeedOutcome]:
        """Feeds whose items could not be written: our problem (a full disk), not the feed's."""
        return [o for o in self.failed if o.error_kind == "store"]

    def line(self) -> str:
        feeds = sum(1 for o in self.outcomes if o.kind == "feed")
        comments = len(self.outcomes) - feeds
        return (f"polled {feeds} feeds and {comments} comment feeds in {self.elapsed:.1f}s: "
                f"{self.new_items} new items, {self.new_hits} new mentions, "
                f"{self.count('not_modified')} not modified, {len(self.failed)} failed")


class PollCycle:
    """One cycle over the due feeds; holds the open database, fetcher and worker pool while it runs."""

    def __init__(self, config: Config, db: sqlite_utils.Database, fetcher: Fetcher, pool: ParsePool,
                 *, on_outcome: Callable[[FeedOutcome], None] | None = None) -> None:
        self.config = config
        self.db = db
        self.fetcher = fetcher
        self.pool = pool
        self.watchlist = compile_watchlist(config.watch)
        self.staff = staff_set(config.staff_authors)
        self.intervals = {spec.name: spec.every or config.poll_every for spec in config.feeds}
        self.comment_feeds_of = {spec.name for spec in config.feeds if spec.comments}
        self.verify_tls = {spec.name: spec.verify_tls for spec in config.feeds}
        self.comment_counts: dict[int, int | None] = {}  # comment feed id -> its post's count, until stored
        self.on_outcome = on_outcome or (lambda outcome: None)
        self.fault = _FaultHook()
        self.many_feeds = False

    def run(self, feeds: Sequence[store.FeedRow]) -> list[FeedOutcome]:
        """Fetch, process and store `feeds`; one feed's failure never stops the others."""
        by_id = {feed.id: feed for feed in feeds}
        jobs = [FetchJob(feed.id, feed.url, feed.etag, feed.last_modified, self._verify_tls(feed),
                         self._link_policy(feed)) for feed in feeds]
        pending: list[tuple[store.FeedRow, FetchResult, Future]] = []
        outcomes = []
        self.many_feeds = len(feeds) >= WORKERS_FROM_FEEDS
        for job, result in self.fetcher.fetch_many(jobs):
            feed = by_id[job.key]
            if isinstance(result, FetchError):
                outcomes.append(self._failed(feed, result.kind, str(result), result.status, result.retry_after,
                                             gone=result.kind == "gone"))
            elif result.not_modified:
                outcomes.append(self._store(feed, result, None))
            else:
                pending.append((feed, result, self._submit(feed, result)))
            # Commit whatever the workers have finished while fetches continue.
            pending = self._drain(pending, outcomes, block=False)
        self._drain(pending, outcomes, block=True)
        return outcomes

    def _submit(self, feed: store.FeedRow, result: FetchResult) -> Future:
        body = result.body or b""
        if self.many_feeds or len(body) >= INLINE_BYTES:
            self.pool.start()  # at the first body to parse: a cycle of 304s never pays for workers
        return self.pool.submit(
            body, inline=False, url=result.url, headers=result.headers,
            known=store.known_hashes(self.db, feed.id), watchlist=self.watchlist,
            match_all=feed.match_all, score_all=feed.kind == "comments" or self._follows_comments(feed),
            parse_budget=self.config.fetch.parse_timeout)

    def _drain(self, pending, outcomes, *, block: bool):
        still = []
        for feed, result, future in pending:
            if not block and not future.done():
                still.append((feed, result, future))
                continue
            try:
                processed = future.result()
            except ParseError as exc:
                outcomes.append(self._failed(feed, exc.kind, str(exc), result.status, None))
            except Exception as exc:  # noqa: BLE001 - RELIABILITY F7: one feed's bug stays with that feed
                log.debug("processing %s failed", feed.name, exc_info=True)  # _failed logs the one line
                outcomes.append(self._failed(feed, "error", f"{type(exc).__name__}: {exc}", result.status, None))
            else:
                outcomes.append(self._store(feed, result, processed))
        return still

    def _verify_tls(self, feed: store.FeedRow) -> bool:
        """A comment feed lives on its blog's server, so it inherits the blog's TLS setting."""
        name = feed.name if feed.kind == "feed" else self._parent_name(feed)
        return self.verify_tls.get(name, True)

    def _link_policy(self, feed: store.FeedRow) -> LinkPolicy | None:
        """A comment feed's URL came from feed content: the fetcher checks every hop (RELIABILITY A14)."""
        if feed.kind != "comments":
            return None
        row = self.db.execute("SELECT parent.url, comments.thread_url FROM feeds AS comments"
                              " LEFT JOIN feeds AS parent ON parent.id = comments.parent_id"
                              " WHERE comments.id = ?", [feed.id]).fetchone()
        parent_url, post_url = row if row else ("", None)
        return LinkPolicy.for_feed(parent_url or "", post_urls=[post_url],
                                   allow_hosts=self.config.comments.allow_hosts)

    def _parent_name(self, feed: store.FeedRow) -> str:
        row = self.db.execute("SELECT name FROM feeds WHERE id = ?", [feed.parent_id]).fetchone()
        return row[0] if row else ""

    def _follows_comments(self, feed: store.FeedRow) -> bool:
        return feed.kind == "feed" and feed.name in self.comment_feeds_of

    def _interval(self, feed: store.FeedRow) -> int:
        name = self._parent_name(feed) if feed.kind == "comments" else feed.name
        return self.intervals.get(name, self.config.poll_every)

    def _failed(self, feed: store.FeedRow, kind: str, message: str, http_status: int | None,
                retry_after: float | None, *, gone: bool = False) -> FeedOutcome:
        now = store.utcnow()
        errors = feed.consecutive_errors + 1
        next_poll = next_poll_after_failure(now, self._interval(feed), consecutive_errors=errors,
                                            floor=self.config.min_interval, retry_after=retry_after)
        disabled = False
        try:
            store.record_error(self.db, feed.id, kind=kind, message=message, http_status=http_status,
                               next_poll_at=next_poll, now=now, gone=gone)
            # RELIABILITY A4: a configured feed failing every poll for 7 days stops being polled.
            disabled = not gone and feed.kind == "feed" and store.disable_failing_feed(self.db, feed.id, now=now)
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
        outcome = FeedOutcome(feed.name, feed.kind, "gone" if gone else "error", error=f"{kind}: {message}",
                              error_kind=kind)
        self.on_outcome(outcome)
        return outcome

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
            refs = self._threads(feed, items)
            counts = store.save_poll(self.db, feed.id, update, items, now=now,
                                     extras=lambda s: self._extras(feed, s, refs),
                                     seen=len(parsed.items) if parsed else 0)
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
        outcome = FeedOutcome(feed.name, feed.kind, status, counts.new, counts.updated, counts.new_hits)
        self.on_outcome(outcome)
        return outcome

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
            with store.write(self.db):
                self.db.execute("UPDATE feeds SET comment_count = ? WHERE id = ?", [count, feed.id])
        except Exception:  # noqa: BLE001 - without it the next cycle only fetches once more, conditionally
            log.exception("could not record the comment count of %s", feed.name)

    def _threads(self, feed: store.FeedRow, items: Sequence[ScoredItem]) -> dict[str, ThreadRef]:
        comment_thread = None
        if feed.kind == "comments" and feed.thread_id:
            comment_thread = ThreadRef(feed.thread_id, feed.thread_id, False)
        return assign_threads([s.item for s in items], scope=f"feed{feed.id}",
                              comment_thread=comment_thread, index=StoredThreads(self.db, feed.id))

    def _extras(self, feed: store.FeedRow, scored: ScoredItem, refs: dict[str, ThreadRef]) -> tuple[str, bool]:
        ref = refs[scored.item.key]
        item = scored.item
        store.ensure_thread(self.db, ref.thread_id, root=ref.root, url=item.url if ref.is_root else None,
                            title=item.title if ref.is_root else None, feed_id=feed.id)
        self.fault.item_written()
        return ref.thread_id, is_staff(item.author, self.staff)

    # --- comment feeds ------------------------------------------------------------------------

    def _may_follow(self, parent: store.FeedRow, url: str, post_url: str | None) -> bool:
        """A post's comment feed, unless it is the feed itself (its posts would be stored twice)
        or the link policy refuses it (RELIABILITY A14: the URL came from the feed's content)."""
        own = local_path(parent.url)
        if (own is not None and local_path(url) == own) or canonical_url(url) == canonical_url(parent.url):
            log.debug("%s: a post names the feed itself as its comment feed: not followed", parent.name)
            return False
        policy = LinkPolicy.for_feed(parent.url, post_urls=[post_url],
                                     allow_hosts=self.config.comments.allow_hosts)
        if (reason := policy.refusal(url)) is not None:
            log.warning("%s: not following the comment feed %s: %s", parent.name, url[:200], reason)
            return False
        return True

    def comment_feeds_due(self, parents: Sequence[store.FeedRow], *, force: bool) -> list[store.FeedRow]:
        """The comment feeds worth fetching now: recent posts whose comment count moved, or that are due.

        A post's comment feed is skipped while its slash:comments / thr:total count is unchanged since
        the last fetch that was stored (and not followed at all while that count is 0); a post
        without a count is fetched on its schedule. Fetches are conditional (the comment feed's own
        ETag / Last-Modified), newest posts first, at most `comments.max_feeds_per_cycle`.
        """
        limits = self.config.comments
        if not parents or limits.max_feeds_per_cycle == 0:
            return []
        now = store.utcnow()
        # Age counts back from the feed's newest post, not from today: a quiet blog's latest posts
        # are where late comments land, and the shipped sample keeps working as the calendar moves.
        age = f"-{limits.max_post_age_days} days"
        marks = ",".join("?" * len(parents))
        posts = self.db.execute(
            "SELECT items.feed_id, items.comments_url, items.comment_count, items.title, items.url,"
            " items.thread_id, cf.id, cf.comment_count, cf.next_poll_at, cf.status"
            " FROM items LEFT JOIN feeds AS cf ON cf.ident = 'comments:' || items.comments_url"
            f" WHERE items.feed_id IN ({marks}) AND items.comments_url IS NOT NULL"
            " AND items.published >= strftime('%Y-%m-%dT%H:%M:%SZ',"
            "     (SELECT max(newest.published) FROM items AS newest WHERE newest.feed_id = items.feed_id), ?)"
            " ORDER BY items.published DESC",
            [*(p.id for p in parents), age]).fetchall()
        by_parent = {p.id: p for p in parents}
        chosen: list[int] = []
        with store.write(self.db):
            for (parent_id, url, count, title, post_url, thread_id,
                 feed_id, fetched_count, next_poll_at, status) in posts:
                if len(chosen) >= limits.max_feeds_per_cycle:
                    break
                if status == "gone" or feed_id in chosen:  # one post in two feeds: fetch its comments once
                    continue
                if not self._may_follow(by_parent[parent_id], url, post_url):
                    continue
                if feed_id is not None:
                    due = force or next_poll_at is None or next_poll_at <= store.iso(now)
                    moved = count is None or fetched_count != count
                    if not due and (status == "error" or count is None):
                        continue  # backing off, or no count to tell us: wait for its schedule
                    if not moved and status in ("ok", "not_modified", "degraded"):
                        continue
                elif count == 0:
                    continue  # the post says it has no comments: nothing to fetch until that changes
                else:
                    feed_id = store.ensure_comment_feed(
                        self.db, by_parent[parent_id], url, name=f"{by_parent[parent_id].name}: {title}"[:200],
                        thread_id=thread_id, thread_url=canonical_url(post_url) if post_url else None)
                if feed_id in chosen:
                    continue
                self.comment_counts[feed_id] = count
                chosen.append(feed_id)
        if not chosen:
            return []
        return store.feed_rows(self.db, f"id IN ({','.join('?' * len(chosen))})", chosen)


def due_feeds(db: sqlite_utils.Database, *, names: Sequence[str] = (), force: bool = False) -> list[store.FeedRow]:
    """Configured feeds to poll: the named ones, all of them (`force`), or those whose time has come."""
    if names:
        marks = ",".join("?" * len(names))
        return store.feed_rows(db, f"kind = 'feed' AND active = 1 AND name IN ({marks})", list(names))
    if force:
        return store.feed_rows(db, "kind = 'feed' AND active = 1 AND COALESCE(status, '') != 'gone'")
    return store.feed_rows(
        db, "kind = 'feed' AND active = 1 AND COALESCE(status, '') NOT IN ('gone', 'disabled')"
            " AND (next_poll_at IS NULL OR next_poll_at <= ?)", [store.iso(store.utcnow())])


def poll(config: Config, *, names: Sequence[str] = (), force: bool = False,
         on_outcome: Callable[[FeedOutcome], None] | None = None, lock_wait: float = 0.0,
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
            feeds = due_feeds(db, names=names, force=force)
            owned_pool = pool is None
            pool = pool or ParsePool()
            try:
                with Fetcher(config.fetch) as fetcher:
                    cycle = PollCycle(config, db, fetcher, pool, on_outcome=on_outcome)
                    summary.outcomes += cycle.run(feeds)
                    parents = [f for f in feeds if cycle._follows_comments(f)]
                    summary.outcomes += cycle.run(cycle.comment_feeds_due(parents, force=force or bool(names)))
            finally:
                if owned_pool:
                    pool.close()
        finally:
            db.close()
    summary.elapsed = time.monotonic() - started
    log.info("%s", summary.line())
    return summary


# --- threads: what the stored items say, for the CLI and the report ---------------------------


class StoredThreads(ThreadIndex):
    """The database side of grouping for one feed's batch (see `assign_threads`)."""

    def __init__(self, db: sqlite_utils.Database, feed_id: int) -> None:
        self.db = db
        self.feed_id = feed_id
        self._subjects: dict[str, str] | None = None

    def by_key(self, key: str) -> str | None:
        return store.thread_of_key(self.db, key, feed_id=self.feed_id)

    def by_url(self, url: str) -> str | None:
        return store.thread_of_url(self.db, url)

    def by_subject(self, subject: str) -> str | None:
        if self._subjects is None:  # read once per batch, and only for a feed that has "Re:" items
            originals: dict[str, str] = {}
            replies: dict[str, str] = {}
            for title, thread_id in store.feed_titles(self.db, self.feed_id):
                target = replies if reply_subject(title) else originals
                target.setdefault(subject_key(title), thread_id)
            self._subjects = {**replies, **originals}
        return self._subjects.get(subject)

    def exists(self, thread_id: str) -> bool:
        return store.thread_exists(self.db, thread_id)


def _thread_item(row: dict, staff: frozenset[str], root_row: dict | None) -> ThreadItem:
    return ThreadItem(
        id=row["id"], published=stored_moment(row["published"] or row["first_seen"]), author=row["author"], staff=is_staff(row["author"], staff),
        compound=row["compound"], title=row["title"] or "", text=row["content"] or "", url=row["url"],
        arrived=parse_iso(row["first_seen"]), thread_id=row["thread_id"], feed=row["feed"],
        root=row is root_row,
    )


def _ack(row: dict) -> Ack:
    covers = row.get("last_item_id")
    return Ack(stored_moment(row["acked_at"]), row["by"], row["note"], math.inf if covers is None else covers)


def _summarize(config: Config, thread_id: str, rows: list[dict], info: dict | None, acks: list[dict],
               now: dt.datetime) -> tuple[ThreadSummary, list[ThreadItem]]:
    staff = staff_set(config.staff_authors)
    info = info or {}
    root = info.get("root") or ""
    root_row = next((row for row in rows if row["url"] and "#" not in row["url"] and root.startswith("http")
                     and canonical_url(row["url"]) == canonical_url(root)), None)
    items = [_thread_item(row, staff, root_row) for row in rows]
    terms = sorted({term for row in rows if row["is_hit"] for term in row["terms"]})
    summary = summarize_thread(
        items, [_ack(a).mark for a in acks], negative=config.negative,
        positive=config.positive, now=now, thread_id=thread_id,
        title=info.get("title") or (root_row["title"] if root_row else None),
        url=info.get("url") or (root if root.startswith("http") else None),
        feed=root_row["feed"] if root_row else info.get("feed"), terms=terms)
    return summary, items


def thread_summaries(db: sqlite_utils.Database, config: Config, *, since: dt.datetime | None = None,
                     needs_reply: bool = False, feed: str | None = None, term: str | None = None,
                     now: dt.datetime | None = None) -> list[ThreadSummary]:
    """The threads that contain a mention, highest reply priority first (`listener threads`, the report).

    `since`: last activity at or after it; `feed`: a feed's name (its comment feeds included);
    `term`: a watch entry's name; `needs_reply`: only the threads that need a reply. Staff are
    today's `staff.authors`, so a name added later counts for old replies too.
    """
    now = now or store.utcnow()
    ids = store.thread_ids(db, since=since, feed=feed, term=term,
                           negative_at_most=config.negative if needs_reply else None)
    if not ids:
        return []
    items = store.thread_items(db, ids)
    infos = store.thread_info(db, ids)
    acks = store.thread_acks(db, ids)
    summaries = [_summarize(config, tid, items[tid], infos.get(tid), acks.get(tid, []), now)[0]
                 for tid in ids if tid in items]
    if needs_reply:
        summaries = [s for s in summaries if s.needs_reply]
    return rank(summaries)


@dataclass(frozen=True)
class ThreadDetail:
    summary: ThreadSummary
    conversation: list[dict]
    acks: list[dict]


def thread_detail(db: sqlite_utils.Database, config: Config, thread_id: str, *,
                  now: dt.datetime | None = None) -> ThreadDetail:
    """One thread in full (`listener thread`): its summary and the conversation in time order.

    `thread_id` may be a unique prefix of at least 4 characters; unknown -> NotFoundError.
    """
    now = now or store.utcnow()
    thread_id = store.resolve_thread(db, thread_id)
    rows = store.thread_items(db, [thread_id], text_chars=None).get(thread_id, [])
    acks = store.thread_acks(db, [thread_id]).get(thread_id, [])
    summary, items = _summarize(config, thread_id, rows, store.thread_info(db, [thread_id]).get(thread_id),
                                acks, now)
    records = [_ack(a) for a in acks]
    talk = conversation(items, records, summary, negative=config.negative, positive=config.positive)
    return ThreadDetail(summary, talk, acks)


def ack_thread(db: sqlite_utils.Database, thread_id: str, *, by: str | None, note: str | None = None,
               now: dt.datetime | None = None) -> dict:
    """Mark a thread handled (`listener ack`); a negative item that arrives later reopens it."""
    return store.add_ack(db, thread_id, by=by, note=note, now=now)


# --- retention --------------------------------------------------------------------------------


def prune(config: Config, *, older_than: dt.timedelta | None = None, now: dt.datetime | None = None) -> int:
    """Drop the text of items untouched for `retention_days` (or `older_than`); keep their identities.

    Batches of at most 10,000 rows per transaction, so polls keep running in between; a WAL
    checkpoint (TRUNCATE) afterwards gives the space back to the file system. Needs no run lock.
    Returns how many items were pruned.
    """
    cutoff = (now or store.utcnow()) - (older_than or dt.timedelta(days=config.retention_days))
    started = time.monotonic()
    db = store.open_db(config.database)
    try:
        pruned = store.prune_items(db, before=cutoff,
                                   on_batch=lambda count: log.debug("pruned a batch of %d items", count))
        if pruned:
            store.checkpoint(db)
    finally:
        db.close()
    log.info("retention: pruned the text of %d items not updated since %s in %.1fs",
             pruned, store.iso(cutoff), time.monotonic() - started)
    return pruned


# --- the daily report and the digest (issue 4) ----------------------------------------------------


def _mood_mentions(rows: Sequence[dict]) -> list[mood.Mention]:
    """Rows -> mood.Mention; a row that cannot be read is logged and left out, never fatal."""
    mentions = []
    for row in rows:
        try:
            terms = json.loads(row["terms"] or "[]")
            first_seen = parse_iso(row["first_seen"])
            if first_seen is None:  # cannot be: the query reads a range of first_seen
                raise ValueError("no first_seen")
            mentions.append(mood.Mention(first_seen, row["compound"], tuple(t for t in terms if isinstance(t, str))))
        except (TypeError, ValueError, AttributeError):
            log.warning("a mention with unreadable data (first_seen %r) is left out of the mood", row.get("first_seen"))
    return mentions


def _titled(rows: list[dict]) -> list[dict]:
    """A comment's own title is "By: Name"; a reader needs to know which conversation it is in."""
    for row in rows:
        if row.get("thread_title") and is_boilerplate_title(row.get("title") or ""):
            row["title"] = f"Comment on {row['thread_title']}"
    return rows


def day_report(db: sqlite_utils.Database, config: Config, day: dt.date, *,
               now: dt.datetime | None = None) -> report.DayReport:
    """What the report and the digest show for `day` (a local day in config.timezone).

    The mood counts the mentions first seen that day; the threads that need a reply and the feed
    health are as of `now`.
    """
    now = now or store.utcnow()
    tz = config.timezone
    history, _ = mood.day_bounds(mood.history_start(day, chart_days=report.CHART_DAYS), tz)
    start, end = mood.day_bounds(day, tz)
    tallies = mood.tally(_mood_mentions(store.mood_mentions(db, history, end)), timezone=tz,
                         negative=config.negative, positive=config.positive, terms=[w.name for w in config.watch])
    top = report.TOP_MENTIONS
    problems = []
    try:
        threads = thread_summaries(db, config, needs_reply=True, now=now)
    except Exception as exc:  # noqa: BLE001 - RELIABILITY D6: the rest of the report still goes out
        log.exception("could not list the threads that need a reply")
        threads, problems = [], [f"The threads that need a reply could not be listed ({type(exc).__name__}: {exc})."]
    return report.build_report(
        day=day, timezone=tz, generated_at=now,
        overall=mood.scope_mood(tallies, mood.OVERALL, day, chart_days=report.CHART_DAYS),
        terms=[mood.scope_mood(tallies, w.name, day, chart_days=report.CHART_DAYS) for w in config.watch],
        threads=threads, problems=problems,
        negative_rows=_titled(store.day_mentions(db, start, end, most="negative", threshold=config.negative, limit=top)),
        positive_rows=_titled(store.day_mentions(db, start, end, most="positive", threshold=config.positive, limit=top)),
        feed_rows=store.feed_health(db, include_comment_feeds=True),
        negative=config.negative, positive=config.positive,
    )


def _write_report(config: Config, data: report.DayReport, out_dir: Path, now: dt.datetime) -> Path:
    """Write the day's page, then the index; a full disk or a bad directory is one clear error."""
    path = out_dir / f"{data.day.isoformat()}.html"
    try:
        report.write_page(path, report.render_report(data))
        index = report.render_index(report.index_entries(out_dir), generated_at=now, timezone=config.timezone)
        report.write_page(out_dir / "index.html", index)
    except OSError as exc:
        raise ListenerError(f"cannot write the report {path}: {exc.strerror or exc}") from exc
    return path


def render_report(config: Config, day: dt.date | None = None, out_dir: str | os.PathLike | None = None, *,
                  now: dt.datetime | None = None) -> Path:
    """`listener report`: write reports/YYYY-MM-DD.html and refresh reports/index.html; return the page's path.

    Both files are written to a temp file and renamed, so a reader never sees half a page.
    """
    now = now or store.utcnow()
    day = day or local_day(now, config.timezone)
    db = store.open_db(config.database)
    try:
        data = day_report(db, config, day, now=now)
    finally:
        db.close()
    return _write_report(config, data, Path(out_dir) if out_dir else config.reports_dir, now)


def run_digest(config: Config, day: dt.date | None = None, *, send: bool = False,
               to: Sequence[str] | None = None, force: bool = False,
               now: dt.datetime | None = None) -> mail.DigestOutcome:
    """`listener digest` and the daemon's digest job: build the day's digest; with `send`, deliver it.

    At most once per day and recipient (the `digests` ledger) unless `force`; "sent" is recorded
    only after the server accepted the message. A failure raises MailError after the ledger is
    updated, so the next run retries exactly the recipients that did not get it (never those
    refused for good, unless `force`). Another run sending right now -> LockedError (exit 75).
    """
    now = now or store.utcnow()
    day = day or local_day(now, config.timezone)
    recipients = tuple(dict.fromkeys(mail.check_address(a) for a in (to or config.digest.to)))
    if send and not recipients:
        raise UsageError(f"no one to send the digest to: set digest.to in {config.path} or pass --to")
    db = store.open_db(config.database)
    try:
        data = day_report(db, config, day, now=now)
        parts = report.render_digest(data, max_items=config.digest.max_items,
                                     report_hint=f" (listener report --date {day.isoformat()})")
        message = mail.build_message(subject=parts.subject, from_addr=config.digest.from_addr, to=recipients,
                                     text=parts.text, html=parts.html, date=now,
                                     message_id=mail.message_id(day, recipients))
        outcome = mail.DigestOutcome(day, message, recipients)
        if send:
            try:
                outcome.report_path = str(_write_report(config, data, config.reports_dir, now))
            except ListenerError as exc:  # the email still goes out; its "more in the report" hint says how to make it
                log.warning("could not write the report for %s: %s", day, exc)
            _deliver(db, config, outcome, force=force, now=now)
    finally:
        db.close()
    return outcome


def _deliver(db: sqlite_utils.Database, config: Config, outcome: mail.DigestOutcome, *, force: bool,
             now: dt.datetime) -> None:
    spec = config.digest.smtp
    claim = store.claim_digest(
        db, outcome.day, outcome.recipients, force=force, now=now,
        message_id=lambda resend: mail.message_id(outcome.day, outcome.recipients, resend=resend),
        in_flight_for=dt.timedelta(seconds=max(300.0, 10 * spec.timeout)))
    outcome.already_sent, outcome.permanent, outcome.in_flight = claim.already_sent, claim.permanent, claim.in_flight
    groups: dict[str, list[str]] = {}
    for recipient, message_id in claim.due.items():
        groups.setdefault(message_id, []).append(recipient)
    password = os.environ.get(spec.password_env) if spec.password_env else None
    errors: list[MailError] = []
    for message_id, group in groups.items():
        outcome.message.replace_header("Message-ID", message_id)
        results: dict[str, tuple[str, str | None]] = {}
        try:
            delivery = mail.send(outcome.message, group, spec, from_addr=config.digest.from_addr, password=password)
        except MailError as exc:
            errors.append(exc)
            status = "failed_permanent" if exc.permanent else "pending"
            results = {recipient: (status, str(exc)) for recipient in group}
        else:
            results = {recipient: ("sent", None) for recipient in delivery.accepted}
            for recipient, (code, text) in delivery.refused.items():
                permanent = 500 <= code < 600
                errors.append(MailError("refused", f"{recipient}: {code} {text}", permanent=permanent))
                results[recipient] = ("failed_permanent" if permanent else "pending", f"{code} {text}")
        store.finish_digest(db, outcome.day, results, now=store.utcnow())
        for recipient, (status, error) in results.items():
            if status == "sent":
                outcome.sent.append(recipient)
            else:
                outcome.failed[recipient] = f"{error}" + (" (permanent: not retried)" if status == "failed_permanent"
                                                         else " (will retry)")
        log.info("digest %s, %s: %s", outcome.day, message_id, results)
    if errors:
        kinds = {exc.kind for exc in errors}
        raise MailError(kinds.pop() if len(kinds) == 1 else "partial", outcome.line(),
                        permanent=all(exc.permanent for exc in errors))
    if outcome.in_flight and not outcome.sent:
        raise LockedError(outcome.line())
