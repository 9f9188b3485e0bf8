"""One SQLite connection on a thread of its own, committing many callers' writes at once.

An accepted asynchronous invocation must be committed before its caller hears 202. One commit per
event would bound the accept rate by the commit rate; instead the thread takes every job waiting,
runs them all in one transaction and answers them together (group commit). Each caller still
hears back only after the commit that holds its write.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..store.sqlite import BUSY_TIMEOUT_S, Migrations, migrate, transaction

log = logging.getLogger("gureum.events")

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
_Waiting = tuple[Job, asyncio.Future[Any], asyncio.AbstractEventLoop]


class GroupCommitDb:
    def __init__(self, path: Path, migrations: Migrations, *, fsync: bool = True) -> None:
        self._path = path
        self._migrations = migrations
        self._fsync = fsync
        self._jobs: collections.deque[_Waiting] = collections.deque()
        self._wake = threading.Condition()
        self._closing = False
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="gureum-events-db", daemon=True)

    async def start(self) -> None:
        self._thread.start()
        await asyncio.to_thread(self._opened.wait)
        if self._open_error is not None:
            raise self._open_error

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` inside a write transaction; returns once that transaction committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._wake:
            if self._closing:
                raise RuntimeError("the events database is closed")
            self._jobs.append((job, future, loop))
            if len(self._jobs) == 1:
                self._wake.notify()
        return await future

    async def aclose(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)

    def _serve(self) -> None:
        try:
            conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk (fsync of the WAL) before anyone is told it happened;
            # group commit pays for that once per batch.
            conn.execute(f"PRAGMA synchronous={'FULL' if self._fsync else 'NORMAL'}")
            migrate(conn, self._path.name, self._migrations)
        except BaseException as error:
            self._open_error = error
            self._opened.set()
            return
        self._opened.set()
        try:
            while True:
                with self._wake:
                    while not self._jobs and not self._closing:
                        self._wake.wait()
                    if not self._jobs:
                        return
                    batch = list(self._jobs)
                    self._jobs.clear()
                self._answer(batch, self._run_batch(conn, batch))
        finally:
            conn.close()

    @staticmethod
    def _run_batch(conn: sqlite3.Connection, batch: list[_Waiting]) -> list[tuple[Any, Any]]:
        """(result, None) or (None, exception) per job, all committed together when possible."""
        try:
            with transaction(conn):
                return [(job(conn), None) for job, _, _ in batch]
        except Exception:
            pass  # rolled back: find out below which job it was
        # Run each alone, so a bad job fails only itself (its transaction rolled back).
        outcomes: list[tuple[Any, Any]] = []
        for job, _, _ in batch:
            try:
                with transaction(conn):
                    outcomes.append((job(conn), None))
            except Exception as error:
                outcomes.append((None, error))
        return outcomes

    @staticmethod
    def _answer(batch: list[_Waiting], outcomes: list[tuple[Any, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
        for (_, future, loop), (result, error) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, result, error))
        for loop, answers in by_loop.items():
            try:
                # One wake-up of the event loop per batch, not one per job.
                loop.call_soon_threadsafe(_settle, answers)
            except RuntimeError:
                log.debug("event loop closed before its database answers arrived")


def _settle(answers: list[tuple[asyncio.Future[Any], Any, Any]]) -> None:
    for future, result, error in answers:
        if future.done():  # the caller was cancelled; the write stands
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
