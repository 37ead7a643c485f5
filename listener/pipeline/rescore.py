"""Judging stored items again (`listener rescore`) and saying why a verdict is what it is (`explain`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from listener import store
from listener.errors import NotFoundError
from listener.models import Config
from listener.pipeline.workers import judge_texts, judging_for
from listener.sentiment import scoring_text

log = logging.getLogger(__name__)

RESCORE_BATCH = 500


@dataclass
class RescoreProgress:
    done: int = 0
    total: int = 0


def rescore(db: sqlite_utils.Database, config: Config, *, batch: int = RESCORE_BATCH,
            on_batch: Callable[[RescoreProgress], None] | None = None) -> RescoreProgress:
    """Score and judge again every stored item the current scorer did not judge, a batch per transaction.

    Resumable: each item records which scorer and model judged it, so a run that was stopped goes
    on where it stopped, and a second run finds nothing to do. Pruned items (no text) keep their
    verdict; a person's marks are kept apart and still win.
    """
    judging = judging_for(config)
    progress = RescoreProgress(total=store.count_to_rescore(db, version=judging.version))
    after = 0
    while rows := store.items_to_rescore(db, version=judging.version, after_id=after, limit=batch):
        judged = judge_texts([scoring_text(row["title"] or "", row["content"] or "") for row in rows], judging)
        store.save_rescored(db, [(row["id"], sentiment, verdict, judging.version)
                                 for row, (sentiment, verdict) in zip(rows, judged)])
        after = rows[-1]["id"]
        progress.done += len(rows)
        if on_batch:
            on_batch(progress)
    log.info("rescore: %d items judged with %s", progress.done, judging.version)
    return progress


def explain(db: sqlite_utils.Database, item_id: int) -> dict[str, Any]:
    """One item's verdict and the cues that decided it, beside VADER's numbers (`listener explain`)."""
    row = store.item_verdict(db, item_id)
    if row is None:
        raise NotFoundError(f"no item {item_id} (item ids are in `listener mentions --format json`)")
    return row
