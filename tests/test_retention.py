"""Retention: old item text is pruned in batches; the identities stay, so pruned items never come back as new."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys

import pytest
from feedgen import Entry, Watchlist, rss

from listener import pipeline, store
from listener.config import load_config

LATER = store.utcnow() + dt.timedelta(days=200)


def entries(count: int, *, word: str = "zebra") -> list[Entry]:
    return [Entry(title=f"Quillfeather post {i}", body=f"A {word} note number {i} about quillfeather sync.",
                  link=f"https://blog.quill.example/p{i}/", guid=f"post-{i}", author="Sam")
            for i in range(count)]


@pytest.fixture
def polled(tmp_path, feed_server):
    """A database holding 25 items of one feed; returns (config, feed_server)."""
    feed_server.add("/blog.xml", rss(entries(25)))
    config = load_config(Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path))
    summary = pipeline.poll(config)
    assert summary.new_items == 25
    return config, feed_server


def query(config, sql, params=()):
    with sqlite3.connect(config.database) as conn:
        return conn.execute(sql, params).fetchall()


def fts(config, term):
    return query(config, "SELECT count(*) FROM items_fts WHERE items_fts MATCH ?", [term])[0][0]


def test_prune_works_in_batches_and_keeps_every_identity(polled):
    config, _ = polled
    before = query(config, "SELECT feed_id, key, content_hash, title, url, compound FROM items ORDER BY id")
    db = store.open_db(config.database)
    batches = []
    assert store.prune_items(db, before=LATER, batch=10, on_batch=batches.append) == 25
    assert batches == [10, 10, 5]
    assert store.prune_items(db, before=LATER, batch=10) == 0  # nothing left to do
    db.close()

    after = query(config, "SELECT feed_id, key, content_hash, title, url, compound FROM items ORDER BY id")
    assert after == before
    assert query(config, "SELECT DISTINCT content, snippet, pruned FROM items") == [("", "", 1)]
    assert query(config, "PRAGMA integrity_check") == [("ok",)]
    # The full-text index followed: the text is gone from it, the titles are still there.
    assert fts(config, "zebra") == 0
    assert fts(config, "post") == 25
    query(config, "INSERT INTO items_fts(items_fts) VALUES ('integrity-check')")


def test_prune_leaves_recent_items_alone(polled):
    config, _ = polled
    assert pipeline.prune(config) == 0  # everything is younger than retention_days
    assert pipeline.prune(config, older_than=dt.timedelta(days=1)) == 0
    assert query(config, "SELECT count(*) FROM items WHERE pruned = 0 AND content != ''") == [(25,)]


def test_pruned_items_seen_again_in_their_feed_are_not_new(polled):
    config, _ = polled
    assert pipeline.prune(config, now=LATER) == 25
    again = pipeline.poll(config, force=True)
    assert (again.new_items, sum(o.updated for o in again.outcomes), again.new_hits) == (0, 0, 0)
    assert query(config, "SELECT count(*), sum(pruned) FROM items") == [(25, 25)]


def test_an_item_edited_after_pruning_is_updated_not_new_and_pruned_again_later(polled):
    config, server = polled
    pipeline.prune(config, now=LATER)
    edited = entries(25)
    edited[3].body = "An edited giraffe note about quillfeather."
    server.add("/blog.xml", rss(edited))
    again = pipeline.poll(config, force=True)
    assert again.new_items == 0 and sum(o.updated for o in again.outcomes) == 1
    assert query(config, "SELECT content FROM items WHERE key = 'post-3'")[0][0].startswith("An edited giraffe")
    assert fts(config, "giraffe") == 1
    assert pipeline.prune(config, now=LATER + dt.timedelta(days=200)) == 1  # only the restored one had text
    assert fts(config, "giraffe") == 0


def test_prune_truncates_the_wal_afterwards(polled):
    config, _ = polled
    assert pipeline.prune(config, now=LATER) == 25
    wal = f"{config.database}-wal"
    assert not os.path.exists(wal) or os.path.getsize(wal) == 0
    assert query(config, "PRAGMA integrity_check") == [("ok",)]


def test_prune_command(polled):
    config, _ = polled
    run = lambda *args: subprocess.run([sys.executable, "-m", "listener", "--config", str(config.path), "prune", *args],
                                       capture_output=True, text=True, timeout=60)
    done = run("--older-than", "30d")
    assert done.returncode == 0, done.stderr
    assert "pruned the text of 0 items" in done.stdout
    bad = run("--older-than", "soon")
    assert bad.returncode == 2 and "--older-than" in bad.stderr
