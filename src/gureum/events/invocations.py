"""Asynchronous invocation as the platform offers it: accept durably, deliver, configure.

request_id = await invocations.accept("resize", None, payload)   # committed when it returns
invocations.put_config("resize", "$LATEST", max_retries=0, on_failure=arn)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..clock import Clock
from ..errors import ResourceNotFoundException
from ..types import LATEST
from .delivery import Delivery, DeliveryPolicy, DeliverySettings, Invoke
from .invoke_config import (
    Destination,
    EventInvokeConfig,
    check_max_age,
    check_retries,
    parse_destination,
)
from .queue import EventQueue, NewEvent, QueueStats


@dataclass(frozen=True, slots=True)
class FunctionFacts:
    """What the platform tells asynchronous invocation about functions."""

    function_arn: Callable[[str], str]  # name -> unqualified ARN
    dead_letter_arn: Callable[[str], str | None]
    new_request_id: Callable[[], str]
    region: str
    account: str


class AsyncInvocations(DeliveryPolicy):
    def __init__(
        self,
        path: Path,
        invoke: Invoke,
        facts: FunctionFacts,
        clock: Clock,
        settings: DeliverySettings | None = None,
        *,
        fsync: bool = True,
    ) -> None:
        self.facts = facts
        self.clock = clock
        self.queue = EventQueue(path, fsync=fsync)
        self.delivery = Delivery(self.queue, invoke, self, clock, settings)
        self.configs: dict[tuple[str, str], EventInvokeConfig] = {}

    async def start(self) -> None:
        await self.queue.start()
        for config in await self.queue.load_invoke_configs():
            self.configs[config.function, config.qualifier] = config
        self.delivery.start()

    async def aclose(self) -> None:
        await self.delivery.aclose()
        await self.queue.aclose()

    async def accept(self, function: str, qualifier: str | None, payload: bytes) -> str:
        """Queue one event; returns its request id once it is on disk."""
        request_id = self.facts.new_request_id()
        event = NewEvent(function, qualifier, payload, request_id)
        await self.queue.accept(event, self.clock.time())
        self.delivery.notify()
        return request_id

    async def stats(self, function: str) -> QueueStats:
        return await self.queue.stats(function, self.clock.time())

    async def forget_function(self, function: str) -> None:
        await self.queue.forget_function(function)
        for key in [k for k in self.configs if k[0] == function]:
            del self.configs[key]

    async def forget_qualifier(self, function: str, qualifier: str) -> None:
        if self.configs.pop((function, qualifier), None) is not None:
            await self.queue.delete_invoke_config(function, qualifier)

    # -- FunctionEventInvokeConfig ------------------------------------------------------------

    async def put_config(
        self,
        function: str,
        qualifier: str,
        *,
        max_retries: int | None = None,
        max_age_s: int | None = None,
        on_success: str | None = None,
        on_failure: str | None = None,
    ) -> EventInvokeConfig:
        """Replace the whole configuration: what is not given goes back to its default."""
        config = EventInvokeConfig(function, qualifier)
        return await self._store(
            config, max_retries, max_age_s, on_success, on_failure, replace_destinations=True
        )

    async def update_config(
        self,
        function: str,
        qualifier: str,
        *,
        max_retries: int | None = None,
        max_age_s: int | None = None,
        on_success: str | None = None,
        on_failure: str | None = None,
        destinations_given: bool = False,
    ) -> EventInvokeConfig:
        """Change only what is given (Lambda's UpdateFunctionEventInvokeConfig)."""
        config = self.configs.get((function, qualifier), EventInvokeConfig(function, qualifier))
        return await self._store(
            config,
            max_retries,
            max_age_s,
            on_success,
            on_failure,
            replace_destinations=destinations_given,
        )

    def get_config(self, function: str, qualifier: str) -> EventInvokeConfig:
        config = self.configs.get((function, qualifier))
        if config is None:
            raise ResourceNotFoundException(
                f"The function {self.facts.function_arn(function)}:{qualifier} doesn't have "
                "an EventInvokeConfig"
            )
        return config

    async def delete_config(self, function: str, qualifier: str) -> None:
        self.get_config(function, qualifier)
        await self.forget_qualifier(function, qualifier)

    def list_configs(self, function: str) -> list[EventInvokeConfig]:
        return sorted(
            (c for (f, _), c in self.configs.items() if f == function),
            key=lambda c: c.qualifier,
        )

    async def _store(
        self,
        config: EventInvokeConfig,
        max_retries: int | None,
        max_age_s: int | None,
        on_success: str | None,
        on_failure: str | None,
        *,
        replace_destinations: bool,
    ) -> EventInvokeConfig:
        changes: dict[str, object] = {"last_modified": self.clock.time()}
        if max_retries is not None:
            changes |= {"max_retries": check_retries(max_retries), "retries_set": True}
        if max_age_s is not None:
            changes |= {"max_age_s": check_max_age(max_age_s), "age_set": True}
        if replace_destinations:
            for key, arn in (("on_success", on_success), ("on_failure", on_failure)):
                if arn:
                    self.check_destination(arn)
                changes[key] = arn or None
        config = replace(config, **changes)  # type: ignore[arg-type]
        await self.queue.put_invoke_config(config)
        self.configs[config.function, config.qualifier] = config
        return config

    def check_destination(self, arn: str) -> None:
        parse_destination(arn, self.facts.region, self.facts.account)

    # -- DeliveryPolicy ---------------------------------------------------------------------

    def invoke_config(self, function: str, qualifier: str | None) -> EventInvokeConfig:
        key = (function, qualifier or LATEST)
        return self.configs.get(key) or EventInvokeConfig(function, key[1])

    def dead_letter(self, function: str) -> Destination | None:
        arn = self.facts.dead_letter_arn(function)
        if not arn:
            return None
        return parse_destination(arn, self.facts.region, self.facts.account)

    def function_arn(self, function: str, qualifier: str | None) -> str:
        arn = self.facts.function_arn(function)
        return f"{arn}:{qualifier}" if qualifier else arn

    def new_request_id(self) -> str:
        return self.facts.new_request_id()
