"""The connection and the write transaction every store module uses.

Writes go through `write()`, which takes the write lock up front (BEGIN IMMEDIATE): a deferred
transaction that reads and then writes can fail at once with "database is locked" when another
process writes (RELIABILITY E2). The per-poll writes are plain parameterised SQL inside that one
transaction, because sqlite-utils' own `with conn:` blocks would commit half-way through it.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils

BUSY_TIMEOUT_MS = 30_000
MAX_ERROR_CHARS = 10_000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)



@contextmanager
def write(db: sqlite_utils.Database, *, attempts: int = 3) -> Iterator[sqlite_utils.Database]:
    """One write transaction that holds the write lock from its first statement.

    SQLITE_BUSY on BEGIN is retried with jitter; the busy timeout already waited before that.
    """
    for attempt in range(attempts):
        try:
            db.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + random.random() * 0.2)
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")

