"""Keeping the file healthy: retention, backups, and feed health as `listener feeds` shows it."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from listener import store
from listener.config import load_config
from listener.models import Config
from listener.schedule import DISABLED, GONE, feed_state
from listener.text import human_duration
from listener.times import parse_iso

if TYPE_CHECKING:
    import sqlite_utils

    from listener.opml import Imported

log = logging.getLogger(__name__)


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


def prune_plan(db: sqlite_utils.Database, *, days: int, now: dt.datetime) -> PrunePlan:
    """What a prune of items older than `days` would change, counted first; changes nothing."""
    cutoff = now - dt.timedelta(days=days)
    return PrunePlan(days=days, now=now, cutoff=cutoff, items=store.count_prunable(db, before=cutoff))


def prune(config: Config, *, older_than: dt.timedelta | None = None, now: dt.datetime | None = None) -> int:
    """Drop the text of items untouched for `retention_days` (or `older_than`); keep their identities.

    Batches of at most 10,000 rows per transaction, so polls keep running in between; a WAL
    checkpoint (TRUNCATE) afterwards gives the space back to the file system. Needs no run lock.
    Returns how many items were pruned.
    """
    age = dt.timedelta(days=config.retention_days) if older_than is None else older_than
    cutoff = (now or store.utcnow()) - age
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



def feed_overview(rows: list[dict[str, Any]], *, now: dt.datetime) -> list[dict[str, Any]]:
    """Stored feed rows with `state` (schedule.feed_state) and `backoff` (the wait before the next
    retry, while failing), for `listener feeds` and the report."""
    for row in rows:
        row["state"] = feed_state(row, now)
        row["backoff"] = None
        if row["consecutive_errors"] and row["state"] not in (GONE, DISABLED):
            polled, due = parse_iso(row["last_polled_at"]), parse_iso(row["next_poll_at"])
            if polled and due:
                row["backoff"] = human_duration((due - polled).total_seconds())
    return rows


def import_opml(config: Config, data: bytes) -> Imported:
    """`listener import-opml`: add an OPML file's new feeds to feeds.yaml, saying what it skipped."""
    from listener import opml  # only this command reads OPML (xml.etree, expat)

    return opml.import_into_config(config, data, validate=load_config)


def feed_health(db: store.Queries, config: Config, *, include_comment_feeds: bool = False,
                now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """`listener feeds`: the configured feeds as stored (a feed not polled yet shows as new), their
    comment feeds under them when asked. A read: it writes nothing and takes no lock."""
    now = now or store.utcnow()
    configured = {spec.name: spec for spec in config.feeds}
    rows = [row for row in store.feed_health(db, include_comment_feeds=include_comment_feeds)
            if row["name"] in configured or (row["kind"] != "feed" and row.get("parent") in configured)]
    stored = {row["name"] for row in rows if row["kind"] == "feed"}
    for name, spec in configured.items():
        if name not in stored:
            rows.append({"id": None, "name": name, "kind": "feed", "url": spec.url, "status": None,
                         "http_status": None, "last_polled_at": None, "last_ok_at": None, "next_poll_at": None,
                         "item_count": 0, "consecutive_errors": 0, "error_kind": None, "last_error": None,
                         "failing_since": None, "last_new_item_at": None, "created_at": None, "parent": None})
    order = {name: place for place, name in enumerate(configured)}
    rows.sort(key=lambda r: (order[r["parent"] if r["kind"] != "feed" else r["name"]], r["kind"] != "feed", r["name"]))
    return feed_overview(rows, now=now)
