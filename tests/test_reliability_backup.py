"""Issue 14.2: a corrupt copy never replaces a good backup; the start-up check sees index corruption."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli

from listener import store

REPO = Path(__file__).resolve().parents[1]


def listener(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return run_cli(*args, config=config, timeout=timeout)


@pytest.fixture
def real_db(tmp_path) -> Path:
    """The shipped sample feeds polled into a real database file by the real CLI."""
    shutil.copy(REPO / "feeds.yaml", tmp_path / "feeds.yaml")
    shutil.copytree(REPO / "sample", tmp_path / "sample")
    polled = listener(tmp_path / "feeds.yaml", "poll", "--all")
    assert polled.returncode == 0, polled.stderr
    return tmp_path / "listener.db"


def _index_leaf(path: Path) -> tuple[int, int]:
    """(page number, page size) of the index leaf page with the most cells."""
    with sqlite3.connect(path) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        pages = [(cells, page) for name, page, cells in
                 conn.execute("SELECT name, pageno, ncell FROM dbstat WHERE pagetype = 'leaf'") if name in indexes]
    cells, page = max(pages)
    assert cells >= 4
    return page, size


def damage_index(path: Path, how: str) -> None:
    """Zero an index page, or reverse its cell pointers (its entries out of order: quick_check passes that)."""
    page, size = _index_leaf(path)
    with open(path, "r+b") as file:
        offset = (page - 1) * size
        file.seek(offset)
        data = bytearray(file.read(size))
        if how == "zeroed":
            data[:] = bytes(size)
        else:
            cells = struct.unpack(">H", data[3:5])[0]
            pointers = [bytes(data[8 + 2 * i:10 + 2 * i]) for i in range(cells)]
            data[8:8 + 2 * cells] = b"".join(reversed(pointers))
        file.seek(offset)
        file.write(data)


@pytest.mark.parametrize("how", ["zeroed", "out_of_order"])
def test_start_up_check_catches_a_damaged_index_page_in_a_copy_of_a_real_database(real_db, tmp_path, how):
    copy = tmp_path / "damaged.db"
    shutil.copy(real_db, copy)
    damage_index(copy, how)
    with sqlite3.connect(copy) as conn:
        if how == "out_of_order":
            assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"  # why quick_check is not enough
    status = store.quick_check(store.open_db(copy)) if how == "out_of_order" else _check_raw(copy)
    assert status != "ok"
    assert store.quick_check(store.open_db(real_db)) == "ok"


def _check_raw(path: Path) -> str:
    """A zeroed page may stop open_db's migrations; check the file through a bare connection then."""
    try:
        db = store.open_db(path)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return store.quick_check(db)


@pytest.mark.parametrize("how", ["zeroed", "out_of_order"])
def test_backup_of_a_damaged_database_never_replaces_the_good_backup(real_db, tmp_path, how):
    config = tmp_path / "feeds.yaml"
    target = tmp_path / "backups" / "nightly.db"
    target.parent.mkdir()
    first = listener(config, "backup", str(target))
    assert first.returncode == 0, first.stderr
    good = target.read_bytes()

    damage_index(real_db, how)
    second = listener(config, "backup", str(target))
    assert second.returncode != 0
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    assert target.read_bytes() == good
    assert sorted(p.name for p in target.parent.iterdir()) == ["nightly.db"]  # no partial copy left
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_daemon_start_up_logs_an_index_it_finds_damaged(real_db, tmp_path):
    damage_index(real_db, "out_of_order")
    daemon = subprocess.Popen([sys.executable, "-m", "listener", "--config", str(tmp_path / "feeds.yaml"), "run"],
                              stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        deadline = time.monotonic() + 60
        assert daemon.stderr is not None
        while time.monotonic() < deadline:
            line = daemon.stderr.readline()
            if not line:
                break
            seen.append(line)
            if "daemon started" in line:
                break
        assert any("fails its quick check" in line for line in seen), seen
    finally:
        os.kill(daemon.pid, signal.SIGTERM)
        daemon.communicate(timeout=60)
