"""What `listener prune` is about to do, counted before it does it (`--dry-run` and the confirmation).

Pruning cannot be undone, so a person sees how many items lose their text, and since when,
before anything changes. The count reads the same rows `store.prune_items` would change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlite_utils

from listener.times import iso

# The rows store.prune_items() changes: not yet pruned, or given text again since.
_PRUNABLE = "(pruned = 0 OR COALESCE(content, '') != '' OR COALESCE(snippet, '') != '')"


@dataclass(frozen=True)
class PrunePlan:
    """Items not updated for `days` days (before `cutoff`, as of `now`) that would lose their text."""

    days: int
    now: dt.datetime
    cutoff: dt.datetime
    items: int

    def line(self) -> str:
        noun = "item" if self.items == 1 else "items"
        return (f"{self.items} {noun} not updated for {self.days} days (since {self.cutoff:%Y-%m-%d %H:%M} UTC)"
                " would lose their text")


def plan(db: sqlite_utils.Database, *, days: int, now: dt.datetime) -> PrunePlan:
    """Count what a prune of items older than `days` would change; changes nothing."""
    cutoff = now - dt.timedelta(days=days)
    items = db.execute(f"SELECT count(*) FROM items WHERE updated_at < ? AND {_PRUNABLE}", [iso(cutoff)]).fetchone()[0]
    return PrunePlan(days=days, now=now, cutoff=cutoff, items=int(items))
