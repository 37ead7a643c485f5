"""The items table: one feed's poll stored in one transaction, and the queries that read mentions."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from listener import lifeline
from listener.errors import UsageError
from listener.models import ItemPlacement, ScoredItem, Sentiment, TextCues, Verdict
from listener.store.base import Queries, write
from listener.store.feeds import FeedUpdate
from listener.store.verdicts import MARKED_COMPLAINT, MARKED_SENTIMENT, NEGATIVE, verdict_sql
from listener.text import stored_terms
from listener.times import iso, parse_iso

if TYPE_CHECKING:
    import sqlite_utils

_FAULT = lifeline.FaultHook("kill_after_items")


def known_hashes(db: sqlite_utils.Database, feed_id: int) -> dict[str, str]:
    """key -> content_hash of what a feed already stored, so unchanged items are not scored again."""
    return dict(db.execute("SELECT key, content_hash FROM items WHERE feed_id = ?", [feed_id]).fetchall())


@dataclass(frozen=True)
class StoredCounts:
    new: int = 0
    updated: int = 0
    new_hits: int = 0
    rekeyed: int = 0


REPLY_WINDOW = dt.timedelta(days=14)


def save_poll(db: sqlite_utils.Database, feed_id: int, update: FeedUpdate,
              items: Iterable[ScoredItem], *, placements: Mapping[str, ItemPlacement], now: dt.datetime,
              seen: int | None = None, reply_window: dt.timedelta = REPLY_WINDOW) -> StoredCounts:
    """Store one feed's items and its new state in ONE transaction (RELIABILITY A6, E3).

    Validators are written together with the items they stand for: if the items fail to store,
    the next poll fetches them again instead of getting a 304. `seen` is how many items the feed
    listed this time (`items` holds only the new and changed ones); `placements` says, by item key,
    which thread each item joins and whether staff wrote it. `reply_window`: on the feed's first
    successful poll, items published longer ago than that are history (see `_heard_at`).
    """
    stamp = iso(now)
    new = updated = new_hits = 0
    items = list(items)
    with write(db):
        moved = _rekey_moved_items(db, feed_id, items, seen=seen if seen is not None else len(items))
        for scored in items:
            place = placements[scored.item.key]
            ensure_thread(db, place.thread_id, root=place.root, url=place.url, title=place.title,
                          feed_id=feed_id, now=now)
            _FAULT.passing()
            thread_id = moved.get(scored.item.key, place.thread_id)
            outcome = _upsert_item(db, feed_id, scored, thread_id, place, stamp,
                                   history_before=iso(now - reply_window))
            new += outcome == "new"
            updated += outcome == "updated"
            new_hits += outcome == "new" and scored.match.hit
        db.execute(
            "UPDATE feeds SET status = ?, http_status = ?, etag = ?, last_modified = ?,"
            " next_poll_at = ?, last_polled_at = ?, last_ok_at = ?, consecutive_errors = 0,"
            " failing_since = NULL, error_kind = NULL, last_error = ?,"
            " title = COALESCE(?, title), link = COALESCE(?, link), url = COALESCE(?, url),"
            " redirect_target = ?,"
            " redirect_count = CASE WHEN ? IS NOT NULL AND ? = redirect_target THEN redirect_count + 1"
            "                       WHEN ? IS NOT NULL THEN 1 ELSE 0 END,"
            " last_new_item_at = CASE WHEN ? > 0 THEN ? ELSE last_new_item_at END,"
            " item_count = (SELECT count(*) FROM items WHERE feed_id = ?)"
            " WHERE id = ?",
            [update.status, update.http_status, update.etag, update.last_modified,
             iso(update.next_poll_at), stamp, stamp, update.message, update.title, update.link,
             update.url, update.redirect_target, update.redirect_target, update.redirect_target,
             update.redirect_target, new, stamp, feed_id, feed_id])
    return StoredCounts(new, updated, new_hits, len(moved))


REKEY_MIN_MATCHES = 5


def _rekey_moved_items(db: sqlite_utils.Database, feed_id: int, items: Sequence[ScoredItem], *,
                       seen: int) -> dict[str, str | None]:
    """RELIABILITY C3: a feed that re-keys its items (a CMS migration, http -> https) must not
    make them all new mentions again.

    When more than half of what the feed lists is new and at least REKEY_MIN_MATCHES of the new
    items match a stored item of the same feed (by link, whatever its scheme, or by title and
    date), those stored rows take the new keys and keep their first-seen time and thread.
    Returns new key -> the stored row's thread id.
    """
    if len(items) < REKEY_MIN_MATCHES or len(items) * 2 <= seen:
        return {}  # the usual poll: too few changed items to be a re-keying, no query needed
    unknown = [s for s in items
               if not db.execute("SELECT 1 FROM items WHERE feed_id = ? AND key = ?", [feed_id, s.item.key]).fetchone()]
    if len(unknown) < REKEY_MIN_MATCHES or len(unknown) * 2 <= seen:
        return {}
    listed = {s.item.key for s in items}
    matches: dict[str, tuple[int, str | None]] = {}
    taken: set[int] = set()
    for scored in unknown:
        item = scored.item
        candidates = []
        if item.url:
            bare = item.url.split("://", 1)[-1]
            candidates += db.execute(
                "SELECT id, key, thread_id FROM items WHERE feed_id = ? AND url IN (?, ?)",
                [feed_id, f"http://{bare}", f"https://{bare}"]).fetchall()
        if item.title and item.published_raw:
            candidates += db.execute(
                "SELECT id, key, thread_id FROM items WHERE feed_id = ? AND title = ? AND published_raw = ?",
                [feed_id, item.title, item.published_raw]).fetchall()
        row = next((c for c in candidates if c[1] not in listed and c[0] not in taken), None)
        if row is not None:
            matches[item.key] = (row[0], row[2])
            taken.add(row[0])
    if len(matches) < REKEY_MIN_MATCHES:
        return {}
    for key, (row_id, _) in matches.items():
        db.execute("UPDATE items SET key = ? WHERE id = ?", [key, row_id])
    return {key: thread_id for key, (_, thread_id) in matches.items()}


def _upsert_item(db: sqlite_utils.Database, feed_id: int, scored: ScoredItem, thread_id: str | None,
                 place: ItemPlacement, stamp: str, *, history_before: str) -> str:
    """Insert a new item or refresh a changed one. Returns 'new', 'updated' or 'same'."""
    item, match, sentiment = scored.item, scored.match, scored.sentiment
    row = db.execute("SELECT id, content_hash, published FROM items WHERE feed_id = ? AND key = ?",
                     [feed_id, item.key]).fetchone()
    if row is not None and row[1] == scored.content_hash:
        return "same"
    published = item.published.astimezone(dt.timezone.utc) if item.published else None
    scores = (sentiment.compound, sentiment.pos, sentiment.neu, sentiment.neg) if sentiment else (None,) * 4
    values = {
        "url": item.url, "title": item.title, "author": item.author, "content": item.content,
        "published_raw": item.published_raw, "updated_at": stamp,
        "content_hash": scored.content_hash, "is_hit": int(match.hit), "terms": json.dumps(list(match.terms)),
        "snippet": match.snippet, "compound": scores[0], "pos": scores[1], "neu": scores[2], "neg": scores[3],
        **verdict_columns(scored.verdict, scored.verdict_version),
        "thread_id": thread_id, "parent_key": item.in_reply_to, "parent_url": item.in_reply_to_url,
        "comments_url": item.comments_url, "comment_count": item.comment_count, "is_staff": int(place.is_staff),
        **cue_columns(scored.cues, place.root_cues),
    }
    if row is None:
        # A missing or future date falls back to when we first saw the item (RELIABILITY B8, H4).
        first_seen = stamp
        values.update(feed_id=feed_id, key=item.key, first_seen=first_seen,
                      published=min(iso(published), first_seen) if published else first_seen)
        values["heard_at"] = _heard_at(db, feed_id, values["published"], first_seen, history_before)
        columns = ", ".join(values)
        db.execute(f"INSERT INTO items ({columns}) VALUES ({', '.join('?' * len(values))})",
                   list(values.values()))
        return "new"
    assignments = ", ".join(f"{column} = ?" for column in values)
    db.execute(f"UPDATE items SET {assignments} WHERE id = ?", [*values.values(), row[0]])
    return "updated"


def _heard_at(db: sqlite_utils.Database, feed_id: int, published: str, first_seen: str, history_before: str) -> str:
    """When the mood counts a new item: its publication for the archive a feed's first successful poll
    brings in (published before `history_before`), else when we first saw it."""
    if published >= history_before:
        return first_seen
    first_poll = db.execute("SELECT last_ok_at IS NULL FROM feeds WHERE id = ?", [feed_id]).fetchone()
    return published if first_poll and first_poll[0] else first_seen


def verdict_columns(verdict: Verdict | None, version: str | None) -> dict[str, Any]:
    """The verdict as stored: `why` as a JSON list; all None for an item that was not judged."""
    if verdict is None:
        return dict.fromkeys(("sentiment", "complaint", "confidence", "language", "why", "verdict_version"))
    return {"sentiment": verdict.sentiment, "complaint": int(verdict.complaint), "confidence": verdict.confidence,
            "language": verdict.language, "why": json.dumps(list(verdict.why), ensure_ascii=False),
            "verdict_version": version}


def cue_columns(cues: TextCues | None, root: TextCues | None) -> dict[str, Any]:
    """Triage's cues as stored: NULL where they were not read (triage reads them when listing)."""
    return {"cue_asks": None if cues is None else int(cues.asks), "cue_abuse": None if cues is None else int(cues.abuse),
            "cue_links": None if cues is None else cues.links, "spam_key": None if cues is None else cues.spam_key,
            "root_asks": None if root is None else int(root.asks), "root_abuse": None if root is None else int(root.abuse)}


def ensure_thread(db: sqlite_utils.Database, thread_id: str, *, root: str, url: str | None,
                  title: str | None, feed_id: int, now: dt.datetime) -> None:
    """Remember a thread's root the first time it is seen; call inside write()."""
    db.execute(
        "INSERT INTO threads (id, root, url, title, feed_id, created_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET title = COALESCE(threads.title, excluded.title),"
        " url = COALESCE(threads.url, excluded.url)",
        [thread_id, root, url, title, feed_id, iso(now)])


def _verdict(row: dict[str, Any]) -> dict[str, Any]:
    """`why` as a list and `complaint` as a bool, as JSON shows them."""
    try:
        why = json.loads(row.get("why") or "[]")
    except ValueError:
        why = []
    row["why"] = why if isinstance(why, list) else []
    if row.get("complaint") is not None:
        row["complaint"] = bool(row["complaint"])
    return row


def _with_marks(db: Queries, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A person's marks win over the scorer's verdict and are listed first in `why`, as marked."""
    ids = [row["id"] for row in rows]
    if not ids:
        return rows
    marks: dict[int, list[dict[str, Any]]] = {}
    for mark in db.query("SELECT item_id, field, value, by FROM marks WHERE item_id IN (SELECT value FROM json_each(?))"
                         " ORDER BY field", [json.dumps(ids)]):
        marks.setdefault(mark["item_id"], []).append(mark)
    for row in rows:
        for mark in marks.get(row["id"], []):
            if mark["field"] == "sentiment":
                row["sentiment"] = mark["value"]
            elif mark["field"] == "complaint":
                row["complaint"] = mark["value"] == "1"
            row["why"] = [f"marked:{mark['field']}={mark['value']}" + (f" by {mark['by']}" if mark["by"] else ""),
                          *(row.get("why") or [])]
    return rows


def _terms(row: dict[str, Any]) -> dict[str, Any]:
    row["terms"] = stored_terms(row["terms"])
    return row


def mentions(db: Queries, *, since: dt.datetime | None = None, term: str | None = None,
             feed: str | None = None, negative_at_most: float | None = None,
             limit: int | None = 50, search: str | None = None) -> list[dict[str, Any]]:
    """Recent hits, newest first. `feed` matches a configured feed's name, its comment feeds included.

    `search` is an SQLite FTS5 query over title and text (`sync OR "lost my notes"`, `expens*`,
    `title:pricing`), bound as a parameter; a malformed one raises UsageError.
    """
    clauses = ["items.is_hit = 1"]
    params: list[Any] = []
    if search is not None:
        clauses.append("items.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)")
        params.append(search)
    if since is not None:
        clauses.append("items.published >= ?")
        params.append(iso(since))
    if term:
        clauses.append("EXISTS (SELECT 1 FROM json_each(items.terms) WHERE lower(json_each.value) = lower(?))")
        params.append(term)
    if feed:
        clauses.append("(feeds.name = ? OR parent.name = ?)")
        params += [feed, feed]
    if negative_at_most is not None:
        clauses.append(NEGATIVE)
        params.append(negative_at_most)
    sql = (
        "SELECT items.id, COALESCE(parent.name, feeds.name) AS feed, items.title, items.url,"
        " items.author, items.published, items.first_seen, items.terms, items.compound, items.pos,"
        " items.sentiment, items.complaint, items.confidence, items.language, items.why,"
        " items.neu, items.neg, items.thread_id, items.snippet, items.is_staff"
        " FROM items JOIN feeds ON feeds.id = items.feed_id"
        " LEFT JOIN feeds AS parent ON parent.id = feeds.parent_id"
        f" WHERE {' AND '.join(clauses)} ORDER BY items.published DESC, items.id DESC"
    )
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    if search is not None:
        _check_fts_query(search)
    return _with_marks(db, [_verdict(_terms(row)) for row in db.query(sql, params)])


def _check_fts_query(query: str) -> None:
    """Raise UsageError for a malformed FTS5 query, by running it on an empty index of the same
    columns: whatever fails there is the query's fault, not the database's."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE q USING fts5(title, content)")
        probe.execute("SELECT * FROM q WHERE q MATCH ?", [query]).fetchall()
    except sqlite3.OperationalError as exc:
        raise UsageError(f"--search: not a valid FTS5 query ({exc}); put words in double quotes"
                         " to search for them as they are") from None
    finally:
        probe.close()


PRUNE_BATCH = 10_000
# The rows prune_items() changes: not yet pruned, or given text again since.
_PRUNABLE = "(pruned = 0 OR COALESCE(content, '') != '' OR COALESCE(snippet, '') != '')"


def count_prunable(db: sqlite_utils.Database, *, before: dt.datetime) -> int:
    """How many items a prune with this cutoff would change (`listener prune --dry-run`); a read."""
    return int(db.execute(f"SELECT count(*) FROM items WHERE updated_at < ? AND {_PRUNABLE}",
                          [iso(before)]).fetchone()[0])


def prune_items(db: sqlite_utils.Database, *, before: dt.datetime, batch: int = PRUNE_BATCH,
                on_batch: Callable[[int], None] | None = None) -> int:
    """Drop the text of items not updated since `before`, `batch` rows per transaction; keep the rows.

    The row (feed, key, content_hash, title, url, scores, thread) stays, so an item still in its
    feed is recognised as already seen and never comes back as new (RELIABILITY C5); the FTS
    index follows through its triggers. Walks the table by id, so each batch starts where the last
    one stopped. `on_batch(count)` is called after each committed batch. Returns the rows pruned.
    """
    cutoff, last_id, total = iso(before), 0, 0
    pending = _PRUNABLE
    while True:
        with write(db):
            top, count = db.execute(
                f"SELECT max(id), count(*) FROM (SELECT id FROM items WHERE id > ? AND updated_at < ? AND {pending}"
                " ORDER BY id LIMIT ?)", [last_id, cutoff, batch]).fetchone()
            if count:
                db.execute(f"UPDATE items SET content = '', snippet = '', pruned = 1"
                           f" WHERE id > ? AND id <= ? AND updated_at < ? AND {pending}", [last_id, top, cutoff])
        if not count:
            return total
        total, last_id = total + count, top
        if on_batch:
            on_batch(count)


_MOOD_WHERE = "items.is_hit = 1 AND items.is_staff = 0 AND items.heard_at >= ? AND items.heard_at < ?"


def mood_mentions(db: sqlite_utils.Database, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """first_seen (the moment the mood counts it: `heard_at`), compound, terms (raw JSON text) and the
    verdict, a person's marks applied, of every non-staff mention heard in [start, end)."""
    return list(db.query("SELECT items.heard_at AS first_seen, items.compound, items.terms,"
                         f" {MARKED_SENTIMENT} AS sentiment, {MARKED_COMPLAINT} AS complaint"
                         f" FROM items WHERE {_MOOD_WHERE}",
                         [iso(start), iso(end)]))


def mood_counts(db: sqlite_utils.Database, start: dt.datetime, end: dt.datetime, *, negative: float,
                positive: float) -> list[tuple[str, str, str, int, float, int]]:
    """`mood_mentions` counted in SQL by the quarter hour heard (UTC), stored terms and kind (the verdict,
    a person's marks applied; the compound against the thresholds for items judged before verdicts):
    (quarter 'YYYY-MM-DDTHH:MM', terms JSON, kind, mentions, sum of compounds, mentions with a compound).

    Every zone's offset since 1990 is a whole number of quarter hours, so a quarter hour never spans two
    local days: counted this way, the mood is the same as counted one mention at a time."""
    sql = verdict_sql(db)
    kind = (f"CASE WHEN {sql.complaint} = 1 THEN 'negative' WHEN NULLIF({sql.sentiment}, '') IS NOT NULL"
            f" THEN {sql.sentiment} WHEN items.compound IS NULL THEN 'neutral' WHEN items.compound <= ?"
            " THEN 'negative' WHEN items.compound >= ? THEN 'positive' ELSE 'neutral' END")
    quarter = ("substr(items.heard_at, 1, 14)"
               " || printf('%02d', CAST(substr(items.heard_at, 15, 2) AS INTEGER) / 15 * 15)")
    return db.execute(
        "SELECT quarter, terms, kind, count(*), total(compound), count(compound) FROM"
        f" (SELECT {quarter} AS quarter, items.terms, items.compound, {kind} AS kind"
        f"  FROM items WHERE {_MOOD_WHERE}) GROUP BY quarter, terms, kind",
        [negative, positive, iso(start), iso(end)]).fetchall()


def day_mentions(db: sqlite_utils.Database, start: dt.datetime, end: dt.datetime, *, most: str,
                 threshold: float, limit: int) -> list[dict[str, Any]]:
    """The most negative (`most="negative"`: the verdict's negatives and complaints, lowest compound
    first) or most positive (highest first) non-staff mentions first seen in [start, end);
    `threshold` judges the items scored before verdicts existed."""
    negative = most == "negative"
    sql = verdict_sql(db)
    clause = sql.negative if negative else sql.positive
    return list(db.query(
        "SELECT items.id, COALESCE(parent.name, feeds.name) AS feed, items.title, items.url, items.author,"
        " items.published, items.first_seen, items.terms, items.compound, items.snippet, items.thread_id,"
        f" {sql.sentiment} AS sentiment, {sql.complaint} AS complaint, threads.title AS thread_title"
        " FROM items JOIN feeds ON feeds.id = items.feed_id LEFT JOIN feeds AS parent ON parent.id = feeds.parent_id"
        " LEFT JOIN threads ON threads.id = items.thread_id"
        f" WHERE {_MOOD_WHERE} AND items.compound IS NOT NULL AND {clause}"
        f" ORDER BY items.compound {'ASC' if negative else 'DESC'}, items.id LIMIT ?",
        [iso(start), iso(end), threshold, limit]))



def item_verdict(db: sqlite_utils.Database, item_id: int) -> dict[str, Any] | None:
    """One item as `listener explain` shows it: where it is from, VADER's numbers and the verdict."""
    rows = list(db.query(
        "SELECT items.id, COALESCE(parent.name, feeds.name) AS feed, items.title, items.url, items.author,"
        " items.published, items.thread_id, items.compound, items.pos, items.neu, items.neg, items.sentiment,"
        " items.complaint, items.confidence, items.language, items.why, items.verdict_version, items.is_hit,"
        " items.terms, items.snippet"
        " FROM items JOIN feeds ON feeds.id = items.feed_id LEFT JOIN feeds AS parent ON parent.id = feeds.parent_id"
        " WHERE items.id = ?", [item_id]))
    return _with_marks(db, [_verdict(_terms(rows[0]))])[0] if rows else None


def items_to_rescore(db: sqlite_utils.Database, *, version: str, after_id: int, limit: int) -> list[dict[str, Any]]:
    """Scored items whose verdict another scorer or model made, by id from `after_id` (a read)."""
    return list(db.query(
        "SELECT id, title, content FROM items WHERE id > ? AND compound IS NOT NULL AND pruned = 0"
        " AND (verdict_version IS NULL OR verdict_version != ?) ORDER BY id LIMIT ?", [after_id, version, limit]))


def count_to_rescore(db: sqlite_utils.Database, *, version: str) -> int:
    return int(db.execute("SELECT count(*) FROM items WHERE compound IS NOT NULL AND pruned = 0"
                          " AND (verdict_version IS NULL OR verdict_version != ?)", [version]).fetchone()[0])


def save_rescored(db: sqlite_utils.Database, rows: Iterable[tuple[int, Sentiment, Verdict, str]]) -> None:
    """New VADER numbers and verdicts for stored items, in one transaction (a batch of `listener rescore`)."""
    with write(db):
        for item_id, sentiment, verdict, version in rows:
            columns = {"compound": sentiment.compound, "pos": sentiment.pos, "neu": sentiment.neu,
                       "neg": sentiment.neg, **verdict_columns(verdict, version)}
            db.execute(f"UPDATE items SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
                       [*columns.values(), item_id])


def first_heard(db: sqlite_utils.Database) -> dt.datetime | None:
    """When listener first stored anything: the day before it a report has no data to speak of."""
    row = db.execute("SELECT min(first_seen) FROM items").fetchone()
    return parse_iso(row[0]) if row and row[0] else None
