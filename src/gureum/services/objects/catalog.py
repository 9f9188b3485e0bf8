"""The object store's catalog in SQLite (WAL): buckets, objects, multipart uploads and parts,
and buckets' notification configurations.

A row is written only after its file is in place, in the same transaction that reads the row it
replaces; the caller deletes the replaced file after the commit. Keys compare as UTF-8 bytes
(SQLite's BINARY collation on UTF-8 text), which is S3's listing order.

Methods block: callers on the event loop run them in a worker thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ...store.sqlite import SqliteStore
from .errors import BucketAlreadyOwnedByYou, BucketNotEmpty, NoSuchBucket, NoSuchKey, NoSuchUpload
from .types import Attributes, Bucket, Checksum, ObjectInfo, Part, Upload

MIGRATIONS = [
    [
        """CREATE TABLE buckets (
            name TEXT PRIMARY KEY,
            created REAL NOT NULL,
            notification TEXT NOT NULL DEFAULT '[]'
        ) WITHOUT ROWID""",
        """CREATE TABLE objects (
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            file TEXT NOT NULL,
            size INTEGER NOT NULL,
            etag TEXT NOT NULL,
            last_modified REAL NOT NULL,
            content_type TEXT NOT NULL,
            metadata TEXT NOT NULL,
            headers TEXT NOT NULL,
            checksum_algorithm TEXT NOT NULL,
            checksum TEXT NOT NULL,
            checksum_type TEXT NOT NULL,
            parts INTEGER NOT NULL,
            PRIMARY KEY (bucket, key)
        ) WITHOUT ROWID""",
        """CREATE TABLE uploads (
            upload_id TEXT PRIMARY KEY,
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            initiated REAL NOT NULL,
            content_type TEXT NOT NULL,
            metadata TEXT NOT NULL,
            headers TEXT NOT NULL,
            checksum_algorithm TEXT NOT NULL,
            checksum_type TEXT NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX uploads_by_key ON uploads (bucket, key)",
        """CREATE TABLE parts (
            upload_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            file TEXT NOT NULL,
            size INTEGER NOT NULL,
            etag TEXT NOT NULL,
            last_modified REAL NOT NULL,
            checksum TEXT NOT NULL,
            PRIMARY KEY (upload_id, number)
        ) WITHOUT ROWID""",
    ],
    [
        # S3 events written in the transaction of the change they report, and removed once
        # handed to the notifier: a crash in between cannot lose one.
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            target TEXT NOT NULL,
            payload BLOB NOT NULL
        )""",
    ],
]
# An S3 event for one notification target: (its ARN, the event's JSON).
Event = tuple[str, bytes]

_OBJECT_COLUMNS = (
    "bucket, key, file, size, etag, last_modified, content_type, metadata, headers, "
    "checksum_algorithm, checksum, checksum_type, parts"
)
_UPLOAD_COLUMNS = (
    "upload_id, bucket, key, initiated, content_type, metadata, headers, checksum_algorithm, "
    "checksum_type"
)
_PART_COLUMNS = "number, size, etag, last_modified, checksum, file"


class Catalog(SqliteStore):
    def __init__(self, path: Path, *, fsync: bool) -> None:
        super().__init__(path, MIGRATIONS)
        if fsync:
            # FULL: a commit is on disk before the writer hears of it (survives power loss).
            with self._lock:
                self._conn.execute("PRAGMA synchronous=FULL")

    # Buckets

    def buckets(self) -> list[Bucket]:
        with self._lock:
            rows = self._conn.execute("SELECT name, created FROM buckets ORDER BY name")
            return [Bucket(name, created) for name, created in rows]

    def notifications(self) -> dict[str, str]:
        """Every bucket's notification configuration (JSON), by bucket name."""
        with self._lock:
            return dict(self._conn.execute("SELECT name, notification FROM buckets"))

    def create_bucket(self, name: str, created: float) -> None:
        with self._transaction() as conn:
            try:
                conn.execute("INSERT INTO buckets (name, created) VALUES (?, ?)", (name, created))
            except sqlite3.IntegrityError:
                raise BucketAlreadyOwnedByYou(
                    "Your previous request to create the named bucket succeeded and you already "
                    "own it.",
                    BucketName=name,
                ) from None

    def delete_bucket(self, name: str) -> list[str]:
        """Deletes an empty bucket and its unfinished uploads; the files to delete after."""
        with self._transaction() as conn:
            _require_bucket(conn, name)
            if conn.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise BucketNotEmpty("The bucket you tried to delete is not empty", BucketName=name)
            files = [
                file
                for (file,) in conn.execute(
                    "SELECT p.file FROM parts p JOIN uploads u USING (upload_id) "
                    "WHERE u.bucket = ?",
                    (name,),
                )
            ]
            conn.execute(
                "DELETE FROM parts WHERE upload_id IN "
                "(SELECT upload_id FROM uploads WHERE bucket = ?)",
                (name,),
            )
            conn.execute("DELETE FROM uploads WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))
            return files

    def set_notification(self, name: str, configuration: str) -> None:
        with self._transaction() as conn:
            _require_bucket(conn, name)
            conn.execute(
                "UPDATE buckets SET notification = ? WHERE name = ?", (configuration, name)
            )

    # Objects

    def get(self, bucket: str, key: str) -> ObjectInfo:
        """NoSuchKey (or NoSuchBucket) if there is no such object."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key = ?",
                (bucket, key),
            ).fetchone()
            if row is None:
                _require_bucket(self._conn, bucket)
                raise NoSuchKey("The specified key does not exist.", Key=key)
        return _object(row)

    def put(
        self, info: ObjectInfo, *, upload_id: str | None = None, events: Sequence[Event] = ()
    ) -> list[str]:
        """Commits ``info`` over any object of its key, with the ``events`` that report it; the
        files to delete after (the one it replaced; with ``upload_id``, that upload's parts,
        which it finishes)."""
        with self._transaction() as conn:
            _queue_events(conn, events)
            _require_bucket(conn, info.bucket)
            files = [
                file
                for (file,) in conn.execute(
                    "SELECT file FROM objects WHERE bucket = ? AND key = ?", (info.bucket, info.key)
                )
            ]
            if upload_id is not None:
                files += _finish_upload(conn, upload_id)
            checksum = info.checksum or Checksum("", "", "")
            a = info.attributes
            conn.execute(
                f"INSERT OR REPLACE INTO objects ({_OBJECT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    info.bucket,
                    info.key,
                    info.file,
                    info.size,
                    info.etag,
                    info.last_modified,
                    a.content_type,
                    json.dumps(a.metadata),
                    json.dumps(a.headers),
                    checksum.algorithm,
                    checksum.value,
                    checksum.type,
                    info.parts,
                ),
            )
            return files

    def delete(self, bucket: str, key: str, events: Sequence[Event] = ()) -> str | None:
        """Deletes the object if there is one, with the ``events`` that report it; its file (to
        delete after), or None."""
        with self._transaction() as conn:
            _require_bucket(conn, bucket)
            rows = conn.execute(
                "DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING file", (bucket, key)
            ).fetchall()
            if rows:
                _queue_events(conn, events)
            return rows[0][0] if rows else None

    def pending_events(self) -> list[tuple[int, str, bytes]]:
        with self._lock:
            return self._conn.execute(
                "SELECT id, target, payload FROM outbox ORDER BY id"
            ).fetchall()

    def events_handed_over(self, ids: Sequence[int]) -> None:
        with self._transaction() as conn:
            conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def scan(self, bucket: str, after: str, prefix: str) -> Iterator[ObjectInfo]:
        """Objects of ``bucket`` with keys after ``after`` and starting with ``prefix``, in key
        order, read in batches (the lock is not held between batches)."""
        lower = max(after, prefix)
        inclusive = lower == prefix and prefix > after
        first = True
        while True:
            with self._lock:
                if first:
                    _require_bucket(self._conn, bucket)
                op = ">=" if inclusive else ">"
                rows = self._conn.execute(
                    f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key {op} ? "
                    "ORDER BY key LIMIT 1000",
                    (bucket, lower),
                ).fetchall()
            first = False
            for row in rows:
                if not row[1].startswith(prefix):
                    return
                yield _object(row)
            if len(rows) < 1000:
                return
            lower, inclusive = rows[-1][1], False

    # Multipart uploads

    def create_upload(self, upload: Upload) -> None:
        with self._transaction() as conn:
            _require_bucket(conn, upload.bucket)
            a = upload.attributes
            conn.execute(
                f"INSERT INTO uploads ({_UPLOAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload.upload_id,
                    upload.bucket,
                    upload.key,
                    upload.initiated,
                    a.content_type,
                    json.dumps(a.metadata),
                    json.dumps(a.headers),
                    upload.checksum_algorithm,
                    upload.checksum_type,
                ),
            )

    def upload(self, bucket: str, key: str, upload_id: str) -> Upload:
        """NoSuchUpload unless ``upload_id`` is an unfinished upload of this bucket and key."""
        with self._lock:
            return _upload(self._conn, bucket, key, upload_id)

    def put_part(self, bucket: str, key: str, upload_id: str, part: Part) -> str | None:
        """Commits a part over any of the same number; the replaced part's file, or None."""
        with self._transaction() as conn:
            _upload(conn, bucket, key, upload_id)
            row = conn.execute(
                "SELECT file FROM parts WHERE upload_id = ? AND number = ?",
                (upload_id, part.number),
            ).fetchone()
            conn.execute(
                f"INSERT OR REPLACE INTO parts (upload_id, {_PART_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    upload_id,
                    part.number,
                    part.size,
                    part.etag,
                    part.last_modified,
                    part.checksum,
                    part.file,
                ),
            )
            return row[0] if row else None

    def parts(self, upload_id: str, after: int = 0, limit: int = 10_000) -> list[Part]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_PART_COLUMNS} FROM parts WHERE upload_id = ? AND number > ? "
                "ORDER BY number LIMIT ?",
                (upload_id, after, limit),
            )
            return [Part(*row) for row in rows]

    def abort(self, bucket: str, key: str, upload_id: str) -> list[str]:
        """Forgets an upload; its parts' files, to delete after."""
        with self._transaction() as conn:
            _upload(conn, bucket, key, upload_id)
            return _finish_upload(conn, upload_id)

    def files(self) -> set[str]:
        """Every data file a row points to."""
        with self._lock:
            rows = self._conn.execute("SELECT file FROM objects UNION ALL SELECT file FROM parts")
            return {file for (file,) in rows}


def _queue_events(conn: sqlite3.Connection, events: Sequence[Event]) -> None:
    conn.executemany("INSERT INTO outbox (target, payload) VALUES (?, ?)", events)


def _require_bucket(conn: sqlite3.Connection, name: str) -> None:
    if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
        raise NoSuchBucket("The specified bucket does not exist", BucketName=name)


def _upload(conn: sqlite3.Connection, bucket: str, key: str, upload_id: str) -> Upload:
    row = conn.execute(
        f"SELECT {_UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
        (upload_id, bucket, key),
    ).fetchone()
    if row is None:
        _require_bucket(conn, bucket)
        raise NoSuchUpload(
            "The specified upload does not exist. The upload ID may be invalid, or the upload "
            "may have been aborted or completed.",
            UploadId=upload_id,
        )
    upload_id, bucket, key, initiated, content_type, metadata, headers, algorithm, kind = row
    attributes = Attributes(content_type, json.loads(metadata), json.loads(headers))
    return Upload(upload_id, bucket, key, initiated, attributes, algorithm, kind)


def _finish_upload(conn: sqlite3.Connection, upload_id: str) -> list[str]:
    rows = conn.execute("DELETE FROM parts WHERE upload_id = ? RETURNING file", (upload_id,))
    files = [file for (file,) in rows.fetchall()]
    if conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,)).rowcount == 0:
        raise NoSuchUpload(
            "The specified upload does not exist. The upload ID may be invalid, or the upload "
            "may have been aborted or completed.",
            UploadId=upload_id,
        )
    return files


def _object(row: tuple[Any, ...]) -> ObjectInfo:
    (bucket, key, file, size, etag, last_modified, content_type, metadata, headers) = row[:9]
    algorithm, value, kind, parts = row[9:]
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=size,
        etag=etag,
        last_modified=last_modified,
        attributes=Attributes(content_type, json.loads(metadata), json.loads(headers)),
        checksum=Checksum(algorithm, value, kind) if algorithm else None,
        parts=parts,
        file=file,
    )
