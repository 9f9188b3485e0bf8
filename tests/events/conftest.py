"""One platform per test at the strongest isolation this host has (events need no sweep over
the levels: the engine's tests do that), and a deployer for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gureum import Platform
from tests.conftest import CAN_ISOLATE, Deploy, deployer


@pytest.fixture
async def platform(open_custom: Callable[..., Awaitable[Platform]]) -> AsyncIterator[Platform]:
    p = await open_custom("full" if CAN_ISOLATE else "process")
    try:
        yield p
    finally:
        await p.aclose()


@pytest.fixture
def deploy(platform: Platform) -> Deploy:
    return deployer(platform)
