"""What the SQS batch operations share: the checks of their entries, and the Successful/Failed
shape of their results."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ..services.queues import QueueError
from ..services.queues.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    TooManyEntriesInBatchRequest,
)

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 1_048_576  # the sum of a SendMessageBatch's messages
_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")

Entry = dict[str, Any]


def check_batch(entries: list[Entry], entry_shape: str) -> list[Entry]:
    """The entries of a batch request, refused whole if there are none or too many, or if
    their ids are malformed or repeated."""
    if not entries:
        raise EmptyBatchRequest(f"There should be at least one {entry_shape} in the request.")
    if len(entries) > MAX_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {MAX_ENTRIES}. You have sent "
            f"{len(entries)}."
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry["Id"]
        if not _ENTRY_ID.fullmatch(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return entries


def check_batch_size(entries: list[Entry]) -> None:
    """A SendMessageBatch's bodies and attribute values together stay within 1 MiB."""
    size = 0
    for entry in entries:
        size += len(str(entry["MessageBody"]).encode("utf-8", "surrogatepass"))
        for name, value in (entry.get("MessageAttributes") or {}).items():
            if isinstance(value, dict):
                size += len(name) + len(str(value.get("DataType", "")))
                size += len(str(value.get("StringValue", "")).encode("utf-8", "surrogatepass"))
                size += len(str(value.get("BinaryValue", ""))) * 3 // 4
    if size > MAX_BATCH_BYTES:
        raise BatchRequestTooLong(
            f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent "
            f"{size} bytes."
        )


def batch_result(
    entries: Sequence[Entry],
    outcomes: Sequence[Any],
    success: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """Successful and Failed entries, by Id: an outcome that is a QueueError failed."""
    successful: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for entry, outcome in zip(entries, outcomes, strict=True):
        if isinstance(outcome, QueueError):
            failed.append(
                {
                    "Id": entry["Id"],
                    "SenderFault": outcome.sender_fault,
                    "Code": outcome.query_code,
                    "Message": outcome.message,
                }
            )
        else:
            successful.append({"Id": entry["Id"], **success(outcome)})
    return {"Successful": successful, "Failed": failed}
