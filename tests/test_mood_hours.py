"""The mood counted by the hour in SQL is the mood counted mention by mention."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from bench import bigdb
from listener import mood, store
from listener.pipeline import day

UTC = dt.timezone.utc


def test_zones_with_whole_hour_offsets_are_counted_by_the_hour():
    start, end = dt.datetime(2026, 3, 20, tzinfo=UTC), dt.datetime(2026, 4, 10, tzinfo=UTC)  # DST starts inside
    assert mood.whole_hours("Europe/Berlin", start, end)
    assert mood.whole_hours("America/New_York", start, end)
    assert not mood.whole_hours("Asia/Kolkata", start, end)  # +5:30
    assert not mood.whole_hours("Australia/Lord_Howe", start, end)  # +11 in summer, +10:30 from April


@pytest.fixture(scope="module")
def mentions_db(tmp_path_factory):
    path, _ = bigdb.ensure_bigdb(tmp_path_factory.mktemp("bigdb"), 4000)
    with sqlite3.connect(path) as conn:  # marks, unknown languages and pre-verdict items in the mix
        conn.execute("INSERT INTO marks (item_id, field, value, by, at) SELECT id, 'complaint', '1', 'dana', published"
                     " FROM items WHERE id % 11 = 0")
        conn.execute("UPDATE items SET sentiment = 'unknown' WHERE id % 13 = 0")
        conn.execute("UPDATE items SET sentiment = NULL, complaint = NULL WHERE id % 5 = 0")
        newest = conn.execute("SELECT max(heard_at) FROM items").fetchone()[0]
    return path, dt.datetime.fromisoformat(newest)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
def test_hourly_counts_tally_as_each_mention(mentions_db, zone):
    path, newest = mentions_db
    db = store.open_db(path)
    start, end = newest - dt.timedelta(days=40), newest + dt.timedelta(hours=1)
    try:
        one_by_one = mood.tally(day._mood_mentions(store.mood_mentions(db, start, end)), timezone=zone,
                                negative=-0.05, positive=0.05, terms=["brightmoss"])
        hourly = mood.tally_hours(
            ((store.utcnow().fromisoformat(f"{h}:00:00+00:00"), kind, store.row_terms(terms), n, total, scored)
             for h, terms, kind, n, total, scored in store.mood_hours(db, start, end, negative=-0.05, positive=0.05)),
            timezone=zone, terms=["brightmoss"])
    finally:
        db.close()
    assert one_by_one.keys() == hourly.keys() and len(one_by_one) > 20
    for when, scopes in one_by_one.items():
        assert scopes.keys() == hourly[when].keys()
        for scope, expected in scopes.items():
            got = hourly[when][scope]
            assert (got.positive, got.neutral, got.negative, got.scored) == \
                (expected.positive, expected.neutral, expected.negative, expected.scored)
            assert got.compound_sum == pytest.approx(expected.compound_sum, abs=1e-9)
