"""Delivering queued asynchronous invocations: lease, invoke, then retry, record or give up.

Lambda's rules: a function error (timeouts included) is retried ``MaximumRetryAttempts`` times,
after the configured delays (Lambda's 1 and 2 minutes by default); throttling and platform
errors are retried with exponential backoff; an event older than ``MaximumEventAgeInSeconds`` is
given up on. What ends an event (success, retries exhausted, too old) sends a record to the
matching destination and, on failure, the event itself to the function's dead-letter target.
Every step is one transaction of the queue, so a crash at any point delivers again rather than
never (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..clock import Clock
from ..errors import GureumError, ResourceNotFoundException
from ..types import LATEST, InvocationResult
from .invoke_config import Destination, EventInvokeConfig, is_queue
from .queue import EventQueue, NewEvent, QueuedEvent
from .records import EVENT_AGE_EXCEEDED, RETRIES_EXHAUSTED, SUCCESS, destination_record

log = logging.getLogger("gureum.events")

# (name, qualifier, payload, request id) -> result; raises for what is not the function's fault.
Invoke = Callable[[str, str | None, bytes, str], Awaitable[InvocationResult]]


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    # Waits before the first and second retry of a function error (Lambda: 1 and 2 minutes).
    retry_delays_s: Sequence[float] = (60.0, 120.0)
    # Throttles and platform errors: backoff from the first to the last, doubling.
    backoff_s: tuple[float, float] = (1.0, 300.0)
    max_in_flight: int = 64


class DeliveryPolicy:
    """What gureum knows about a function that delivery needs (the platform provides it)."""

    def invoke_config(self, function: str, qualifier: str | None) -> EventInvokeConfig:
        raise NotImplementedError

    def dead_letter(self, function: str) -> Destination | None:
        raise NotImplementedError

    def function_arn(self, function: str, qualifier: str | None) -> str:
        raise NotImplementedError

    def new_request_id(self) -> str:
        raise NotImplementedError


class Delivery:
    def __init__(
        self,
        queue: EventQueue,
        invoke: Invoke,
        policy: DeliveryPolicy,
        clock: Clock,
        settings: DeliverySettings | None = None,
    ) -> None:
        self.queue = queue
        self.invoke = invoke
        # Sends a record to a queue destination (queue ARN, payload); set by the platform.
        self.send_to_queue: Callable[[str, bytes], Awaitable[None]] | None = None
        self.policy = policy
        self.clock = clock
        self.settings = settings or DeliverySettings()
        self._wake = asyncio.Event()
        self._quiet = asyncio.Event()  # set by a pass that found nothing due and nothing running
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def notify(self) -> None:
        """Something may be due now (an event was accepted, the clock moved)."""
        self._quiet.clear()
        self._wake.set()

    async def drain(self) -> None:
        """Wait until nothing is due at the clock's current time and nothing is being delivered
        (tests on a manual clock call this after moving it)."""
        self.notify()
        await self._quiet.wait()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Deliveries under way finish (bounded): what they leave undone is delivered again.
        if self._in_flight:
            _, pending = await asyncio.wait(list(self._in_flight), timeout=30)
            for task in pending:
                task.cancel()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            free = self.settings.max_in_flight - len(self._in_flight)
            leased: list[QueuedEvent] = []
            if free > 0:
                try:
                    leased = await self.queue.lease_due(self.clock.time(), free)
                except Exception:
                    log.exception("could not read the event queue; trying again")
                    await asyncio.sleep(1)
                    continue
                for event in leased:
                    task = asyncio.create_task(self._deliver(event))
                    self._in_flight.add(task)
                    task.add_done_callback(self._delivered)
                if len(leased) == free:
                    continue  # more may be due
            next_due = await self.queue.next_due()
            now = self.clock.time()
            if next_due is not None and next_due <= now and free > len(leased):
                continue
            if not self._in_flight and (next_due is None or next_due > now):
                self._quiet.set()
            timeout = None if next_due is None else max(0.0, next_due - now)
            if free <= len(leased):
                timeout = None  # every slot is busy: a delivery that ends wakes us
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _delivered(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivering an event failed", exc_info=task.exception())

    async def _deliver(self, event: QueuedEvent) -> None:
        if is_queue(event.function):
            await self._send(event)
            return
        config = self.policy.invoke_config(event.function, event.qualifier)
        now = self.clock.time()
        if now - event.accepted_at > config.max_age_s:
            await self._give_up(event, config, EVENT_AGE_EXCEEDED, None, event.attempts)
            return
        try:
            result = await self.invoke(
                event.function, event.qualifier, event.payload, event.request_id
            )
        except ResourceNotFoundException as error:
            # The function (or its version or alias) is gone: nobody is left to deliver to.
            log.warning("dropping event %s: %s", event.request_id, error.message)
            await self.queue.finish(event, "dropped", [], self.clock.time())
            return
        except GureumError as error:  # throttled, or the platform failed: not the function's fault
            await self._back_off(event, config, error)
            return
        now = self.clock.time()
        if result.ok:
            follow_ups = []
            if config.on_success is not None:
                record = self._record(event, SUCCESS, event.attempts + 1, result)
                follow_ups.append(self._to(config.on_success, record))
            await self.queue.finish(event, "succeeded", follow_ups, now)
            return
        failures = event.function_errors + 1
        if failures > config.max_retries:
            await self._give_up(event, config, RETRIES_EXHAUSTED, result, event.attempts + 1)
            return
        delays = self.settings.retry_delays_s
        due = now + delays[min(failures, len(delays)) - 1]
        if due - event.accepted_at > config.max_age_s:
            await self._give_up(event, config, EVENT_AGE_EXCEEDED, result, event.attempts + 1)
            return
        await self.queue.retry_at(event, due, function_error=True, count_retry=True)

    async def _back_off(
        self, event: QueuedEvent, config: EventInvokeConfig, error: GureumError
    ) -> None:
        first, last = self.settings.backoff_s
        delay = min(first * 2 ** min(event.attempts, 30), last)
        now = self.clock.time()
        if now + delay - event.accepted_at > config.max_age_s:
            await self._give_up(event, config, EVENT_AGE_EXCEEDED, None, event.attempts + 1)
            return
        log.info("event %s: %s; retrying in %.0f s", event.request_id, error.message, delay)
        await self.queue.retry_at(event, now + delay, function_error=False, count_retry=True)

    async def _give_up(
        self,
        event: QueuedEvent,
        config: EventInvokeConfig,
        condition: str,
        result: InvocationResult | None,
        invoke_count: int,
    ) -> None:
        follow_ups = []
        if config.on_failure is not None:
            record = self._record(event, condition, invoke_count, result)
            follow_ups.append(self._to(config.on_failure, record))
        dead_letter = self.policy.dead_letter(event.function)
        if dead_letter is not None:
            # A dead-letter target receives the event itself, as Lambda's DLQ does.
            follow_ups.append(self._deliver_to(dead_letter, event.payload))
        log.info("event %s for %s given up: %s", event.request_id, event.function, condition)
        await self.queue.finish(event, "failed", follow_ups, self.clock.time())

    def _record(
        self,
        event: QueuedEvent,
        condition: str,
        invoke_count: int,
        result: InvocationResult | None,
    ) -> bytes:
        return destination_record(
            request_id=event.request_id,
            function_arn=self.policy.function_arn(event.function, event.qualifier or LATEST),
            condition=condition,
            invoke_count=invoke_count,
            payload=event.payload,
            result=result,
            now=self.clock.time(),
        )

    async def _send(self, event: QueuedEvent) -> None:
        """A destination's record (or a dead letter) for a queue: sent, then finished."""
        try:
            if self.send_to_queue is None:
                raise ResourceNotFoundException("this gureum has no queues")
            await self.send_to_queue(event.function, event.payload)
        except ResourceNotFoundException as error:
            log.warning("dropping %s for %s: %s", event.request_id, event.function, error.message)
            await self.queue.finish(event, "dropped", [], self.clock.time())
            return
        except GureumError as error:
            config = self.policy.invoke_config(event.function, None)
            await self._back_off(event, config, error)
            return
        await self.queue.finish(event, "succeeded", [], self.clock.time())

    def _to(self, arn: str, payload: bytes) -> NewEvent:
        if is_queue(arn):
            return NewEvent(arn, None, payload, self.policy.new_request_id())
        function, _, qualifier = arn.split(":function:", 1)[1].partition(":")
        return self._deliver_to(Destination(function, qualifier or None), payload)

    def _deliver_to(self, destination: Destination, payload: bytes) -> NewEvent:
        return NewEvent(
            destination.function, destination.qualifier, payload, self.policy.new_request_id()
        )
