"""The SQS operations: each turns a request's JSON (already checked against the model) into a call
on ``Queues`` and its result into the JSON the model describes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..services.queues import Message, NewMessage, QueueError, Queues
from ..services.queues.errors import (
    InvalidParameterValue,
    QueueDoesNotExist,
)
from ..services.queues.messages import md5_of_attributes, select_attributes
from .sqs_batches import batch_result, check_batch, check_batch_size

JsonObject = dict[str, Any]
MAX_LIST_RESULTS = 1000


@dataclass(frozen=True, slots=True)
class Call:
    """One request: its parameters, and what its answer needs to know about who asked."""

    queues: Queues
    params: JsonObject
    endpoint: str  # scheme://host the request came in on, for the queue URLs handed out
    sender_id: str  # the caller's access key id (SQS's SenderId)

    def url(self, name: str) -> str:
        return f"{self.endpoint}/{self.queues.account}/{name}"

    def queue_name(self) -> str:
        """The queue a QueueUrl names: its last path segment (any host, any account)."""
        name = str(self.params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        if not self.queues.exists(name):
            raise QueueDoesNotExist()
        return name


Operation = Callable[[Call], Awaitable[JsonObject]]
OPERATIONS: dict[str, Operation] = {}


def operation(fn: Operation) -> Operation:
    """Register ``fn`` under its operation name (the function's name in CamelCase)."""
    OPERATIONS["".join(part.title() for part in fn.__name__.split("_"))] = fn
    return fn


# -- queues --------------------------------------------------------------------------------------


@operation
async def create_queue(call: Call) -> JsonObject:
    name = call.params["QueueName"]
    await call.queues.create(name, call.params.get("Attributes"), call.params.get("tags"))
    return {"QueueUrl": call.url(name)}


@operation
async def get_queue_url(call: Call) -> JsonObject:
    name = call.params["QueueName"]
    owner = call.params.get("QueueOwnerAWSAccountId")
    if not call.queues.exists(name) or owner not in (None, call.queues.account):
        raise QueueDoesNotExist()
    return {"QueueUrl": call.url(name)}


@operation
async def list_queues(call: Call) -> JsonObject:
    names = call.queues.names(call.params.get("QueueNamePrefix", ""))
    return _page(call, names, "QueueUrls")


@operation
async def list_dead_letter_source_queues(call: Call) -> JsonObject:
    return _page(call, call.queues.dead_letter_sources(call.queue_name()), "queueUrls")


def _page(call: Call, names: list[str], key: str) -> JsonObject:
    """A page of queue URLs: all (up to 1000) without MaxResults, else MaxResults of them and a
    NextToken (the last name given, encoded) while more remain."""
    limit = call.params.get("MaxResults")
    if limit is not None and not 1 <= limit <= MAX_LIST_RESULTS:
        raise InvalidParameterValue(
            f"Value {limit} for parameter MaxResults is invalid. Reason: Must be between 1 and "
            f"{MAX_LIST_RESULTS}, if provided."
        )
    token = call.params.get("NextToken")
    if token is not None:
        after = _decode_token(token)
        names = [name for name in names if name > after]
    page = names[: limit or MAX_LIST_RESULTS]
    result: JsonObject = {}
    if page:
        result[key] = [call.url(name) for name in page]
    if limit is not None and len(names) > len(page):
        result["NextToken"] = base64.urlsafe_b64encode(page[-1].encode()).decode()
    return result


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidParameterValue("Invalid NextToken value.") from None


@operation
async def get_queue_attributes(call: Call) -> JsonObject:
    names = call.params.get("AttributeNames") or []
    attributes = call.queues.queue_attributes(call.queue_name(), names) if names else {}
    return {"Attributes": attributes} if attributes else {}


@operation
async def set_queue_attributes(call: Call) -> JsonObject:
    await call.queues.set_attributes(call.queue_name(), call.params["Attributes"])
    return {}


@operation
async def delete_queue(call: Call) -> JsonObject:
    await call.queues.delete_queue(call.queue_name())
    return {}


@operation
async def purge_queue(call: Call) -> JsonObject:
    await call.queues.purge(call.queue_name())
    return {}


@operation
async def tag_queue(call: Call) -> JsonObject:
    await call.queues.tag(call.queue_name(), call.params["Tags"])
    return {}


@operation
async def untag_queue(call: Call) -> JsonObject:
    await call.queues.untag(call.queue_name(), call.params["TagKeys"])
    return {}


@operation
async def list_queue_tags(call: Call) -> JsonObject:
    tags = call.queues.tags(call.queue_name())
    return {"Tags": tags} if tags else {}


# -- messages ------------------------------------------------------------------------------------


def _new_message(entry: JsonObject) -> NewMessage:
    return NewMessage(
        body=entry["MessageBody"],
        message_attributes=entry.get("MessageAttributes"),
        system_attributes=entry.get("MessageSystemAttributes"),
        delay_s=entry.get("DelaySeconds"),
        group_id=entry.get("MessageGroupId"),
        deduplication_id=entry.get("MessageDeduplicationId"),
    )


def _sent(sent: Any) -> JsonObject:
    result: JsonObject = {"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body}
    if sent.md5_of_message_attributes is not None:
        result["MD5OfMessageAttributes"] = sent.md5_of_message_attributes
    if sent.md5_of_system_attributes is not None:
        result["MD5OfMessageSystemAttributes"] = sent.md5_of_system_attributes
    if sent.sequence_number is not None:
        result["SequenceNumber"] = sent.sequence_number
    return result


@operation
async def send_message(call: Call) -> JsonObject:
    name = call.queue_name()
    [sent] = await call.queues.send_messages(name, [_new_message(call.params)], call.sender_id)
    if isinstance(sent, QueueError):
        raise sent
    return _sent(sent)


@operation
async def send_message_batch(call: Call) -> JsonObject:
    name = call.queue_name()
    entries = check_batch(call.params["Entries"], "SendMessageBatchRequestEntry")
    check_batch_size(entries)
    outcomes = await call.queues.send_messages(
        name, [_new_message(entry) for entry in entries], call.sender_id
    )
    return batch_result(entries, outcomes, _sent)


@operation
async def receive_message(call: Call) -> JsonObject:
    params = call.params
    messages = await call.queues.receive(
        call.queue_name(),
        params.get("MaxNumberOfMessages", 1),
        visibility_timeout_s=params.get("VisibilityTimeout"),
        wait_s=params.get("WaitTimeSeconds"),  # absent: the queue's ReceiveMessageWaitTimeSeconds
    )
    if not messages:
        return {}
    system = frozenset(params.get("AttributeNames", ())) | frozenset(
        params.get("MessageSystemAttributeNames", ())
    )
    wanted = frozenset(params.get("MessageAttributeNames", ()))
    return {"Messages": [_shown(message, system, wanted) for message in messages]}


def _shown(message: Message, system: frozenset[str], wanted: frozenset[str]) -> JsonObject:
    shown: JsonObject = {
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.md5_of_body,
        "Body": message.body,
    }
    if system:
        every = "All" in system
        attributes = {k: v for k, v in message.attributes.items() if every or k in system}
        if attributes:
            shown["Attributes"] = attributes
    selected = select_attributes(message.message_attributes, wanted)
    if selected:
        shown["MessageAttributes"] = selected
        # The MD5 of the attributes returned, which may be fewer than were sent.
        shown["MD5OfMessageAttributes"] = (
            message.md5_of_message_attributes
            if selected is message.message_attributes
            else md5_of_attributes(selected)
        )
    return shown


@operation
async def delete_message(call: Call) -> JsonObject:
    await call.queues.delete(call.queue_name(), call.params["ReceiptHandle"])
    return {}


@operation
async def delete_message_batch(call: Call) -> JsonObject:
    name = call.queue_name()
    entries = check_batch(call.params["Entries"], "DeleteMessageBatchRequestEntry")
    outcomes = await call.queues.delete_messages(name, [e["ReceiptHandle"] for e in entries])
    return batch_result(entries, outcomes, lambda _: {})


@operation
async def change_message_visibility(call: Call) -> JsonObject:
    await call.queues.change_visibility(
        call.queue_name(), call.params["ReceiptHandle"], call.params["VisibilityTimeout"]
    )
    return {}


@operation
async def change_message_visibility_batch(call: Call) -> JsonObject:
    name = call.queue_name()
    entries = check_batch(call.params["Entries"], "ChangeMessageVisibilityBatchRequestEntry")
    # An entry without VisibilityTimeout fails on its own (InvalidParameterValue).
    changes = [(e["ReceiptHandle"], e.get("VisibilityTimeout")) for e in entries]
    outcomes = await call.queues.change_visibility_of(name, changes)
    return batch_result(entries, outcomes, lambda _: {})
