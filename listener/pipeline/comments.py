"""Which comment feeds a poll cycle follows: recent posts whose comment count moved, within the link policy."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlite_utils

from listener import store
from listener.models import Config
from listener.netpolicy import LinkPolicy, local_path
from listener.text import canonical_url

log = logging.getLogger(__name__)


def _may_follow(config: Config, parent: store.FeedRow, url: str, post_url: str | None) -> bool:
    """A post's comment feed, unless it is the feed itself (its posts would be stored twice)
    or the link policy refuses it (RELIABILITY A14: the URL came from the feed's content)."""
    own = local_path(parent.url)
    if (own is not None and local_path(url) == own) or canonical_url(url) == canonical_url(parent.url):
        log.debug("%s: a post names the feed itself as its comment feed: not followed", parent.name)
        return False
    policy = LinkPolicy.for_feed(parent.url, post_urls=[post_url],
                                 allow_hosts=config.comments.allow_hosts)
    if (reason := policy.refusal(url)) is not None:
        log.warning("%s: not following the comment feed %s: %s", parent.name, url[:200], reason)
        return False
    return True


def due_comment_feeds(db: sqlite_utils.Database, config: Config, parents: Sequence[store.FeedRow], *,
                      force: bool) -> tuple[list[store.FeedRow], dict[int, int | None]]:
    """The comment feeds worth fetching now: recent posts whose comment count moved, or that are due.

    A post's comment feed is skipped while its slash:comments / thr:total count is unchanged since
    the last fetch that was stored (and not followed at all while that count is 0); a post
    without a count is fetched on its schedule. Fetches are conditional (the comment feed's own
    ETag / Last-Modified), newest posts first, at most `comments.max_feeds_per_cycle`. Returns the
    feeds and, by feed id, the comment count each post listed.
    """
    limits = config.comments
    if not parents or limits.max_feeds_per_cycle == 0:
        return [], {}
    now = store.utcnow()
    posts = store.recent_commented_posts(db, [p.id for p in parents],
                                         max_post_age_days=limits.max_post_age_days)
    by_parent = {p.id: p for p in parents}
    chosen: list[int] = []
    counts: dict[int, int | None] = {}
    with store.write(db):
        for post in posts:
            feed_id, count, status = post.feed_id, post.comment_count, post.status
            if len(chosen) >= limits.max_feeds_per_cycle:
                break
            if status == "gone" or feed_id in chosen:  # one post in two feeds: fetch its comments once
                continue
            if not _may_follow(config, by_parent[post.parent_id], post.comments_url, post.url):
                continue
            if feed_id is not None:
                due = force or post.next_poll_at is None or post.next_poll_at <= store.iso(now)
                moved = count is None or post.fetched_count != count
                if not due and (status == "error" or count is None):
                    continue  # backing off, or no count to tell us: wait for its schedule
                if not moved and status in ("ok", "not_modified", "degraded"):
                    continue
            elif count == 0:
                continue  # the post says it has no comments: nothing to fetch until that changes
            else:
                parent = by_parent[post.parent_id]
                feed_id = store.ensure_comment_feed(
                    db, parent, post.comments_url, name=f"{parent.name}: {post.title}"[:200],
                    thread_id=post.thread_id, thread_url=canonical_url(post.url) if post.url else None)
            if feed_id in chosen:
                continue
            counts[feed_id] = count
            chosen.append(feed_id)
    return store.feeds_by_id(db, chosen), counts
