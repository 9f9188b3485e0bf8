"""Pre-isolated shells: sandboxes whose namespaces, cgroup, /proc, network and init are ready
but which have no function yet, so a cold start only mounts the function's code, sets its
limits and environment, drops privileges and imports the handler.

One pool per runtime. Its size follows demand: the number of shells taken in the last
``WINDOW_S`` seconds, between ``MIN_SHELLS`` and ``MAX_SHELLS``; one shell is spawned at a time,
so refilling never crowds the zygote when a cold start needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

from ..errors import ServiceException

log = logging.getLogger("gureum.sandbox")
T = TypeVar("T")

MIN_SHELLS = 1
MAX_SHELLS = 16
WINDOW_S = 10.0


class ShellPool(Generic[T]):
    """Shells of one runtime: ``start`` spawns one, ``stop`` destroys one, ``alive`` tells
    whether an idle one still lives."""

    def __init__(
        self,
        start: Callable[[], Coroutine[Any, Any, T]],
        stop: Callable[[T], Coroutine[Any, Any, None]],
        alive: Callable[[T], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._start = start
        self._stop = stop
        self._alive = alive
        self._clock = clock
        self.idle: deque[T] = deque()
        self.taken: deque[float] = deque()  # when shells were taken, oldest first
        self._refill: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self._closed = False

    def target(self) -> int:
        horizon = self._clock() - WINDOW_S
        while self.taken and self.taken[0] < horizon:
            self.taken.popleft()
        return max(MIN_SHELLS, min(MAX_SHELLS, len(self.taken)))

    def take(self) -> T | None:
        """A live shell, now the caller's; None if none is ready. Refills in the background."""
        self.taken.append(self._clock())
        shell = None
        while self.idle:
            candidate = self.idle.popleft()
            if not self._alive(candidate):
                self._discard(candidate)
                continue
            shell = candidate
            break
        if shell is None:
            self.refill()
        # Else the caller refills once its cold start has answered (``refill()``): a shell
        # starting now would compete for the zygote and the CPU with the cold start.
        return shell

    def refill(self) -> None:
        if not self._closed and (self._refill is None or self._refill.done()):
            self._refill = asyncio.create_task(self._fill(), name="shell-refill")

    async def _fill(self) -> None:
        while not self._closed and len(self.idle) < self.target():
            try:
                shell = await self._start()
            except ServiceException as exc:
                # Out of fds, cgroups or a dead zygote: cold starts spawn directly meanwhile.
                log.warning("could not start a shell: %s", exc)
                return
            if self.closed():  # while it started
                await self._stop(shell)
                return
            self.idle.append(shell)

    async def settle(self) -> None:
        """Wait for a top-up in progress to finish."""
        if self._refill is not None:
            await asyncio.shield(self._refill)

    def closed(self) -> bool:
        return self._closed

    def _discard(self, shell: T) -> None:
        task = asyncio.create_task(self._stop(shell))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def aclose(self) -> None:
        """Stop refilling and destroy the idle shells."""
        self._closed = True
        if self._refill is not None:
            self._refill.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refill
        shells, self.idle = list(self.idle), deque()
        await asyncio.gather(*(self._stop(shell) for shell in shells), *self._stopping)
