"""The pollers of an SQS event source mapping: receive a batch, invoke the function with it,
delete what it handled.

As on Lambda: a batch is up to BatchSize messages, gathered for up to
MaximumBatchingWindowInSeconds; the function is invoked synchronously with the ``Records``
event; if it succeeds the batch is deleted; if it fails (an error, a timeout, a throttle) the
messages are left to come back when their visibility timeout ends, and follow the queue's
redrive policy; with ``ReportBatchItemFailures`` only the messages the function names in
``batchItemFailures`` stay. Pollers scale with the backlog: a poller that received a full batch
starts another (up to the function's concurrency), and an idle one goes away while others run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import GureumError
from ..types import InvocationResult
from .mappings import Mapping

log = logging.getLogger("gureum.events.sqs")

LONG_POLL_S = 20.0  # what Lambda's pollers wait for a message
MAX_RECEIVE = 10  # SQS gives at most 10 messages per receive
THROTTLED_BACKOFF_S = 1.0


class Message(Protocol):
    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, str]
    message_attributes: dict[str, Any]


class QueueService(Protocol):
    """What the pollers need of gureum's queues (services/queues)."""

    def name_of_arn(self, arn: str) -> str: ...

    async def receive(
        self, name: str, max_messages: int, *, visibility_timeout_s: int | None = ...,
        wait_s: float = ...,
    ) -> list[Any]: ...  # fmt: skip

    async def delete(self, name: str, receipt_handle: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PollerContext:
    queues: QueueService
    invoke: Callable[[str, str | None, bytes], Awaitable[InvocationResult]]
    concurrency_limit: Callable[[str], int]  # how many batches a function may run at once
    record_result: Callable[[str, str], None]
    region: str


def run_mapping(context: PollerContext, mapping: Mapping) -> Callable[[], Awaitable[None]]:
    """Start the mapping's pollers; returns what stops them."""
    pollers = MappingPollers(context, mapping)
    pollers.add()
    return pollers.stop


class MappingPollers:
    def __init__(self, context: PollerContext, mapping: Mapping) -> None:
        self.context = context
        self.mapping = mapping
        self.queue = context.queues.name_of_arn(mapping.source_arn)
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False

    @property
    def limit(self) -> int:
        limit = self.context.concurrency_limit(self.mapping.function)
        if self.mapping.max_concurrency is not None:
            limit = min(limit, self.mapping.max_concurrency)
        return max(1, limit)

    def add(self) -> None:
        if self.stopping or len(self.tasks) >= self.limit:
            return
        task = asyncio.create_task(self._poll(), name=f"sqs-poller-{self.mapping.uuid}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        """Stop polling; a batch being delivered is let finish (its messages are handled)."""
        self.stopping = True
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _poll(self) -> None:
        while not self.stopping:
            try:
                batch = await self._collect()
            except GureumError as error:  # the queue is gone: wait for the mapping to go too
                self.context.record_result(self.mapping.uuid, f"PROBLEM: {error.message}")
                await asyncio.sleep(LONG_POLL_S)
                continue
            if not batch:
                if len(self.tasks) > 1:
                    return  # idle while others poll: scale in
                continue
            if len(batch) >= min(self.mapping.batch_size, MAX_RECEIVE):
                self.add()  # a full batch: there may be more waiting
            # Shielded: once received, a batch is delivered and settled even if we are stopped.
            await asyncio.shield(self._deliver(batch))

    async def _collect(self) -> list[Any]:
        """Up to BatchSize messages: one long poll, then more until the batch is full or the
        batching window has passed."""
        want = self.mapping.batch_size
        receive = self.context.queues.receive
        batch = await receive(self.queue, min(want, MAX_RECEIVE), wait_s=LONG_POLL_S)
        if not batch or self.mapping.window_s == 0:
            return batch
        # Real time, as the long polls' waits are (an injected clock does not move them).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.mapping.window_s
        while len(batch) < want:
            left = deadline - loop.time()
            if left <= 0:
                break
            more = await receive(self.queue, min(want - len(batch), MAX_RECEIVE), wait_s=left)
            batch.extend(more)
        return batch

    async def _deliver(self, batch: list[Any]) -> None:
        mapping = self.mapping
        payload = json.dumps({"Records": [self._record(m) for m in batch]}).encode()
        try:
            result = await self.context.invoke(mapping.function, mapping.qualifier, payload)
        except GureumError as error:
            # Throttled or not invocable now: the messages come back after their visibility
            # timeout, as on Lambda.
            self.context.record_result(mapping.uuid, f"PROBLEM: {error.message}")
            await asyncio.sleep(THROTTLED_BACKOFF_S)
            return
        if result.function_error:
            self.context.record_result(mapping.uuid, "PROBLEM: Function call failed")
            return
        handled = batch
        if mapping.reports_item_failures:
            failed = failed_items(result.payload, {m.message_id for m in batch})
            if failed is None:  # an answer Lambda cannot read: the whole batch failed
                self.context.record_result(mapping.uuid, "PROBLEM: Function call failed")
                return
            handled = [m for m in batch if m.message_id not in failed]
        await asyncio.gather(
            *(self.context.queues.delete(self.queue, m.receipt_handle) for m in handled)
        )
        self.context.record_result(mapping.uuid, "OK")

    def _record(self, message: Any) -> dict[str, Any]:
        return {
            "messageId": message.message_id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": message.attributes,
            "messageAttributes": {
                name: lambda_attribute(value) for name, value in message.message_attributes.items()
            },
            "md5OfBody": message.md5_of_body,
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.source_arn,
            "awsRegion": self.context.region,
        }


def lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda's SQS event spells it (the SQS API's names, lower camel)."""
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType"),
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        binary = value["BinaryValue"]
        if isinstance(binary, bytes):
            binary = base64.b64encode(binary).decode()
        attribute["binaryValue"] = binary
    return attribute


def failed_items(payload: bytes, ids: set[str]) -> set[str] | None:
    """The message ids a ReportBatchItemFailures answer names; None when it cannot be read
    (then, as on Lambda, the whole batch failed). An empty or null answer means all succeeded."""
    try:
        answer = json.loads(payload) if payload.strip() else None
    except ValueError:
        return None
    if answer is None or answer == {}:
        return set()
    if not isinstance(answer, dict):
        return None
    failures = answer.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    failed = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in ids:
            return None
        failed.add(identifier)
    return failed
