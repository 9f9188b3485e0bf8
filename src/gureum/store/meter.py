"""Pricing: what one invocation costs, by Lambda's rules (per request plus per GB-second).

Lambda has billed in 1 ms increments, rounded up, since December 2020; memory is billed at the
configured size, not at what the function used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PriceTable:
    per_request_usd: float = 0.20 / 1_000_000  # AWS Lambda x86 list price
    per_gb_second_usd: float = 0.0000166667


@dataclass(frozen=True, slots=True)
class Bill:
    billed_duration_ms: int  # duration rounded up to the next whole ms, at least 1
    gb_seconds: float  # memory_mb / 1024 * billed_duration_ms / 1000
    cost_usd: float  # per_request + gb_seconds * per_gb_second


def bill(duration_ms: float, memory_mb: int, prices: PriceTable) -> Bill:
    """Price one invocation. Raises ValueError on a negative or non-finite duration or memory < 1:
    those are measurement bugs, and billing them as 1 ms would hide the bug."""
    if not math.isfinite(duration_ms) or duration_ms < 0:
        raise ValueError(f"duration_ms must be finite and >= 0, got {duration_ms!r}")
    if memory_mb < 1:
        raise ValueError(f"memory_mb must be >= 1, got {memory_mb!r}")
    billed_ms = max(1, math.ceil(duration_ms))
    gb_seconds = memory_mb / 1024 * billed_ms / 1000
    cost = prices.per_request_usd + gb_seconds * prices.per_gb_second_usd
    return Bill(billed_duration_ms=billed_ms, gb_seconds=gb_seconds, cost_usd=cost)
