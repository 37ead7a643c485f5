"""A big database for the read commands: N items (1M by default) in listener's own schema.

`listener.store.open_db` migrates an empty file, so the tables, indexes and FTS triggers are
whatever listener has today; the rows then go in with plain parameterised inserts, indexes and
FTS triggers set aside during the load and rebuilt after it (the same end state, minutes
faster). The file is cached under the work dir by size and generator version, and reused.

The shape: 500 blogs, threads of a post and its comments (about 9.5 items a thread), 180 days of
history up to now, three quarters of threads about the watched company, a third of the scored
items negative, staff replies in 40 % of threads, acks on 5 %. Each row carries what a poll would
store with it: the verdict (from the compound: the texts are written to fit it), heard_at and
triage's cues (read with listener's own `read_cues`, once per distinct text). The pool's texts stand
for distinct comments, so each item's spam key is its own (a reused text is no repeated spam).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import sqlite3
import time
from pathlib import Path

from bench.farm import AUTHORS, COMPANY, MENTIONS, NEGATIVE, NEUTRAL, POSITIVE, STAFF, TOPICS
from listener.models import TextCues
from listener.triage.cues import read_cues

GENERATOR_VERSION = 2  # 2: verdicts, heard_at and triage cues filled, as a poll stores them
BLOGS = 500
HISTORY_DAYS = 180
MEAN_COMMENTS = 8.5
BATCH = 20_000


def cached_path(work: Path, items: int) -> Path:
    return work / f"bigdb-{items}-v{GENERATOR_VERSION}.db"


def ensure_bigdb(work: Path, items: int, *, seed: int = 15, log=print) -> tuple[Path, float]:
    """The cached database of `items` items (made if missing); (path, seconds spent making it)."""
    path = cached_path(work, items)
    if path.exists():
        return path, 0.0
    work.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    log(f"bench: generating a {items:,}-item database at {path} (once; cached)")
    _migrate_empty(partial)
    _fill(partial, items, random.Random(seed))
    os.replace(partial, path)
    return path, time.perf_counter() - started


def _migrate_empty(path: Path) -> None:
    from listener.store import open_db

    db = open_db(path)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bodies(rng: random.Random, count: int = 4096) -> list[tuple[str, float, bool, TextCues]]:
    """(text, compound, mentions the company, cues) pool; tone picked first so the score fits the words."""
    pool = []
    for _ in range(count):
        roll = rng.random()
        tone, compound = ((NEGATIVE, -rng.uniform(0.1, 0.95)) if roll < 0.35 else
                          (NEUTRAL, rng.uniform(-0.04, 0.04)) if roll < 0.55 else
                          (POSITIVE, rng.uniform(0.1, 0.95)))
        sentences = [rng.choice(tone if rng.random() < 0.6 else NEUTRAL) for _ in range(rng.randint(4, 9))]
        mention = rng.random() < 0.6
        if mention:
            sentences.insert(rng.randrange(len(sentences)), rng.choice(MENTIONS))
        text = " ".join(sentences)
        pool.append((text, round(compound, 4), mention, read_cues(text)))
    return pool


def _set_aside(conn: sqlite3.Connection) -> list[str]:
    """Drop the items indexes and triggers (returning their SQL) so the bulk load does not maintain them."""
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'items'"
                        " AND type IN ('index', 'trigger') AND sql IS NOT NULL").fetchall()
    for kind, name, _ in rows:
        conn.execute(f'DROP {kind.upper()} "{name}"')
    return [sql for _, _, sql in rows]


def _fill(path: Path, items: int, rng: random.Random) -> None:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    conn.execute("BEGIN")
    saved = _set_aside(conn)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    blog_ids = _insert_blogs(conn, now)
    pool = _bodies(rng)
    made = 0
    thread = 0
    rows: list[tuple] = []
    threads: list[tuple] = []
    comment_feeds: list[tuple] = []
    acks: list[tuple] = []
    while made < items:
        made += _thread(rng, thread, blog_ids, now, pool, rows, threads, comment_feeds, acks, items - made)
        thread += 1
        if len(rows) >= BATCH:
            _flush(conn, rows, threads, comment_feeds, acks)
    _flush(conn, rows, threads, comment_feeds, acks)
    for sql in saved:
        conn.execute(sql)
    conn.execute("UPDATE feeds SET item_count = (SELECT count(*) FROM items WHERE items.feed_id = feeds.id)")
    fts = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                          " AND name = 'items_fts'")]
    if fts:
        conn.execute("INSERT INTO items_fts (items_fts) VALUES ('delete-all')")  # mentions only, as listener keeps it
        conn.execute("INSERT INTO items_fts (rowid, title, content) SELECT rowid, title, content FROM items"
                     " WHERE is_hit = 1")
    conn.execute("UPDATE acks SET last_item_id = (SELECT max(id) FROM items WHERE items.thread_id = acks.thread_id)"
                 " WHERE 'last_item_id' IN (SELECT name FROM pragma_table_info('acks'))")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


def _insert_blogs(conn: sqlite3.Connection, now: dt.datetime) -> list[int]:
    stamp = _iso(now)
    ids = []
    for blog in range(BLOGS):
        url = f"http://127.0.0.1:9/f/blog{blog}.xml"
        cursor = conn.execute(
            "INSERT INTO feeds (ident, name, url, config_url, kind, match_all, title, link, status, http_status,"
            " consecutive_errors, last_polled_at, last_ok_at, next_poll_at, last_new_item_at, active, created_at)"
            " VALUES (?, ?, ?, ?, 'feed', 0, ?, ?, 'ok', 200, 0, ?, ?, ?, ?, 1, ?)",
            [f"feed:blog{blog}", f"blog{blog}", url, url, f"Blog {blog}", f"https://blog{blog}.example/",
             stamp, stamp, _iso(now + dt.timedelta(minutes=15)), stamp, _iso(now - dt.timedelta(days=HISTORY_DAYS))])
        assert cursor.lastrowid is not None  # set by the INSERT just run
        ids.append(cursor.lastrowid)
    return ids


def _thread(rng: random.Random, number: int, blog_ids: list[int], now: dt.datetime, pool: list,
            rows: list, threads: list, comment_feeds: list, acks: list, room: int) -> int:
    """Queue one thread (a post and its comments) for insertion; returns how many items it holds."""
    blog = rng.randrange(BLOGS)
    about_us = rng.random() < 0.75
    start = now - dt.timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86400))
    post_url = f"https://blog{blog}.example/{start:%Y/%m}/post-{number}/"
    thread_id = "t" + hashlib.sha1(post_url.encode()).hexdigest()[:10]
    title = f"{rng.choice(TOPICS)} #{number}" + (f": {COMPANY} notes" if about_us and rng.random() < 0.5 else "")
    comments = min(room - 1, max(0, int(rng.expovariate(1 / MEAN_COMMENTS))))
    comment_feed = f"comments:{post_url}feed/"
    staff_thread = rng.random() < 0.4
    threads.append((thread_id, f"url:{post_url}", post_url, title, blog_ids[blog], _iso(start)))
    if comments:
        comment_feeds.append((comment_feed, f"blog{blog}: {title}", f"{post_url}feed/", blog_ids[blog],
                              thread_id, post_url, _iso(start)))
    if about_us and rng.random() < 0.05:
        acks.append((thread_id, _iso(min(now, start + dt.timedelta(hours=rng.uniform(1, 96)))), "bench", "handled"))
    for index in range(comments + 1):
        at = min(now, start + dt.timedelta(minutes=index * rng.uniform(5, 240)))
        text, compound, mention, cues = rng.choice(pool)
        hit = about_us and (index == 0 or mention)
        staff = index > 0 and staff_thread and rng.random() < 0.15
        author = rng.choice(STAFF) if staff else rng.choice(AUTHORS)
        if index == 0:
            key, url, item_title, feed = f"https://blog{blog}.example/?p={number}", post_url, title, blog_ids[blog]
        else:
            key = url = f"{post_url}#comment-{index}"
            item_title, feed = f"By: {author}", None  # the comment feed's id, set at flush
        scored = hit or comments > 0
        rows.append((
            feed, comment_feed, key, url, item_title, author, f"{item_title}. {text}", _iso(at - dt.timedelta(minutes=1)),
            at.strftime("%a, %d %b %Y %H:%M:%S +0000"), _iso(at), _iso(at),
            hashlib.sha1(key.encode()).hexdigest(), int(hit), json.dumps(["brightmoss"] if hit else []),
            text[:200] if hit else None, compound if scored else None,
            (max(compound, 0) if scored else None), (1 - abs(compound) if scored else None),
            (max(-compound, 0) if scored else None), thread_id,
            None if index == 0 else f"https://blog{blog}.example/?p={number}", None if index == 0 else post_url,
            f"{post_url}feed/" if index == 0 and comments else None, comments if index == 0 else None, int(staff),
            _label(compound) if scored else None, 0 if scored else None, _iso(at),
            int(cues.asks), int(cues.abuse), cues.links, hashlib.sha1(key.encode()).hexdigest()[:16],
            *((int(root.asks), int(root.abuse)) if index == 0 and (root := read_cues(f"{title}. {text}")) else (None, None))))
    return comments + 1


def _label(compound: float) -> str:
    return "negative" if compound <= -0.05 else "positive" if compound >= 0.05 else "neutral"


def _flush(conn: sqlite3.Connection, rows: list, threads: list, comment_feeds: list, acks: list) -> None:
    conn.executemany("INSERT OR IGNORE INTO threads (id, root, url, title, feed_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                     threads)
    conn.executemany(
        "INSERT OR IGNORE INTO feeds (ident, name, url, kind, parent_id, thread_id, thread_url, status, http_status,"
        " consecutive_errors, active, created_at) VALUES (?, ?, ?, 'comments', ?, ?, ?, 'ok', 200, 0, 1, ?)",
        comment_feeds)
    idents = {row[1] for row in rows if row[0] is None}
    ids = dict(conn.execute("SELECT ident, id FROM feeds WHERE ident IN (SELECT value FROM json_each(?))",
                            [json.dumps(sorted(idents))]).fetchall()) if idents else {}
    conn.executemany(
        "INSERT INTO items (feed_id, key, url, title, author, content, published, published_raw, first_seen,"
        " updated_at, content_hash, is_hit, terms, snippet, compound, pos, neu, neg, thread_id, parent_key,"
        " parent_url, comments_url, comment_count, is_staff, sentiment, complaint, heard_at,"
        " cue_asks, cue_abuse, cue_links, spam_key, root_asks, root_abuse, pruned)"
        f" VALUES ({', '.join('?' * 33)}, 0)",
        [(row[0] if row[0] is not None else ids[row[1]], *row[2:]) for row in rows])
    conn.executemany("INSERT INTO acks (thread_id, acked_at, by, note) VALUES (?, ?, ?, ?)", acks)
    for queue in (rows, threads, comment_feeds, acks):
        queue.clear()


def describe(path: Path) -> str:
    """Size and shape of a generated database, for the results."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        items, hits = conn.execute("SELECT count(*), sum(is_hit) FROM items").fetchone()
        threads = conn.execute("SELECT count(*) FROM threads").fetchone()[0]
        feeds = conn.execute("SELECT count(*) FROM feeds WHERE kind = 'feed'").fetchone()[0]
    finally:
        conn.close()
    return (f"{path.stat().st_size / 1e9:.2f} GB, {items:,} items ({hits:,} mentions), {threads:,} threads, "
            f"{feeds:,} feeds")
