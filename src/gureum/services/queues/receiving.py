"""A receive, in memory: which messages go out (or to the dead-letter queue instead), how they
are shown, and which receipt handles still name a message in flight."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .errors import InvalidParameterValue, MessageNotInflight, ReceiptHandleIsInvalid
from .messages import Message, Receipt
from .state import INFLIGHT, QueueState, Stored

MAX_VISIBILITY_S = 43_200
MAX_WAIT_S = 20
MAX_RECEIVE = 10


@dataclass(slots=True)
class Taken:
    messages: list[Message] = field(default_factory=list)
    # storage's rows: (visible_at, receive_count, first_received_at, row id) per receive ...
    receipts: list[tuple[float, int, float | None, int]] = field(default_factory=list)
    # ... and (new queue id, visible_at, system attributes JSON, row id) per redrive.
    moves: list[tuple[int, float, str, int]] = field(default_factory=list)


def take(
    queue: QueueState,
    limit: int,
    visibility_s: int,
    dead_letter: QueueState | None,
    now: float,
) -> Taken:
    """Receive up to ``limit`` visible messages, hiding each for ``visibility_s``. A message
    whose receive count has reached the queue's maxReceiveCount moves to ``dead_letter``
    instead (as SQS: on the receive that would exceed it) and leaves room for another."""
    taken = Taken()
    max_receive_count = queue.settings.max_receive_count
    while len(taken.messages) < limit:
        picked = queue.pick(limit - len(taken.messages))
        if not picked:
            break
        for message in picked:
            if dead_letter is not None and message.receive_count >= max_receive_count:
                taken.moves.append(_redrive(queue, message, dead_letter, now))
                continue
            message.receive_count += 1
            if message.first_received_at is None:
                message.first_received_at = now
            queue.hide(message, now + visibility_s)
            taken.receipts.append(
                (
                    message.visible_at,
                    message.receive_count,
                    message.first_received_at,
                    message.row_id,
                )
            )
            taken.messages.append(shown(queue, message))
    return taken


def _redrive(
    source: QueueState, message: Stored, target: QueueState, now: float
) -> tuple[int, float, str, int]:
    source.remove(message)
    message.system["DeadLetterQueueSourceArn"] = source.arn
    message.visible_at = now
    target.add(message, now)
    target.notify()
    return target.id, now, json.dumps(message.system), message.row_id


def shown(queue: QueueState, message: Stored) -> Message:
    attributes = {
        **message.system,
        "SentTimestamp": str(int(message.sent_at * 1000)),
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": str(int((message.first_received_at or 0) * 1000)),
    }
    return Message(
        message_id=message.message_id,
        receipt_handle=Receipt(queue.id, message.row_id, message.receive_count).handle(),
        body=message.body,
        md5_of_body=message.md5_of_body,
        attributes=attributes,
        message_attributes=message.message_attributes,
        md5_of_message_attributes=message.md5_of_message_attributes,
    )


def receipt_of(queue: QueueState, handle: str) -> Receipt:
    """What ``handle`` names; ReceiptHandleIsInvalid if it is no handle of this queue."""
    receipt = Receipt.parse(handle)
    if receipt.queue_id != queue.id:
        raise ReceiptHandleIsInvalid(
            f'The input receipt handle "{handle}" is not a valid receipt handle for this queue.'
        )
    return receipt


def in_flight(queue: QueueState, handle: str) -> Stored:
    """The message ``handle`` names if it is in flight from that very receive."""
    receipt = receipt_of(queue, handle)
    message = queue.messages.get(receipt.row_id)
    if message is None:
        raise InvalidParameterValue(
            f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does "
            "not exist or is not available for visibility timeout change."
        )
    if message.receive_count != receipt.receive_count:
        raise InvalidParameterValue(
            f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt "
            "handle has expired."
        )
    if message.state != INFLIGHT:
        raise MessageNotInflight("The message referred to isn't in flight.")
    return message


def check_range(parameter: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidParameterValue(
            f"Value {value} for parameter {parameter} is invalid. Reason: Must be between "
            f"{low} and {high}, if provided."
        )
    return int(value)
