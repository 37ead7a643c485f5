"""The mood counted by the quarter hour in SQL is the mood counted mention by mention, in every kind of zone."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from bench import bigdb
from listener import mood, store
from listener.text import stored_terms

UTC = dt.timezone.utc


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


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu",
                                  "Australia/Lord_Howe"])
def test_quarter_hour_counts_tally_as_each_mention(mentions_db, zone):
    path, newest = mentions_db
    db = store.open_db(path)
    start, end = newest - dt.timedelta(days=200), newest + dt.timedelta(hours=1)  # Lord Howe's and Berlin's DST
    try:
        one_by_one = mood.tally(mood.mentions_of(store.mood_mentions(db, start, end)), timezone=zone,
                                negative=-0.05, positive=0.05, terms=["brightmoss"])
        hourly = mood.tally_counts(
            ((dt.datetime.fromisoformat(f"{q}:00+00:00"), kind, stored_terms(terms), n, total, scored)
             for q, terms, kind, n, total, scored in store.mood_counts(db, start, end, negative=-0.05, positive=0.05)),
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
