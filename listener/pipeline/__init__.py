"""The only package that wires stages together; the CLI and the daemon call what it exports.

    workers.py        parse, match and score one feed body (the CPU part)
    pool.py           the process pool that runs workers.py on every core, loading it only once needed
    poll.py           one poll cycle: due feeds -> fetched -> processed -> stored, comment feeds
    conversations.py  stored items -> thread summaries, the conversation, acks
    day.py            the day's report and digest, rendered and delivered
    rescore.py        judging stored items again, and explaining a verdict
    upkeep.py         retention, the feed-health view, OPML import
    alerts.py         what a cycle pushes, after it is stored

Each name is imported from its module on first use (PEP 562): a read command such as `listener
mentions` then never loads httpx, feedparser, VADER or Jinja, which cost more than its query.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from listener.pipeline.conversations import (
        ThreadDetail,
        ack_thread,
        mark_item,
        set_team,
        thread_detail,
        thread_summaries,
    )
    from listener.pipeline.day import day_report, render_report, run_digest
    from listener.pipeline.poll import FeedOutcome, PollCycle, PollSummary, poll
    from listener.pipeline.pool import ParsePool
    from listener.pipeline.rescore import RescoreProgress, explain, rescore
    from listener.pipeline.upkeep import PrunePlan, feed_health, feed_overview, import_opml, prune, prune_plan
    from listener.pipeline.workers import ProcessedFeed, content_hash, process_body

_HOME = {
    "conversations": ("ThreadDetail", "ack_thread", "mark_item", "set_team", "thread_detail", "thread_summaries"),
    "rescore": ("RescoreProgress", "explain", "rescore"),
    "day": ("day_report", "render_report", "run_digest"),
    "poll": ("FeedOutcome", "PollCycle", "PollSummary", "poll"),
    "upkeep": ("PrunePlan", "feed_health", "feed_overview", "import_opml", "prune", "prune_plan"),
    "pool": ("ParsePool",),
    "workers": ("ProcessedFeed", "content_hash", "process_body"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}

__all__ = [
    "FeedOutcome", "ParsePool", "PollCycle", "PollSummary", "ProcessedFeed", "PrunePlan", "RescoreProgress",
    "ThreadDetail", "ack_thread", "content_hash", "day_report", "explain", "feed_health", "feed_overview",
    "import_opml", "mark_item", "poll", "process_body", "prune", "prune_plan", "render_report", "rescore",
    "run_digest", "set_team", "thread_detail", "thread_summaries",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"listener.pipeline.{module}"), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Importing the submodule `poll` binds it as this package's attribute `poll`, which would hide
    the function `pipeline.poll` (the eager imports this replaces rebound it right after)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _MODULE_OF:
            return  # `listener.pipeline.poll` the module stays reachable through sys.modules
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
