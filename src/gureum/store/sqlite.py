"""The SQLite plumbing gureum's stores share: one WAL connection, transactions, migrations.

Methods are synchronous; callers on the event loop run them in a worker thread, so the one
connection is shared between threads behind a lock. Telemetry, whose connection lives on one
thread of its own, uses ``transaction()`` and ``migrate()`` directly.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

# How long a write waits for another process's write lock before failing with "database is
# locked"; writes are short, so anything near this means something is stuck.
BUSY_TIMEOUT_S = 10.0

# MIGRATIONS[n] takes a database from user_version n to n + 1. Append, never edit: a file
# created by an older gureum replays only the steps it has not seen.
Migrations = Sequence[Sequence[str]]


class SchemaTooNewError(RuntimeError):
    """The file was written by a newer gureum: refuse rather than misread it."""


class SqliteStore:
    def __init__(self, path: Path, migrations: Migrations, *, foreign_keys: bool = False) -> None:
        self._lock = threading.Lock()
        # isolation_level=None: no implicit transactions; _transaction() says BEGIN itself.
        self._conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # Under WAL, NORMAL loses at most the last commits on power loss, never consistency.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            if foreign_keys:
                # Per connection and off by default; cascades depend on it.
                self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(path.name, migrations)
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, transaction(self._conn) as conn:
            yield conn

    def _migrate(self, what: str, migrations: Migrations) -> None:
        with self._lock:
            migrate(self._conn, what, migrations)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on a connection opened with ``isolation_level=None``."""
    # IMMEDIATE takes the write lock up front, so a read-then-write cannot be overtaken by
    # another process between the two.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # Also after a failed COMMIT, so the next BEGIN does not find a transaction open.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection, what: str, migrations: Migrations) -> None:
    """Bring the file to ``len(migrations)``, one step per transaction.

    Raises SchemaTooNewError for a file a newer gureum wrote."""
    latest = len(migrations)
    while True:
        with transaction(conn):
            # Read inside the transaction: another process may have migrated meanwhile.
            (current,) = conn.execute("PRAGMA user_version").fetchone()
            if current > latest:
                raise SchemaTooNewError(
                    f"{what} schema version {current} is newer than this gureum's ({latest})"
                )
            if current == latest:
                return
            for statement in migrations[current]:
                conn.execute(statement)
            # PRAGMA takes no parameters; the value is an int we computed.
            conn.execute(f"PRAGMA user_version={current + 1}")
