"""What the team says about threads and items: marks (a person's correction of the verdict), owners,
snoozes and mutes; and what triage reads across threads (frequent critics, repeated texts)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from listener.errors import NotFoundError
from listener.store.base import utcnow, write
from listener.store.threads import resolve_thread
from listener.store.verdicts import verdict_sql
from listener.times import iso

MARK_FIELDS = {"sentiment": ("negative", "neutral", "positive"), "complaint": ("0", "1"), "abuse": ("0", "1")}


def add_mark(db: sqlite_utils.Database, item_id: int, field: str, value: str, *, by: str | None,
             now: dt.datetime | None = None) -> dict[str, Any]:
    """A person's correction of one item; the latest per item and field wins. Unknown item -> NotFoundError."""
    if value not in MARK_FIELDS.get(field, ()):
        raise ValueError(f"no mark {field}={value!r}")
    stamp = iso(now or utcnow())
    with write(db):
        row = db.execute("SELECT thread_id FROM items WHERE id = ?", [item_id]).fetchone()
        if row is None:
            raise NotFoundError(f"no item {item_id} (item ids are in `listener thread ID --format json`)")
        db.execute("INSERT INTO marks (item_id, field, value, by, at) VALUES (?, ?, ?, ?, ?)"
                   " ON CONFLICT(item_id, field) DO UPDATE SET value = excluded.value, by = excluded.by, at = excluded.at",
                   [item_id, field, value, by, stamp])
    return {"item_id": item_id, "thread_id": row[0], "field": field, "value": value, "by": by, "at": stamp}


def item_marks(db: sqlite_utils.Database, item_ids: Sequence[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """item id -> field -> {value, by, at}."""
    marks: dict[int, dict[str, dict[str, Any]]] = {}
    for row in db.query("SELECT item_id, field, value, by, at FROM marks WHERE item_id IN (SELECT value FROM json_each(?))",
                        [json.dumps(list(item_ids))]):
        marks.setdefault(row["item_id"], {})[row["field"]] = row
    return marks


def set_team(db: sqlite_utils.Database, thread_id: str, *, by: str | None, now: dt.datetime | None = None,
             **changes: Any) -> dict[str, Any]:
    """Change a thread's owner, snoozed_until (a time, or None to end it) or muted; returns the state before
    and after. A snooze covers the items stored so far: a newer one ends it."""
    allowed = {"owner", "snoozed_until", "muted"}
    if not changes or set(changes) - allowed:
        raise ValueError(f"expected some of {sorted(allowed)}")
    stamp = iso(now or utcnow())
    with write(db):
        thread_id = resolve_thread(db, thread_id)
        before = team_states(db, [thread_id]).get(thread_id, {})
        db.execute("INSERT INTO thread_team (thread_id, updated_at) VALUES (?, ?) ON CONFLICT(thread_id) DO NOTHING",
                   [thread_id, stamp])
        for column, value in changes.items():
            if column == "snoozed_until":
                db.execute("UPDATE thread_team SET snoozed_until = ?, snoozed_covers = (SELECT max(id) FROM items)"
                           " WHERE thread_id = ?", [iso(value), thread_id])
            else:
                db.execute(f"UPDATE thread_team SET {column} = ? WHERE thread_id = ?",
                           [int(value) if column == "muted" else value, thread_id])
        db.execute("UPDATE thread_team SET by = ?, updated_at = ? WHERE thread_id = ?", [by, stamp, thread_id])
        after = team_states(db, [thread_id])[thread_id]
    return {"thread_id": thread_id, "before": before, "after": after}


def team_states(db: sqlite_utils.Database, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """thread id -> owner, snoozed_until, snoozed_covers, muted, by, updated_at."""
    return {row["thread_id"]: row for row in db.query(
        "SELECT thread_id, owner, snoozed_until, snoozed_covers, muted, by, updated_at FROM thread_team"
        " WHERE thread_id IN (SELECT value FROM json_each(?))", [json.dumps(list(ids))])}


def threads_owned_by(db: sqlite_utils.Database, owner: str) -> set[str]:
    return {row[0] for row in db.execute("SELECT thread_id FROM thread_team WHERE lower(owner) = lower(?)", [owner])}


def frequent_critics(db: sqlite_utils.Database, *, since: dt.datetime, negative: float, min_items: int = 3,
                     min_threads: int = 2) -> dict[str, int]:
    """author -> negative items since `since`, for authors with at least `min_items` of them in at least
    `min_threads` threads (staff left out; the caller folds the names)."""
    rows = db.execute(
        "SELECT author, count(*), count(DISTINCT thread_id) FROM items"
        f" WHERE published >= ? AND is_staff = 0 AND author IS NOT NULL AND author != '' AND {verdict_sql(db).negative}"
        " GROUP BY lower(author) HAVING count(*) >= ? AND count(DISTINCT thread_id) >= ?",
        [iso(since), negative, min_items, min_threads]).fetchall()
    return {row[0]: row[1] for row in rows}


def repeated_texts(db: sqlite_utils.Database, *, since: dt.datetime, min_threads: int = 3,
                   chars: int = 1000) -> list[str]:
    """Texts (their first `chars` characters) published since `since` in at least `min_threads` threads,
    among items stored before spam keys were (the others: `repeated_spam_keys`)."""
    return [row[0] for row in db.execute(
        f"SELECT substr(content, 1, {int(chars)}) AS text FROM items INDEXED BY idx_items_unkeyed"
        " WHERE published >= ? AND spam_key IS NULL"
        " AND length(content) >= 24 GROUP BY text HAVING count(DISTINCT thread_id) >= ?",
        [iso(since), min_threads]).fetchall()]


def repeated_spam_keys(db: sqlite_utils.Database, *, since: dt.datetime, min_threads: int = 3) -> list[str]:
    """Spam keys (see triage.cues.spam_key) of items published since `since` in at least `min_threads` threads."""
    return [row[0] for row in db.execute(
        "SELECT spam_key FROM items WHERE published >= ? AND spam_key != ''"
        " GROUP BY spam_key HAVING count(DISTINCT thread_id) >= ?", [iso(since), min_threads]).fetchall()]
