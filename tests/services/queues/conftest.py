"""A real ``Queues`` on a temporary queues.db and a manual clock: visibility timeouts, delays and
retention are tested by moving the clock, never by waiting."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from gureum.clock import ManualClock
from gureum.services.queues import Queues

Reopen = Callable[[], Awaitable[Queues]]


@pytest.fixture
async def queues(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Queues]:
    opened = Queues(tmp_path / "queues.db", clock)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
async def reopen(queues: Queues, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Reopen]:
    """Close the fixture's Queues (as at shutdown) and open the same file again."""
    opened: list[Queues] = []

    async def again() -> Queues:
        await (opened[-1] if opened else queues).aclose()
        fresh = Queues(tmp_path / "queues.db", clock)
        await fresh.start()
        opened.append(fresh)
        return fresh

    yield again
    if opened:
        await opened[-1].aclose()
