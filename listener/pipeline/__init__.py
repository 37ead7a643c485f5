"""The only package that wires stages together; the CLI and the daemon call what it exports.

    workers.py        parse, match and score one feed body, on a process pool (the CPU part)
    poll.py           one poll cycle: due feeds -> fetched -> processed -> stored, comment feeds
    conversations.py  stored items -> thread summaries, the conversation, acks
    day.py            the day's report and digest, rendered and delivered
    rescore.py        judging stored items again, and explaining a verdict
    upkeep.py         retention and the feed-health view
"""

from listener.pipeline.conversations import ThreadDetail, ack_thread, mark_item, set_team, thread_detail, thread_summaries
from listener.pipeline.day import day_report, render_report, run_digest
from listener.pipeline.poll import FeedOutcome, PollCycle, PollSummary, poll
from listener.pipeline.rescore import RescoreProgress, explain, rescore
from listener.pipeline.upkeep import PrunePlan, feed_health, feed_overview, import_opml, prune, prune_plan
from listener.pipeline.workers import ParsePool, ProcessedFeed, content_hash, process_body

__all__ = [
    "RescoreProgress", "explain", "rescore",
    "FeedOutcome", "ParsePool", "PollCycle", "PollSummary", "ProcessedFeed", "PrunePlan", "ThreadDetail",
    "ack_thread", "mark_item", "set_team", "content_hash", "day_report", "feed_health", "feed_overview", "import_opml", "poll",
    "process_body", "prune", "prune_plan", "render_report", "run_digest", "thread_detail", "thread_summaries",
]
