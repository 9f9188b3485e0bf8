"""Admission: which invocations may run now, and which instances may exist, on this node.

All counters change without an ``await`` between check and update, so the event loop makes
each admission atomic.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..errors import TooManyRequestsException
from ..types import FunctionConfig
from .instance import Instance


@dataclass(slots=True)
class FunctionPool:
    """The instances of one revision of one function."""

    idle: list[Instance] = field(default_factory=list)  # a stack: the warmest instance is on top
    busy: set[Instance] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.idle) + len(self.busy)


# Instances are pooled per function, version and revision: any change makes a new pool.
PoolKey = tuple[str, str, str]


def pool_key(config: FunctionConfig) -> PoolKey:
    return (config.name, config.version, config.revision_id)


class Admission:
    def __init__(self, max_concurrency: int, memory_budget_mb: int) -> None:
        self.max_concurrency = max_concurrency
        self.memory_budget_mb = memory_budget_mb
        self.reserved: dict[str, int] = {}
        self.unreserved_pool = max_concurrency
        self.active: defaultdict[str, int] = defaultdict(int)
        self.unreserved_active = 0
        self.memory_used_mb = 0

    def set_reserved(self, function: str, reserved: int | None) -> None:
        if reserved is None:
            self.reserved.pop(function, None)
        else:
            self.reserved[function] = reserved
        # Kept up to date here, not summed on every invocation.
        self.unreserved_pool = self.max_concurrency - sum(self.reserved.values())

    def enter(self, function: str) -> bool:
        """Count one invocation in, or raise Lambda's throttle error.

        Returns whether it counts against the unreserved pool, to hand back to ``leave`` (the
        function's reservation may change while it runs).
        """
        reserved = self.reserved.get(function)
        if reserved is not None:
            if self.active.get(function, 0) >= reserved:
                raise TooManyRequestsException(
                    "Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded"
                )
        else:
            if self.unreserved_active >= self.unreserved_pool:
                raise TooManyRequestsException(
                    "Rate Exceeded.", "ConcurrentInvocationLimitExceeded"
                )
            self.unreserved_active += 1
        self.active[function] += 1
        return reserved is None

    def leave(self, function: str, unreserved: bool) -> None:
        self.active[function] -= 1
        if self.active[function] == 0:
            del self.active[function]
        if unreserved:
            self.unreserved_active -= 1

    def memory_fits(self, memory_mb: int) -> bool:
        return self.memory_used_mb + memory_mb <= self.memory_budget_mb
