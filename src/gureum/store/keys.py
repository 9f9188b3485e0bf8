"""Access keys for signed (SigV4) requests, in one SQLite file beside a key-encryption key.

Layout under ``data_dir``::

    keys.db       id, description, creation time, and the secret encrypted (Fernet)
    keys.secret   the key-encryption key, mode 0600, created on first use

SigV4 checks a signature by deriving the signing key from the secret itself, so a hash of the
secret cannot work: the secret is kept encrypted, and readable only with ``keys.secret``. A copy
of ``keys.db`` alone (a backup, a bug report) gives nothing away.

The server looks secrets up on every signed request, so ``secret_for`` answers from memory and
re-reads the file only when another process (``gureum keys create|delete``) committed a change,
checked at most once per ``refresh_interval_s``.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime
import os
import secrets
import sqlite3
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .sqlite import SqliteStore

DB_NAME = "keys.db"
KEK_NAME = "keys.secret"

ID_PREFIX = "GKIA"
_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = len(ID_PREFIX) + 16
SECRET_LENGTH = 40

# MIGRATIONS[n] takes the file from user_version n to n + 1. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE keys (
            id          TEXT PRIMARY KEY,
            secret      BLOB NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            created     TEXT NOT NULL
        )
        """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class AccessKey:
    """What may be shown about a key: never its secret."""

    id: str
    description: str
    created: str  # ISO 8601, UTC


def new_key_id() -> str:
    return ID_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret() -> str:
    # Letters and digits only (AWS's also use + and /): 238 bits, and safe in any shell.
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


def open_kek(path: Path) -> Fernet:
    """The key-encryption key at ``path``, created (mode 0600) if there is none yet."""
    with contextlib.suppress(FileNotFoundError):
        return Fernet(path.read_bytes().strip())
    # Written whole under a private name, then linked into place: a concurrent creator either
    # wins or reads the winner's key, and nobody ever reads half a key.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(Fernet.generate_key() + b"\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()
    return Fernet(path.read_bytes().strip())


class KeyStore(SqliteStore):
    """Access keys of one data dir. Every method may be called from any thread."""

    def __init__(
        self,
        data_dir: Path,
        *,
        refresh_interval_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._fernet = open_kek(data_dir / KEK_NAME)
        self._refresh_interval_s = refresh_interval_s
        self._monotonic = monotonic
        super().__init__(data_dir / DB_NAME, MIGRATIONS)
        try:
            self._secrets: dict[str, str] = {}
            self._data_version = -1
            self._next_check = 0.0
            self._reload_if_changed()
        except BaseException:
            self._conn.close()
            raise

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _encrypt(self, key_id: str, secret: str) -> bytes:
        # The id goes in with the secret, so a ciphertext moved to another row does not decrypt.
        return self._fernet.encrypt(f"{key_id}:{secret}".encode())

    def _decrypt(self, key_id: str, token: bytes) -> str | None:
        try:
            owner, _, secret = self._fernet.decrypt(token).decode().partition(":")
        except InvalidToken:
            return None
        return secret if owner == key_id else None

    def create(self, description: str = "") -> tuple[str, str]:
        """A new key: returns (id, secret). The secret is not shown again by anything."""
        secret = new_secret()
        created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        while True:
            key_id = new_key_id()
            try:
                with self._transaction() as conn:
                    conn.execute(
                        "INSERT INTO keys (id, secret, description, created) VALUES (?, ?, ?, ?)",
                        (key_id, self._encrypt(key_id, secret), description, created),
                    )
            except sqlite3.IntegrityError:  # pragma: no cover - 36**16 ids
                continue
            with self._lock:
                self._secrets[key_id] = secret
            return key_id, secret

    def list(self) -> builtins.list[AccessKey]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, description, created FROM keys ORDER BY created, id"
            ).fetchall()
        return [AccessKey(*row) for row in rows]

    def delete(self, key_id: str) -> bool:
        """False if there was no such key."""
        with self._transaction() as conn:
            deleted = conn.execute("DELETE FROM keys WHERE id = ?", (key_id,)).rowcount
            self._secrets.pop(key_id, None)
        return deleted > 0

    def secret_for(self, key_id: str) -> str | None:
        """The secret of ``key_id``, or None if no such key; from memory (see the module doc)."""
        now = self._monotonic()
        if now >= self._next_check:
            self._next_check = now + self._refresh_interval_s
            self._reload_if_changed()
        return self._secrets.get(key_id)

    def _reload_if_changed(self) -> None:
        with self._lock:
            # Changes only when another connection committed: no read of the table otherwise.
            (version,) = self._conn.execute("PRAGMA data_version").fetchone()
            if version == self._data_version:
                return
            rows = self._conn.execute("SELECT id, secret FROM keys").fetchall()
            self._data_version = version
            loaded = {key_id: self._decrypt(key_id, token) for key_id, token in rows}
            # A row that does not decrypt (another keys.secret) is as good as absent.
            self._secrets = {k: v for k, v in loaded.items() if v is not None}
