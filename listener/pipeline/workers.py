"""The CPU-bound part of a poll: parse, match and score one feed body, on a pool over every core."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from listener.match import Watchlist, match_text
from listener.models import Item, ParsedFeed, ScoredItem
from listener.parse import parse_feed
from listener.sentiment import score, scoring_text
from listener.threads import is_reply


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
                 watchlist: Watchlist, match_all: bool, score_all: bool) -> ProcessedFeed:
    """Parse, match and score one feed body. Items whose stored copy is identical are skipped unscored."""
    parsed = parse_feed(body, url=url, headers=headers)
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


def _worker_init() -> None:
    """Defence in depth for hostile feeds that get past the parser's own checks (RELIABILITY B3)."""
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
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 2
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self._pool is None and self.workers > 1:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["listener.pipeline.workers"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_worker_init)
            for _ in range(self.workers):
                self._pool.submit(_warm_up)

    def submit(self, body: bytes, **kwargs) -> Future:
        if self._pool is None:
            future: Future = Future()
            try:
                future.set_result(process_body(body, **kwargs))
            except Exception as exc:  # noqa: BLE001 - delivered to the caller like a worker's error
                future.set_exception(exc)
            return future
        try:
            return self._pool.submit(process_body, body, **kwargs)
        except BrokenProcessPool:  # a worker died (RLIMIT_AS, OOM killer): start afresh
            self.close()
            self.start()
            return self.submit(body, **kwargs)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

