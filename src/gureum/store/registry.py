"""The registry: every function's configuration, in one SQLite file.

Methods are synchronous and short; the async callers run them in a worker thread, so one
connection is shared between threads behind a lock. WAL lets readers in other processes (the CLI)
look at the file while the server writes.

A function's configuration is stored whole as JSON, with the columns queries need (name, code
hash) copied out beside it: a new FunctionConfig field then needs no migration, and JSON
round-trips any ``str`` exactly (non-ASCII and lone surrogates are escaped, not re-encoded).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

from gureum.errors import ResourceConflictException, ResourceNotFoundException
from gureum.types import FunctionConfig

from .sqlite import SqliteStore

DEFAULT_ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"

# MIGRATIONS[n] takes a database from user_version n to n + 1. Append, never edit: a file
# created by an older gureum replays only the steps it has not seen.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE functions (
            name        TEXT PRIMARY KEY,
            code_sha256 TEXT NOT NULL,
            config      TEXT NOT NULL
        )
        """,
        "CREATE INDEX functions_code ON functions (code_sha256)",
        """
        CREATE TABLE versions (
            function    TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
            version     TEXT NOT NULL,
            config      TEXT NOT NULL,
            code_sha256 TEXT NOT NULL,
            created     TEXT NOT NULL,
            PRIMARY KEY (function, version)
        )
        """,
        "CREATE INDEX versions_code ON versions (code_sha256)",
        """
        CREATE TABLE aliases (
            function    TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
            name        TEXT NOT NULL,
            version     TEXT NOT NULL,
            routing     TEXT NOT NULL DEFAULT '{}',
            description TEXT NOT NULL DEFAULT '',
            revision_id TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (function, name)
        )
        """,
        """
        CREATE TABLE tags (
            function TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
            key      TEXT NOT NULL,
            value    TEXT NOT NULL,
            PRIMARY KEY (function, key)
        )
        """,
    ),
    (
        """
        CREATE TABLE layers (
            name        TEXT NOT NULL,
            version     INTEGER NOT NULL,
            code_sha256 TEXT NOT NULL,
            info        TEXT NOT NULL,
            PRIMARY KEY (name, version)
        )
        """,
        "CREATE INDEX layers_code ON layers (code_sha256)",
    ),
    (
        """
        CREATE TABLE provisioned (
            function      TEXT NOT NULL REFERENCES functions (name) ON DELETE CASCADE,
            qualifier     TEXT NOT NULL,
            count         INTEGER NOT NULL,
            last_modified TEXT NOT NULL,
            PRIMARY KEY (function, qualifier)
        )
        """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def _dump(cfg: FunctionConfig) -> str:
    data: dict[str, Any] = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    data["env"] = dict(cfg.env)  # any Mapping in, a plain JSON object out
    return json.dumps(data)


def _load(text: str) -> FunctionConfig:
    data = json.loads(text)
    data["layers"] = tuple(data.get("layers", ()))  # JSON has lists; the config holds a tuple
    return FunctionConfig(**data)


class Registry(SqliteStore):
    """Functions by name. Every method may be called from any thread; each is one transaction."""

    def __init__(self, path: Path, *, arn_prefix: str = DEFAULT_ARN_PREFIX) -> None:
        super().__init__(path, MIGRATIONS, foreign_keys=True)
        self._arn_prefix = arn_prefix

    def _not_found(self, name: str) -> ResourceNotFoundException:
        return ResourceNotFoundException(f"Function not found: {self._arn_prefix}{name}")

    def create_function(self, cfg: FunctionConfig) -> None:
        """Raises ResourceConflictException if a function of that name exists."""
        with self._transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO functions (name, code_sha256, config) VALUES (?, ?, ?)",
                    (cfg.name, cfg.code_sha256, _dump(cfg)),
                )
            except sqlite3.IntegrityError:
                raise ResourceConflictException(f"Function already exist: {cfg.name}") from None

    def get_function(self, name: str) -> FunctionConfig:
        """Raises ResourceNotFoundException if there is no such function."""
        with self._lock:
            row = self._conn.execute(
                "SELECT config FROM functions WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            raise self._not_found(name)
        return _load(row[0])

    def list_functions(self) -> list[FunctionConfig]:
        with self._lock:
            rows = self._conn.execute("SELECT config FROM functions ORDER BY name").fetchall()
        return [_load(text) for (text,) in rows]

    def update_function(self, cfg: FunctionConfig) -> None:
        """Replaces what is stored under ``cfg.name``; ResourceNotFoundException if nothing is."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE functions SET code_sha256 = ?, config = ? WHERE name = ?",
                (cfg.code_sha256, _dump(cfg), cfg.name),
            )
            if cursor.rowcount == 0:
                raise self._not_found(cfg.name)

    def delete_function(self, name: str) -> FunctionConfig:
        """Deletes the function with its versions, aliases and tags; returns its configuration
        so the caller can collect code no longer in use. ResourceNotFoundException if absent."""
        with self._transaction() as conn:
            # fetchall: the DELETE only completes once its RETURNING rows are all read.
            rows = conn.execute(
                "DELETE FROM functions WHERE name = ? RETURNING config", (name,)
            ).fetchall()
        if not rows:
            raise self._not_found(name)
        return _load(rows[0][0])

    def code_in_use(self, sha256: str) -> bool:
        """Whether any function or published version still references this code."""
        with self._lock:
            row = self._conn.execute(
                "SELECT EXISTS (SELECT 1 FROM functions WHERE code_sha256 = ?)"
                " OR EXISTS (SELECT 1 FROM versions WHERE code_sha256 = ?)"
                " OR EXISTS (SELECT 1 FROM layers WHERE code_sha256 = ?)",
                (sha256, sha256, sha256),
            ).fetchone()
        return bool(row[0])

    # -- published versions ---------------------------------------------------------------

    def publish_version(self, cfg: FunctionConfig) -> FunctionConfig:
        """Store ``cfg`` (a $LATEST snapshot) as the function's next version and return it
        with that version number set. ResourceNotFoundException if the function is gone."""
        with self._transaction() as conn:
            if (
                conn.execute("SELECT 1 FROM functions WHERE name = ?", (cfg.name,)).fetchone()
                is None
            ):
                raise self._not_found(cfg.name)
            (highest,) = conn.execute(
                "SELECT MAX(CAST(version AS INTEGER)) FROM versions WHERE function = ?", (cfg.name,)
            ).fetchone()
            published = dataclasses.replace(cfg, version=str((highest or 0) + 1))
            conn.execute(
                "INSERT INTO versions (function, version, config, code_sha256, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (cfg.name, published.version, _dump(published), cfg.code_sha256, cfg.last_modified),
            )
        return published

    def list_versions(self, name: str) -> list[FunctionConfig]:
        """The published versions of a function, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT config FROM versions WHERE function = ? ORDER BY CAST(version AS INTEGER)",
                (name,),
            ).fetchall()
        return [_load(text) for (text,) in rows]

    def delete_version(self, name: str, version: str) -> FunctionConfig:
        with self._transaction() as conn:
            rows = conn.execute(
                "DELETE FROM versions WHERE function = ? AND version = ? RETURNING config",
                (name, version),
            ).fetchall()
        if not rows:
            raise ResourceNotFoundException(
                f"Function not found: {self._arn_prefix}{name}:{version}"
            )
        return _load(rows[0][0])

    # -- aliases ---------------------------------------------------------------------------

    def put_alias(self, function: str, alias: dict[str, Any], *, create: bool) -> None:
        """Create (``create``) or replace an alias: a dict with Name, FunctionVersion,
        Description, RoutingConfig and RevisionId. Conflict or not-found errors as Lambda's."""
        row = (
            alias["FunctionVersion"],
            json.dumps(alias.get("RoutingConfig") or {}),
            alias.get("Description", ""),
            alias["RevisionId"],
            function,
            alias["Name"],
        )
        with self._transaction() as conn:
            if create:
                try:
                    conn.execute(
                        "INSERT INTO aliases (version, routing, description, revision_id,"
                        " function, name) VALUES (?, ?, ?, ?, ?, ?)",
                        row,
                    )
                except sqlite3.IntegrityError:
                    raise ResourceConflictException(
                        f"Alias already exists: {self._arn_prefix}{function}:{alias['Name']}"
                    ) from None
            else:
                conn.execute(
                    "UPDATE aliases SET version = ?, routing = ?, description = ?,"
                    " revision_id = ? WHERE function = ? AND name = ?",
                    row,
                )

    def list_aliases(self, function: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, version, routing, description, revision_id FROM aliases"
                " WHERE function = ? ORDER BY name",
                (function,),
            ).fetchall()
        return [
            {
                "Name": name,
                "FunctionVersion": version,
                "RoutingConfig": json.loads(routing),
                "Description": description,
                "RevisionId": revision,
            }
            for name, version, routing, description, revision in rows
        ]

    def delete_alias(self, function: str, name: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM aliases WHERE function = ? AND name = ?", (function, name))

    # -- layers ----------------------------------------------------------------------------

    def publish_layer_version(self, name: str, code_sha256: str, info: dict[str, Any]) -> int:
        """Store the next version of layer ``name``; returns its number (from 1)."""
        with self._transaction() as conn:
            (highest,) = conn.execute(
                "SELECT MAX(version) FROM layers WHERE name = ?", (name,)
            ).fetchone()
            version = (highest or 0) + 1
            conn.execute(
                "INSERT INTO layers (name, version, code_sha256, info) VALUES (?, ?, ?, ?)",
                (name, version, code_sha256, json.dumps({**info, "Version": version})),
            )
        return version

    def list_layer_versions(self) -> list[tuple[str, int, str, dict[str, Any]]]:
        """Every layer version: (name, version, code_sha256, info), by name then version."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, version, code_sha256, info FROM layers ORDER BY name, version"
            ).fetchall()
        return [(name, version, sha, json.loads(info)) for name, version, sha, info in rows]

    def delete_layer_version(self, name: str, version: int, *, keep_code: bool) -> None:
        """Delete a layer version; with ``keep_code``, only mark it deleted, so the functions
        that use it still find its code (as Lambda keeps a copy for them)."""
        with self._transaction() as conn:
            if keep_code:
                conn.execute(
                    "UPDATE layers SET info = json_set(info, '$.Deleted', json('true'))"
                    " WHERE name = ? AND version = ?",
                    (name, version),
                )
            else:
                conn.execute("DELETE FROM layers WHERE name = ? AND version = ?", (name, version))

    # -- provisioned concurrency -----------------------------------------------------------

    def put_provisioned(self, function: str, qualifier: str, count: int, modified: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO provisioned (function, qualifier, count, last_modified)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (function, qualifier)"
                " DO UPDATE SET count = excluded.count, last_modified = excluded.last_modified",
                (function, qualifier, count, modified),
            )

    def list_provisioned(self) -> list[tuple[str, str, int, str]]:
        """Every provisioned-concurrency setting: (function, qualifier, count, last modified)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT function, qualifier, count, last_modified FROM provisioned"
                " ORDER BY function, qualifier"
            ).fetchall()
        return [(f, q, int(c), m) for f, q, c, m in rows]

    def delete_provisioned(self, function: str, qualifier: str) -> None:
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM provisioned WHERE function = ? AND qualifier = ?",
                (function, qualifier),
            )

    # -- tags ------------------------------------------------------------------------------

    def tag(self, function: str, tags: dict[str, str]) -> None:
        with self._transaction() as conn:
            if (
                conn.execute("SELECT 1 FROM functions WHERE name = ?", (function,)).fetchone()
                is None
            ):
                raise self._not_found(function)
            conn.executemany(
                "INSERT INTO tags (function, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (function, key) DO UPDATE SET value = excluded.value",
                [(function, key, value) for key, value in tags.items()],
            )

    def untag(self, function: str, keys: list[str]) -> None:
        with self._transaction() as conn:
            conn.executemany(
                "DELETE FROM tags WHERE function = ? AND key = ?", [(function, k) for k in keys]
            )

    def tags(self, function: str) -> dict[str, str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, value FROM tags WHERE function = ? ORDER BY key", (function,)
            ).fetchall()
        return dict(rows)
