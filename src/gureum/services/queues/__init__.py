"""Queues: durable message queues in SQLite, as the SQS API sees them."""

from __future__ import annotations

from pathlib import Path

from ...clock import Clock


class Queues:
    """The queues of ``path`` (an SQLite database)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass
