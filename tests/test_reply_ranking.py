"""`threads --needs-reply --limit N` summarises only the threads it needs, and lists exactly what
summarising every thread and cutting at N lists (triage.rank_bound, conversations._best_replies)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from bench import bigdb
from listener import store
from listener.config import load_config
from listener.pipeline import conversations, thread_summaries
from listener.triage import ReplyOutlook, TriageContext, rank_bound


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """bench's generator at 4,000 items: threads with staff replies, acks, comments in every mood."""
    work = tmp_path_factory.mktemp("bigdb")
    path, _ = bigdb.ensure_bigdb(work, 4000)
    with sqlite3.connect(path) as conn:
        newest = conn.execute("SELECT max(published) FROM items").fetchone()[0]
    config_path = work / "feeds.yaml"
    config_path.write_text(f"database: {path}\nwatch:\n  - name: brightmoss\n    terms: [brightmoss]\nfeeds: []\n"
                           "triage: {reply_window: 30d, first_reply_within: 2d, business_hours: off}\n")
    return load_config(str(config_path)), dt.datetime.fromisoformat(newest) + dt.timedelta(hours=6)


def listed(config, now, **kwargs):
    db = store.open_db(config.database)
    try:
        return [(s.id, s.priority, s.overdue) for s in thread_summaries(db, config, queue="reply", now=now, **kwargs)]
    finally:
        db.close()


@pytest.mark.parametrize("limit", [1, 5, 12])
@pytest.mark.parametrize("days_later", [0, 3, 20])
def test_the_first_n_are_the_same_as_ranking_every_thread(generated, limit, days_later):
    config, now = generated
    now += dt.timedelta(days=days_later)
    everything = listed(config, now)
    assert len(everything) > 12  # the queue is long enough for the cut to matter
    assert listed(config, now, limit=limit) == everything[:limit]


def test_marks_and_old_rows_without_cues_are_ranked_the_same(generated, tmp_path):
    config, now = generated
    copy = tmp_path / "copy.db"
    with sqlite3.connect(config.database) as source, sqlite3.connect(copy) as target:
        source.backup(target)
        # A person's marks can put any item in the queue; rows stored before cues were are read anew.
        target.execute("INSERT INTO marks (item_id, field, value, by, at) SELECT id, 'sentiment', 'negative', 'dana',"
                       " published FROM items WHERE sentiment = 'positive' AND id % 7 = 0")
        target.execute("UPDATE items SET cue_asks = NULL, root_asks = NULL WHERE id % 3 = 0")
    moved = config.__class__(**{**config.__dict__, "database": copy})
    everything = listed(moved, now)
    assert listed(moved, now, limit=10) == everything[:10]


def test_the_bound_is_never_worse_than_the_real_rank():
    now = dt.datetime(2026, 3, 4, 12, tzinfo=dt.timezone.utc)
    outlook = ReplyOutlook("t1", last_activity=now, oldest=now - dt.timedelta(hours=30), negativities=(0.6, 0.0),
                           recent=3, complaint=True, marked=False)
    context = TriageContext(sla=dt.timedelta(hours=4))
    bound = rank_bound(outlook, now=now, context=context)
    assert bound[:3] == (False, False, False)  # needs a reply, overdue, a complaint: at best
    fewer = rank_bound(ReplyOutlook("t1", now, now - dt.timedelta(hours=2), (0.6,), 3, True, False), now=now,
                       context=context)
    assert fewer > bound  # a shorter wait and fewer items can only rank later
    assert conversations.DAY == dt.timedelta(hours=24)


def test_only_as_many_threads_as_it_takes_are_summarised(generated, monkeypatch):
    config, now = generated
    summarised: list[int] = []
    real = conversations._summaries

    def counting(db, config, ids, now, **kwargs):
        summarised.append(len(ids))
        return real(db, config, ids, now, **kwargs)

    monkeypatch.setattr(conversations, "_summaries", counting)
    everything = listed(config, now)
    total = summarised.pop()
    assert listed(config, now, limit=1) == everything[:1]
    assert sum(summarised) < total


def test_a_long_list_is_summarised_in_two_processes_with_the_same_result(generated, monkeypatch, caplog):
    config, now = generated
    monkeypatch.setattr(conversations.threading, "active_count", lambda: 1)  # pytest-timeout's timer thread
    db = store.open_db(config.database)
    try:
        ids = store.thread_ids(db, since=now - dt.timedelta(days=60))
        context = conversations.triage_context(db, config, now)
        alone = conversations._summaries_here(db, config, ids, now, context=context)
        assert len(alone) > 50
        assert conversations._summaries(db, config, ids, now, context=context, split_at=2) == alone

        def broken(path):  # the forked half inherits this: its work comes back to the parent
            raise OSError("disk gone")

        monkeypatch.setattr(conversations.store, "connect", broken)
        assert conversations._summaries(db, config, ids, now, context=context, split_at=2) == alone
        assert "OSError: disk gone" in caplog.text
        monkeypatch.setattr(conversations.threading, "active_count", lambda: 3)  # the daemon: never forks
        assert conversations._summaries(db, config, ids, now, context=context, split_at=2) == alone
    finally:
        db.close()
