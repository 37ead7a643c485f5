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
