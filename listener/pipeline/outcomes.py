"""What a poll cycle reports: one outcome per feed, and the cycle's summary line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from listener.pipeline.alerts import AlertRunSummary


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
    alerts: AlertRunSummary | None = None  # None: no alerts configured

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
