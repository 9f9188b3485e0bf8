"""queues.db: the queues and their messages on disk, and the writes that keep it current.

The database is the durable copy of what ``Queues`` holds in memory. Each function here is a job
for ``GroupCommitDb`` (it runs on the database's thread, inside the batch's transaction); the
caller queues it at the very moment it changes memory, so the disk sees changes in the order
memory saw them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from .state import QueueState, Stored

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE queues (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            attributes  TEXT NOT NULL,
            tags        TEXT NOT NULL,
            created_at  REAL NOT NULL,
            modified_at REAL NOT NULL
        )
        """,
        """
        CREATE TABLE messages (
            id                        INTEGER PRIMARY KEY,
            queue_id                  INTEGER NOT NULL,
            message_id                TEXT NOT NULL,
            body                      TEXT NOT NULL,
            md5_of_body               TEXT NOT NULL,
            message_attributes        TEXT,
            md5_of_message_attributes TEXT,
            system_attributes         TEXT NOT NULL,
            sent_at                   REAL NOT NULL,
            visible_at                REAL NOT NULL,
            receive_count             INTEGER NOT NULL DEFAULT 0,
            first_received_at         REAL
        )
        """,
        "CREATE INDEX messages_queue ON messages (queue_id)",
        # FIFO queues: deduplication ids seen in the last five minutes, and the last sequence
        # number handed out per queue.
        """
        CREATE TABLE deduplication (
            queue_id        INTEGER NOT NULL,
            scope           TEXT NOT NULL,
            dedup_id        TEXT NOT NULL,
            message_id      TEXT NOT NULL,
            sequence_number TEXT NOT NULL,
            expires_at      REAL NOT NULL,
            PRIMARY KEY (queue_id, scope, dedup_id)
        )
        """,
        "CREATE INDEX deduplication_expiry ON deduplication (expires_at)",
        "CREATE TABLE sequences (queue_id INTEGER PRIMARY KEY, last INTEGER NOT NULL)",
    ),
)


@dataclass(frozen=True, slots=True)
class Loaded:
    queues: list[QueueState]
    messages: list[tuple[int, Stored]]  # (queue id, message), in row order
    deduplication: list[tuple[int, str, str, str, str, float]]
    sequences: dict[int, int]


def load(conn: sqlite3.Connection) -> Loaded:
    queues = [
        QueueState(
            id=row[0],
            name=row[1],
            arn="",  # set by the caller, who knows the region and account
            attributes=json.loads(row[2]),
            tags=json.loads(row[3]),
            created_at=row[4],
            modified_at=row[5],
        )
        for row in conn.execute(
            "SELECT id, name, attributes, tags, created_at, modified_at FROM queues"
        )
    ]
    messages = [
        (
            row[0],
            Stored(
                row_id=row[1],
                message_id=row[2],
                body=row[3],
                md5_of_body=row[4],
                message_attributes=json.loads(row[5]) if row[5] else {},
                md5_of_message_attributes=row[6],
                system=json.loads(row[7]),
                sent_at=row[8],
                visible_at=row[9],
                receive_count=row[10],
                first_received_at=row[11],
            ),
        )
        for row in conn.execute(
            "SELECT queue_id, id, message_id, body, md5_of_body, message_attributes,"
            " md5_of_message_attributes, system_attributes, sent_at, visible_at, receive_count,"
            " first_received_at FROM messages ORDER BY id"
        )
    ]
    deduplication = conn.execute(
        "SELECT queue_id, scope, dedup_id, message_id, sequence_number, expires_at"
        " FROM deduplication"
    ).fetchall()
    sequences = dict(conn.execute("SELECT queue_id, last FROM sequences").fetchall())
    return Loaded(queues, messages, deduplication, sequences)


def insert_queue(conn: sqlite3.Connection, queue: QueueState) -> None:
    conn.execute(
        "INSERT INTO queues (id, name, attributes, tags, created_at, modified_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            queue.id,
            queue.name,
            json.dumps(queue.attributes),
            json.dumps(queue.tags),
            queue.created_at,
            queue.modified_at,
        ),
    )


def update_queue(
    conn: sqlite3.Connection, queue_id: int, attributes: str, tags: str, modified_at: float
) -> None:
    conn.execute(
        "UPDATE queues SET attributes = ?, tags = ?, modified_at = ? WHERE id = ?",
        (attributes, tags, modified_at, queue_id),
    )


def delete_queue(conn: sqlite3.Connection, queue_id: int) -> None:
    for table in ("messages", "deduplication", "sequences"):
        # The table name is one of ours, never input.
        conn.execute(f"DELETE FROM {table} WHERE queue_id = ?", (queue_id,))
    conn.execute("DELETE FROM queues WHERE id = ?", (queue_id,))


def purge(conn: sqlite3.Connection, queue_id: int) -> None:
    conn.execute("DELETE FROM messages WHERE queue_id = ?", (queue_id,))


def insert_messages(conn: sqlite3.Connection, queue_id: int, messages: Iterable[Stored]) -> None:
    conn.executemany(
        "INSERT INTO messages (id, queue_id, message_id, body, md5_of_body, message_attributes,"
        " md5_of_message_attributes, system_attributes, sent_at, visible_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                m.row_id,
                queue_id,
                m.message_id,
                m.body,
                m.md5_of_body,
                json.dumps(m.message_attributes) if m.message_attributes else None,
                m.md5_of_message_attributes,
                json.dumps(m.system),
                m.sent_at,
                m.visible_at,
            )
            for m in messages
        ],
    )


def record_receives(
    conn: sqlite3.Connection, rows: list[tuple[float, int, float | None, int]]
) -> None:
    """(visible_at, receive_count, first_received_at, row id) of received messages."""
    conn.executemany(
        "UPDATE messages SET visible_at = ?, receive_count = ?, first_received_at = ? WHERE id = ?",
        rows,
    )


def move_messages(conn: sqlite3.Connection, rows: list[tuple[int, float, str, int]]) -> None:
    """(new queue id, visible_at, system attributes JSON, row id) of redriven messages."""
    conn.executemany(
        "UPDATE messages SET queue_id = ?, visible_at = ?, system_attributes = ? WHERE id = ?",
        rows,
    )


def set_visible_at(conn: sqlite3.Connection, rows: list[tuple[float, int]]) -> None:
    conn.executemany("UPDATE messages SET visible_at = ? WHERE id = ?", rows)


def delete_messages(conn: sqlite3.Connection, row_ids: Iterable[int]) -> None:
    conn.executemany("DELETE FROM messages WHERE id = ?", [(row_id,) for row_id in row_ids])


def remember_deduplication(
    conn: sqlite3.Connection, rows: list[tuple[int, str, str, str, str, float]]
) -> None:
    """(queue id, scope, deduplication id, message id, sequence number, expires_at)."""
    conn.executemany("INSERT OR REPLACE INTO deduplication VALUES (?, ?, ?, ?, ?, ?)", rows)


def forget_deduplication(conn: sqlite3.Connection, now: float) -> None:
    conn.execute("DELETE FROM deduplication WHERE expires_at <= ?", (now,))


def set_sequence(conn: sqlite3.Connection, queue_id: int, last: int) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO sequences (queue_id, last) VALUES (?, ?)", (queue_id, last)
    )
