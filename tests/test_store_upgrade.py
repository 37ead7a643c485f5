"""A database made by listener 0.1 upgrades in place: migrations renumbered, nothing run twice, nothing lost."""

from __future__ import annotations

import shutil
from pathlib import Path

from listener import store
from listener.store.schema import MIGRATIONS, migration_name

LEGACY = Path(__file__).parent / "data" / "legacy" / "listener-0.1.db"


def test_a_0_1_database_upgrades_and_keeps_its_items_threads_and_acks(tmp_path):
    path = tmp_path / "listener.db"
    shutil.copy(LEGACY, path)
    db = store.open_db(path)
    try:
        names = [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY name")]
        assert names == [migration_name(n, m) for n, m in enumerate(MIGRATIONS, 1)]
        assert store.pending(db) == []
        assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 47
        assert db.execute("SELECT count(*) FROM acks WHERE note = 'answered on the forum'").fetchone()[0] == 1
        assert [c for c in db["acks"].columns_dict].count("last_item_id") == 1
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_opening_an_upgraded_database_again_changes_nothing(tmp_path):
    path = tmp_path / "listener.db"
    shutil.copy(LEGACY, path)
    store.open_db(path).close()
    db = store.open_db(path)
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    store.migrate(db)
    db.close()
    assert not [s for s in statements if s.startswith(("BEGIN", "INSERT", "UPDATE", "CREATE", "ALTER"))]


def test_a_read_command_upgrades_an_old_database_before_it_reads(tmp_path):
    """`mentions` and `feeds` open a plain connection; one with a migration pending goes through open_db."""
    path = tmp_path / "listener.db"
    shutil.copy(LEGACY, path)
    reader = store.open_reader(path)
    try:
        assert store.pending(reader) == []
        assert len(store.mentions(reader, limit=None)) == reader.execute(
            "SELECT count(*) FROM items WHERE is_hit = 1").fetchone()[0]
    finally:
        reader.close()


def test_the_reader_of_a_current_database_writes_nothing(tmp_path):
    path = tmp_path / "listener.db"
    store.open_db(path).close()
    reader = store.open_reader(path)
    assert isinstance(reader, store.ReadConnection)
    statements: list[str] = []
    reader.conn.set_trace_callback(statements.append)
    store.mentions(reader)
    store.feed_health(reader, include_comment_feeds=True)
    reader.close()
    assert statements and all(s.lstrip().upper().startswith(("SELECT", "PRAGMA")) for s in statements), statements
