"""FIFO queues' send side: which fields a send must carry, deduplication, sequence numbers.

(Their receive side, one group at a time in order, is ``QueueState.pick``.)
"""

from __future__ import annotations

import collections
import hashlib
import re
from dataclasses import dataclass, field

from .attributes import QueueSettings
from .errors import InvalidParameterValue, MissingParameter
from .messages import NewMessage

DEDUPLICATION_WINDOW_S = 300.0
_ID = re.compile(r"[!-~]{1,128}")  # alphanumerics and punctuation, as SQS allows


@dataclass(slots=True)
class Deduplication:
    """Deduplication ids seen in the last five minutes: key -> (message id, sequence number,
    expires_at). The key is (scope, id); scope is the group under DeduplicationScope
    messageGroup, else empty."""

    seen: dict[tuple[str, str], tuple[str, str, float]] = field(default_factory=dict)
    _order: collections.deque[tuple[float, tuple[str, str]]] = field(
        default_factory=collections.deque
    )

    def lookup(self, key: tuple[str, str], now: float) -> tuple[str, str] | None:
        found = self.seen.get(key)
        if found is None or found[2] <= now:
            return None
        return found[0], found[1]

    def remember(self, key: tuple[str, str], message_id: str, sequence: str, now: float) -> float:
        expires_at = now + DEDUPLICATION_WINDOW_S
        self.seen[key] = (message_id, sequence, expires_at)
        self._order.append((expires_at, key))
        return expires_at

    def prune(self, now: float) -> bool:
        """Forget ids past their window; whether any went."""
        pruned = False
        while self._order and self._order[0][0] <= now:
            expires_at, key = self._order.popleft()
            found = self.seen.get(key)
            if found is not None and found[2] == expires_at:
                del self.seen[key]
                pruned = True
        return pruned


def check_send(settings: QueueSettings, entry: NewMessage) -> tuple[str, str] | None:
    """The (scope, deduplication id) key of a send to a FIFO queue, or None for a standard
    queue; raises for fields the queue's type refuses or needs."""
    if not settings.fifo:
        if entry.deduplication_id is not None:
            raise InvalidParameterValue(
                "The request include parameter MessageDeduplicationId that is not valid for this "
                "queue type"
            )
        if entry.group_id is not None:
            _check_id("MessageGroupId", entry.group_id)
        return None
    if entry.group_id is None:
        raise MissingParameter("The request must contain the parameter MessageGroupId.")
    _check_id("MessageGroupId", entry.group_id)
    if entry.delay_s is not None:
        raise InvalidParameterValue(
            f"Value {entry.delay_s} for parameter DelaySeconds is invalid. Reason: The request "
            "include parameter that is not valid for this queue type."
        )
    dedup_id = entry.deduplication_id
    if dedup_id is None:
        if not settings.content_based_deduplication:
            raise InvalidParameterValue(
                "The queue should either have ContentBasedDeduplication enabled or "
                "MessageDeduplicationId provided explicitly"
            )
        dedup_id = hashlib.sha256(entry.body.encode()).hexdigest()
    _check_id("MessageDeduplicationId", dedup_id)
    scope = entry.group_id if settings.deduplication_by_group else ""
    return scope, dedup_id


def _check_id(parameter: str, value: str) -> None:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidParameterValue(
            f"Value {value} for parameter {parameter} is invalid. Reason: {parameter} can only "
            "include alphanumeric and punctuation characters. 1 to 128 in length."
        )


def sequence_number(counter: int) -> str:
    """SQS's sequence numbers are large, increasing decimal strings; ours count per queue."""
    return f"{counter:020d}"
