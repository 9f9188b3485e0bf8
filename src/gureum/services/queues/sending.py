"""A send, in memory: each message checked, its MD5s computed, its FIFO fields decided, and the
``Stored`` message built, before ``Queues`` adds the batch to its queue and writes it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import fifo
from .errors import InvalidParameterValue, QueueError
from .messages import (
    NewMessage,
    SentMessage,
    check_attributes,
    check_body,
    md5_hex,
    md5_of_attributes,
)
from .state import QueueState, Stored

MAX_DELAY_S = 900

# (queue id, scope, deduplication id, message id, sequence number, expires_at): storage's row.
DeduplicationRow = tuple[int, str, str, str, str, float]


@dataclass(slots=True)
class Prepared:
    results: list[SentMessage | QueueError] = field(default_factory=list)  # one per entry
    messages: list[Stored] = field(default_factory=list)  # to add and write
    deduplication: list[DeduplicationRow] = field(default_factory=list)  # FIFO: to write
    sequence: int | None = None  # FIFO: the queue's last sequence number, if it moved


def prepare(
    queue: QueueState,
    entries: Sequence[NewMessage],
    sender: str,
    now: float,
    new_row_id: Callable[[], int],
) -> Prepared:
    """The messages of a send. An entry that fails its checks fails alone (its result is the
    error); a FIFO duplicate within the window succeeds with the first send's ids and adds
    nothing."""
    prepared = Prepared()
    sequence_before = queue.sequence
    for entry in entries:
        try:
            key = fifo.check_send(queue.settings, entry)
            message, sent = _prepare_one(queue, entry, sender, now, key, new_row_id)
        except QueueError as error:
            prepared.results.append(error)
            continue
        prepared.results.append(sent)
        if message is None:
            continue
        prepared.messages.append(message)
        if key is not None:
            number = sent.sequence_number or ""
            expires_at = queue.deduplication.remember(key, message.message_id, number, now)
            prepared.deduplication.append((queue.id, *key, message.message_id, number, expires_at))
    if queue.sequence != sequence_before:
        prepared.sequence = queue.sequence
    return prepared


def _prepare_one(
    queue: QueueState,
    entry: NewMessage,
    sender: str,
    now: float,
    key: tuple[str, str] | None,
    new_row_id: Callable[[], int],
) -> tuple[Stored | None, SentMessage]:
    body = check_body(entry.body)
    user, user_bytes = check_attributes(entry.message_attributes)
    system, _ = check_attributes(entry.system_attributes, system=True)
    limit = queue.settings.max_message_bytes
    if len(body.encode()) + user_bytes > limit:
        raise InvalidParameterValue(
            f"One or more parameters are invalid. Reason: Message must be shorter than "
            f"{limit} bytes."
        )
    delay = queue.settings.delay_s if entry.delay_s is None else entry.delay_s
    if not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_S:
        raise InvalidParameterValue(
            f"Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must "
            f"be >= 0 and <= {MAX_DELAY_S}."
        )
    md5_user = md5_of_attributes(user) if user else None
    md5_system = md5_of_attributes(system) if system else None
    md5_body = md5_hex(body.encode())
    duplicate = None if key is None else queue.deduplication.lookup(key, now)
    if duplicate is not None:  # FIFO: accepted, not queued again
        first_id, first_number = duplicate
        return None, SentMessage(first_id, md5_body, md5_user, md5_system, first_number)
    extra = {"SenderId": sender}
    if system:
        extra["AWSTraceHeader"] = system["AWSTraceHeader"]["StringValue"]
    if entry.group_id is not None:
        extra["MessageGroupId"] = entry.group_id
    number = None
    if key is not None:  # FIFO
        queue.sequence += 1
        number = fifo.sequence_number(queue.sequence)
        extra["SequenceNumber"] = number
        extra["MessageDeduplicationId"] = key[1]
    message = Stored(
        row_id=new_row_id(),
        message_id=str(uuid.uuid4()),
        body=body,
        md5_of_body=md5_body,
        message_attributes=user,
        md5_of_message_attributes=md5_user,
        system=extra,
        sent_at=now,
        visible_at=now + delay,
    )
    return message, SentMessage(message.message_id, md5_body, md5_user, md5_system, number)
