"""Function URL configs and HTTP routes, in their own SQLite file (``http.db``).

Kept apart from the registry: the user-facing listener's state changes on its own schedule, and
a deploy that replaces an owner's routes is one transaction here, whatever the registry is doing.
A URL config is stored whole as JSON beside the columns its lookups need, as the registry does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .sqlite import SqliteStore

# MIGRATIONS[n] takes a database from user_version n to n + 1. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE urls (
            function  TEXT NOT NULL,
            qualifier TEXT NOT NULL,  -- '' for the unqualified function ($LATEST)
            url_id    TEXT NOT NULL UNIQUE,
            config    TEXT NOT NULL,
            PRIMARY KEY (function, qualifier)
        )
        """,
        """
        CREATE TABLE routes (
            key            TEXT PRIMARY KEY,
            owner          TEXT NOT NULL,
            target         TEXT NOT NULL,
            function       TEXT NOT NULL,
            payload_format TEXT NOT NULL,
            position       INTEGER NOT NULL
        )
        """,
        "CREATE INDEX routes_owner ON routes (owner)",
        "CREATE INDEX routes_function ON routes (function)",
    ),
)

# (owner, key, target, function, payload format), in the order the owner gave them.
RouteRow = tuple[str, str, str, str, str]


class HttpStore(SqliteStore):
    """Every method may be called from any thread; each is one transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, MIGRATIONS)

    def list_urls(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute("SELECT config FROM urls ORDER BY function, qualifier")
            return [json.loads(text) for (text,) in rows.fetchall()]

    def put_url(self, function: str, qualifier: str, url_id: str, config: dict[str, Any]) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO urls (function, qualifier, url_id, config) "
                "VALUES (?, ?, ?, ?)",
                (function, qualifier, url_id, json.dumps(config)),
            )

    def delete_url(self, function: str, qualifier: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM urls WHERE function = ? AND qualifier = ?", (function, qualifier)
            )

    def list_routes(self) -> list[RouteRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT owner, key, target, function, payload_format FROM routes "
                "ORDER BY owner, position"
            )
            return [(o, k, t, f, p) for o, k, t, f, p in rows.fetchall()]

    def replace_routes(self, owner: str, rows: list[RouteRow]) -> None:
        """The owner's routes become exactly ``rows`` (none: the owner is gone)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM routes WHERE owner = ?", (owner,))
            conn.executemany(
                "INSERT INTO routes (owner, key, target, function, payload_format, position) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(*row, position) for position, row in enumerate(rows)],
            )

    def delete_function(self, function: str) -> None:
        """Forget a deleted function's URL configs and the routes that target it."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM urls WHERE function = ?", (function,))
            conn.execute("DELETE FROM routes WHERE function = ?", (function,))
