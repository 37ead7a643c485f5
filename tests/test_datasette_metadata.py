"""deploy/datasette.yaml names only tables and columns the schema has, and its canned queries run on a
real listener database and agree with listener's own answers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from test_report import NOW, World, a_busy_week

from listener import mood, pipeline, store

METADATA = Path(__file__).resolve().parent.parent / "deploy" / "datasette.yaml"


def metadata() -> dict:
    return yaml.safe_load(METADATA.read_text(encoding="utf-8"))["databases"]["listener"]


def test_every_table_and_column_described_exists(tmp_path):
    db = store.open_db(tmp_path / "listener.db")
    for table, spec in metadata()["tables"].items():
        assert db.table(table).exists(), table
        columns = set(db.table(table).columns_dict)
        assert set(spec.get("columns", {})) <= columns, (table, set(spec.get("columns", {})) - columns)


def test_the_reply_queue_query_finds_the_threads_listener_says_need_a_reply(tmp_path):
    world = World(tmp_path / "w")
    a_busy_week(world)
    world.mention("Quillfeather lost my drafts", compound=-0.7, thread="acked", seen=NOW - dt.timedelta(hours=5))
    pipeline.ack_thread(world.db, "acked", by="dana", note="replied", now=NOW - dt.timedelta(hours=4))
    world.mention("Staff answered this", compound=-0.6, thread="answered", seen=NOW - dt.timedelta(hours=6))
    world.mention("We fixed it", compound=0.5, thread="answered", staff=True, author="Dana Reyes",
                  seen=NOW - dt.timedelta(hours=5))
    expected = {s.id for s in pipeline.thread_summaries(world.db, world.config, needs_reply=True, now=NOW)}
    rows = world.db.execute(metadata()["queries"]["needs_reply"]["sql"]).fetchall()
    assert {row[0] for row in rows} == expected
    assert "today" in expected and not {"acked", "answered"} & expected


def test_the_mood_query_gives_the_report_temperature(tmp_path):
    world = World(tmp_path / "w")
    recent = store.utcnow() - dt.timedelta(minutes=10)
    for compound in (-0.8, -0.6, 0.4):
        world.mention("Quillfeather now", compound=compound, seen=recent)
    rows = list(world.db.query(metadata()["queries"]["mood_by_day"]["sql"]))
    today = next(row for row in rows if row["day"] == recent.strftime("%Y-%m-%d"))
    assert (today["mentions"], today["negative"], today["positive"], today["neutral"]) == (3, 2, 1, 0)
    assert today["temperature"] == round(mood.temperature(2, 3))


def test_every_canned_query_runs(tmp_path):
    world = World(tmp_path / "w")
    a_busy_week(world)
    world.feed_state("Forum", consecutive_errors=3, status="error", last_error="timeout")
    for name, query in metadata()["queries"].items():
        cursor = world.db.execute(query["sql"])
        assert cursor.description, name
        assert query.get("title"), name
