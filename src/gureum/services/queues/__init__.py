"""Queues: durable message queues in SQLite, as the SQS API sees them.

``platform.queues`` is a ``Queues``; the gateway serves it as the SQS API (``gateway/sqs_api.py``)
and in-process consumers (event source mappings) use it directly. Its Python interface is stable:

    arn(name) -> str                         the queue's ARN (whether or not it exists)
    name_of_arn(arn) -> str                  the name of an existing queue; QueueDoesNotExist
    exists(name) -> bool;  names(prefix="") -> list[str]
    await create(name, attributes=None, tags=None) -> bool    True if created (idempotent)
    await send(name, body, *, attributes=None, delay_s=None) -> str     message id
    await receive(name, max_messages=1, *, visibility_timeout_s=None, wait_s=0) -> list[Message]
    await delete(name, receipt_handle)
    await change_visibility(name, receipt_handle, timeout_s)
    depth(name) -> int                       visible messages now (cheap: no I/O)
    queue_attributes(name, names=("All",)) -> dict[str, str]     as GetQueueAttributes shows them
    await wait_for_messages(name, timeout_s) -> bool      until a message may have arrived

``Message`` (frozen) has ``message_id``, ``receipt_handle``, ``body``, ``md5_of_body``,
``attributes`` (system attributes by their SQS names: SenderId, SentTimestamp,
ApproximateReceiveCount, ApproximateFirstReceiveTimestamp, ...; all strings),
``message_attributes`` (SQS JSON shape) and ``md5_of_message_attributes``.

Behaviour, as SQS's: ``send``, ``delete`` and ``change_visibility`` return once their change is
committed to disk (group commit: concurrent calls share one fsync), so an acknowledged send
survives kill -9 and an acknowledged delete never comes back. ``receive`` commits the receive
(visibility deadline, receive count) before it returns; a message whose receive count has
reached the RedrivePolicy's maxReceiveCount moves to the dead-letter queue instead of being
delivered. ``receive`` with ``wait_s`` > 0 long-polls (a send wakes it; no polling loop), and
returns ``[]`` when the wait ends empty, the queue is deleted or the platform closes.
Errors are ``QueueError`` subclasses named as SQS names them (``QueueDoesNotExist``,
``ReceiptHandleIsInvalid``, ``InvalidParameterValue``, ...). Batch forms used by the API:
``send_messages``, ``delete_messages``, ``change_visibility_of``. Everything runs on the event
loop without blocking it: messages live in memory, queues.db is written by its own thread.
"""

from __future__ import annotations

from .errors import (
    InvalidParameterValue,
    MessageNotInflight,
    QueueDoesNotExist,
    QueueError,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)
from .messages import Message, NewMessage, SentMessage
from .queues import Queues

__all__ = [
    "InvalidParameterValue",
    "Message",
    "MessageNotInflight",
    "NewMessage",
    "QueueDoesNotExist",
    "QueueError",
    "QueueNameExists",
    "Queues",
    "ReceiptHandleIsInvalid",
    "SentMessage",
]
