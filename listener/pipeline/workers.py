"""The CPU-bound part of a poll: parse, match and score one feed body (run by pool.ParsePool on every core)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from listener.match import Watchlist, match_text
from listener.models import Config, Item, Judging, ParsedFeed, ScoredItem, Sentiment, Verdict
from listener.parse import PARSE_BUDGET, parse_feed
from listener.sentiment import score, scoring_text
from listener.threads import is_reply
from listener.triage.cues import read_cues
from listener.verdict import judge, score_items, verdict_version

log = logging.getLogger(__name__)


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
                 parse_budget: float | None = PARSE_BUDGET, judging: Judging = Judging()) -> ProcessedFeed:
    """Parse, match, score and judge one feed body. Items whose stored copy is identical are skipped.

    VADER's numbers are kept as they are; the verdict (listener's own judgement, with the watched
    terms masked as the target) is what decisions use.
    """
    parsed = parse_feed(body, url=url, headers=headers, budget=parse_budget)
    fresh = []
    for item in parsed.items:
        digest = content_hash(item)
        if known.get(item.key) == digest:
            continue
        text = scoring_text(item.title, item.content)  # "By: Name" and "Re: …" titles are not the author's words
        match = match_text(watchlist, text, match_all=match_all)
        # A comment can make a thread about us need a reply without naming us: score it too.
        fresh.append((item, digest, match, text, match.hit or score_all or is_reply(item)))
    judged = iter(judge_texts([text for *_, text, scored in fresh if scored], judging))
    changed = []
    for item, digest, match, _, scored in fresh:
        sentiment, verdict = next(judged) if scored else (None, None)
        # Triage reads the words of the items it judges (the others, if ever in a thread, when listed),
        # here in the workers: a post also as a thread's root reads, with its title.
        cues = read_cues(item.content or item.title) if sentiment is not None else None
        root_cues = read_cues(f"{item.title}. {item.content}") if cues is not None and not is_reply(item) else None
        changed.append(ScoredItem(item, digest, match, sentiment, verdict, judging.version if verdict else None,
                                  cues=cues, root_cues=root_cues))
    return ProcessedFeed(parsed, changed)


def judging_for(config: Config) -> Judging:
    """The verdict's view of the config: every watched term and handle is the target, never sentiment."""
    return Judging(targets=tuple(t for w in config.watch for t in w.terms), staff=tuple(config.staff_authors),
                   thresholds=(config.negative, config.positive), scorer=config.scorer,
                   version=verdict_version(config.scorer))


def judge_texts(texts: list[str], judging: Judging) -> list[tuple[Sentiment, Verdict]]:
    """VADER's numbers (kept as they are) and listener's verdict on each text, VADER run once, the
    texts judged together (`score_items`: a batch is faster than one by one)."""
    return score_items(texts, vader=score, targets=judging.targets, staff=judging.staff,
                       thresholds=judging.thresholds, scorer=judging.scorer)


def warm_up() -> None:
    """What a fresh worker runs first, so the first feed it gets does not pay for loading VADER and the model."""
    score("warm up")
    judge("warm up")
