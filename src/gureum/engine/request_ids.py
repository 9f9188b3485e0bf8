"""Request ids: UUIDs (RFC 9562 version 7) that sort by the time they were made.

Lambda's are version-4 UUIDs; clients treat them as opaque strings. Time order is what makes
them cheap to index: the telemetry store looks records up by request id, and random keys would
make every insert touch a page of its own (docs/decisions/0003). Made without a syscall or a
UUID object per id: random bits come from one os.urandom call per _BATCH ids.
"""

from __future__ import annotations

import os
import time

_BATCH = 1024  # ids per os.urandom call
_SEQUENCE_LIMIT = 0xFFF  # ids per millisecond before borrowing the next millisecond


class RequestIds:
    """Calling it returns a new id, greater than every id it returned before."""

    def __init__(self) -> None:
        self._random = ""
        self._pos = 0
        self._ms = 0
        self._sequence = 0

    def __call__(self) -> str:
        ms = int(time.time() * 1000)
        if ms > self._ms:
            self._ms, self._sequence = ms, 0
        elif self._sequence < _SEQUENCE_LIMIT:
            self._sequence += 1
        else:  # more than 4,096 ids in one millisecond: run ahead of the clock, keep the order
            self._ms, self._sequence = self._ms + 1, 0
        pos = self._pos
        if pos >= len(self._random):
            self._random, pos = os.urandom(8 * _BATCH).hex(), 0
        r = self._random[pos : pos + 16]
        self._pos = pos + 16
        t = f"{self._ms:012x}"
        # 48 bits of milliseconds, version 7, a 12-bit sequence (RFC 9562's method 1 for order
        # within a millisecond), the RFC variant (10), 62 random bits.
        return f"{t[:8]}-{t[8:]}-7{self._sequence:03x}-{'89ab'[int(r[0], 16) & 3]}{r[1:4]}-{r[4:]}"
