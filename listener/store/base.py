"""The connection and the write transaction every store module uses.

Writes go through `write()`, which takes the write lock up front (BEGIN IMMEDIATE): a deferred
transaction that reads and then writes can fail at once with "database is locked" when another
process writes (RELIABILITY E2). The per-poll writes are plain parameterised SQL inside that one
transaction, because sqlite-utils' own `with conn:` blocks would commit half-way through it.

A poll cycle writes many small units (one feed each) through a `WriteGroup`: one transaction for
many feeds, each feed's write a SAVEPOINT inside it, so a feed whose write fails rolls back alone
and one COMMIT (one fsync) covers the group.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from listener.errors import StoreError

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 30_000
MAX_ERROR_CHARS = 10_000


GROUP_UNITS = 200  # a WriteGroup commits after this many units...
GROUP_SECONDS = 0.5  # ...or once its transaction is this old, whichever comes first


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Queries(Protocol):
    """What a read needs of a connection: sqlite_utils.Database has it, and so has the lighter
    ReadConnection that `listener mentions` and `listener feeds` use."""

    def execute(self, sql: str, parameters: Any = ..., /) -> sqlite3.Cursor: ...

    def query(self, sql: str, params: Any = ..., /) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class ReadConnection:
    """A plain sqlite3 connection with sqlite-utils' `query` (rows as dicts) for the read commands:
    making a sqlite_utils.Database costs ~70 ms (its import, then its plugin scan of every installed
    package), most of a command whose query takes a millisecond."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters)

    def query(self, sql: str, params: Any = (), /) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(sql, params or ())
        keys = [column[0] for column in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row))

    def close(self) -> None:
        self.conn.close()


def _begin(db: sqlite_utils.Database, attempts: int = 3) -> None:
    """BEGIN IMMEDIATE; SQLITE_BUSY is retried with jitter (the busy timeout already waited before that)."""
    for attempt in range(attempts):
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + random.random() * 0.2)


@contextmanager
def write(db: sqlite_utils.Database, *, attempts: int = 3) -> Iterator[sqlite_utils.Database]:
    """One write transaction that holds the write lock from its first statement.

    Inside a transaction already open (a WriteGroup's) it is a SAVEPOINT instead: its statements
    roll back alone on an error, and become durable with the group's COMMIT.
    """
    if db.conn.in_transaction:
        db.execute("SAVEPOINT unit")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:  # SQLite may already have rolled the whole transaction back
                db.execute("ROLLBACK TO unit")
                db.execute("RELEASE unit")
            raise
        db.execute("RELEASE unit")
        return
    _begin(db, attempts)
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class WriteGroup:
    """Many units of writes (one feed's poll each) in one transaction, committed every
    `units` units or `seconds` seconds, and whenever the caller is about to wait (`commit()`).

        group = WriteGroup(db)
        group.open()                  # before a unit: its write() calls become savepoints
        store.save_poll(db, ...)
        if group.done_unit(): ...     # True when that unit's group was committed

    A unit's own failure rolls back only its savepoint. A failed COMMIT loses the whole group,
    and the units it held are reported by `commit()` raising, so the caller can tell them apart.
    """

    def __init__(self, db: sqlite_utils.Database, *, units: int = GROUP_UNITS,
                 seconds: float = GROUP_SECONDS) -> None:
        self.db = db
        self.units = units
        self.seconds = seconds
        self._count = 0
        self._opened: float | None = None

    def open(self) -> None:
        """Make sure the group's transaction is open (it takes the write lock)."""
        if self._opened is None:
            _begin(self.db)
            self._opened = time.monotonic()

    def done_unit(self) -> bool:
        """Count one finished unit (stored or failed); commit when the group is full or old enough.

        True if committed. Raises StoreError when the group was lost: SQLite rolls the whole
        transaction back on some errors (a full disk), and a failed COMMIT loses it too.
        """
        self._count += 1
        if self._opened is not None and not self.db.conn.in_transaction:
            self._opened, self._count = None, 0
            raise StoreError("SQLite rolled back the transaction of the feeds stored with this one")
        if self._count >= self.units or time.monotonic() - (self._opened or 0.0) >= self.seconds:
            self.commit()
            return True
        return False

    def commit(self) -> None:
        """Commit what the group holds (nothing to do when it holds nothing)."""
        if self._opened is None:
            return
        self._opened, self._count = None, 0
        if not self.db.conn.in_transaction:
            raise StoreError("SQLite rolled back the transaction of these feeds")
        try:
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):  # a full disk at COMMIT: the group's units are lost, stated once
                raise StoreError(f"could not commit the feeds stored together: {exc}") from exc
            raise

    def rollback(self) -> None:
        self._opened, self._count = None, 0
        if self.db.conn.in_transaction:
            self.db.execute("ROLLBACK")

