"""Event source mappings: a queue's messages delivered to a function in batches (Lambda's
Create/Get/Update/Delete/ListEventSourceMapping(s), SQS sources).

A mapping is a row in events.db; while it is enabled, its pollers (``sqs_poller``) run. They
start on create or enable, stop on disable or delete, and come back when the platform restarts.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..clock import Clock
from ..errors import (
    GureumError,
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from .db import GroupCommitDb

# Lambda's limits for SQS sources: a batch of up to 10 without a batching window, up to 10,000
# with one; the window at most 300 s.
MAX_BATCH = 10_000
MAX_BATCH_WITHOUT_WINDOW = 10
MAX_WINDOW_S = 300
RESPONSE_TYPES = ("ReportBatchItemFailures",)


@dataclass(frozen=True, slots=True)
class Mapping:
    uuid: str
    function: str
    qualifier: str | None
    source_arn: str
    batch_size: int = 10
    window_s: int = 0
    enabled: bool = True
    response_types: tuple[str, ...] = ()
    max_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency
    last_modified: float = 0.0
    last_result: str = "No records processed"
    extra: dict[str, Any] = field(default_factory=dict)  # kept for Get, not acted on

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Mapping:
        data = json.loads(text)
        data["response_types"] = tuple(data["response_types"])
        return cls(**data)

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.response_types


# Runs a mapping's pollers until the returned callable is awaited (which stops them).
Runner = Callable[[Mapping], Callable[[], Awaitable[None]]]


class EventSourceMappings:
    def __init__(self, db: GroupCommitDb, clock: Clock, check_source: Callable[[str], object]):
        self.db = db
        self.clock = clock
        self.check_source = check_source  # raises when the source ARN names no queue
        self.by_uuid: dict[str, Mapping] = {}
        self.run: Runner | None = None  # set by the platform: starts a mapping's pollers
        self._stops: dict[str, Callable[[], Awaitable[None]]] = {}

    async def start(self) -> None:
        rows = await self.db.run(
            lambda c: c.execute("SELECT config FROM event_source_mappings").fetchall()
        )
        for (text,) in rows:
            mapping = Mapping.from_json(text)
            self.by_uuid[mapping.uuid] = mapping
            self._follow(mapping)

    async def aclose(self) -> None:
        for stop in list(self._stops.values()):
            await stop()
        self._stops.clear()

    # -- the API's operations ---------------------------------------------------------------

    async def create(self, mapping: Mapping) -> Mapping:
        try:
            self.check_source(mapping.source_arn)
        except GureumError as error:
            raise InvalidParameterValueException(
                f"The event source {mapping.source_arn} is not a queue of this gureum: "
                f"{error.message}"
            ) from error
        for other in self.by_uuid.values():
            if (other.source_arn, other.function, other.qualifier) == (
                mapping.source_arn,
                mapping.function,
                mapping.qualifier,
            ):
                raise ResourceConflictException(
                    f'An event source mapping with SQS arn " {mapping.source_arn} " and '
                    f'function " {mapping.function} " already exists. Please update or '
                    f"delete the existing mapping with UUID {other.uuid}"
                )
        mapping = replace(check(mapping), uuid=str(uuid.uuid4()), last_modified=self.clock.time())
        await self._save(mapping)
        return mapping

    def get(self, mapping_uuid: str) -> Mapping:
        mapping = self.by_uuid.get(mapping_uuid)
        if mapping is None:
            raise ResourceNotFoundException(
                f"The resource you requested does not exist. (Service: Lambda, UUID: "
                f"{mapping_uuid})"
            )
        return mapping

    def list(self, function: str | None = None, source_arn: str | None = None) -> list[Mapping]:
        return [
            m
            for m in sorted(self.by_uuid.values(), key=lambda m: m.uuid)
            if function in (None, m.function) and source_arn in (None, m.source_arn)
        ]

    async def update(self, mapping: Mapping) -> Mapping:
        mapping = replace(check(mapping), last_modified=self.clock.time())
        await self._save(mapping)
        return mapping

    async def delete(self, mapping_uuid: str) -> Mapping:
        mapping = self.get(mapping_uuid)
        await self.db.run(
            lambda c: c.execute("DELETE FROM event_source_mappings WHERE uuid = ?", (mapping.uuid,))
        )
        del self.by_uuid[mapping.uuid]
        await self._unfollow(mapping.uuid)
        return mapping

    async def forget_function(self, function: str) -> None:
        for mapping in [m for m in self.by_uuid.values() if m.function == function]:
            await self.delete(mapping.uuid)

    def record_result(self, mapping_uuid: str, result: str) -> None:
        """What the last batch came to (shown as LastProcessingResult; not persisted)."""
        mapping = self.by_uuid.get(mapping_uuid)
        if mapping is not None and mapping.last_result != result:
            self.by_uuid[mapping_uuid] = replace(mapping, last_result=result)

    # -- pollers -------------------------------------------------------------------------------

    async def _save(self, mapping: Mapping) -> None:
        await self.db.run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO event_source_mappings (uuid, config) VALUES (?, ?)",
                (mapping.uuid, mapping.to_json()),
            )
        )
        self.by_uuid[mapping.uuid] = mapping
        await self._unfollow(mapping.uuid)
        self._follow(mapping)

    def _follow(self, mapping: Mapping) -> None:
        if mapping.enabled and self.run is not None:
            self._stops[mapping.uuid] = self.run(mapping)

    async def _unfollow(self, mapping_uuid: str) -> None:
        stop = self._stops.pop(mapping_uuid, None)
        if stop is not None:
            await stop()


def check(mapping: Mapping) -> Mapping:
    """Lambda's limits; raises InvalidParameterValueException naming the setting."""
    if not 1 <= mapping.batch_size <= MAX_BATCH:
        raise InvalidParameterValueException(f"BatchSize must be between 1 and {MAX_BATCH}")
    if not 0 <= mapping.window_s <= MAX_WINDOW_S:
        raise InvalidParameterValueException(
            f"MaximumBatchingWindowInSeconds must be between 0 and {MAX_WINDOW_S}"
        )
    if mapping.batch_size > MAX_BATCH_WITHOUT_WINDOW and mapping.window_s < 1:
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
            f"greater than {MAX_BATCH_WITHOUT_WINDOW}"
        )
    unknown = [t for t in mapping.response_types if t not in RESPONSE_TYPES]
    if unknown:
        raise InvalidParameterValueException(
            f"FunctionResponseTypes {unknown[0]} is not one of {', '.join(RESPONSE_TYPES)}"
        )
    if mapping.max_concurrency is not None and not 2 <= mapping.max_concurrency <= 1000:
        raise InvalidParameterValueException(
            "ScalingConfig.MaximumConcurrency must be between 2 and 1000"
        )
    return mapping
