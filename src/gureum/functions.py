"""Functions: create, read, update and delete them, each change validated before it is
stored (``platform.functions``)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from . import validation
from .clock import Clock
from .errors import InvalidParameterValueException
from .sandbox.runtimes import available_runtimes
from .types import LATEST, FunctionConfig

if TYPE_CHECKING:
    from .platform import Platform


def _now_iso(clock: Clock) -> str:
    # Lambda's LastModified format: 2026-11-22T02:33:27.000+0000
    return datetime.fromtimestamp(clock.time(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


class Functions:
    """Create, read, update and delete functions. Every change is validated before it is stored."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._locks: dict[str, asyncio.Lock] = {}

    async def create(
        self,
        *,
        name: str,
        runtime: str,
        handler: str,
        code: bytes,
        memory_mb: int = 128,
        timeout_s: int = 3,
        env: Mapping[str, str] | None = None,
        description: str = "",
        ephemeral_storage_mb: int = 512,
        reserved_concurrency: int | None = None,
        role: str = "",
        layers: Sequence[str] | None = None,
        snap_start: str = "None",
        dead_letter_arn: str = "",
    ) -> FunctionConfig:
        p = self._platform
        if dead_letter_arn:
            p.events.check_destination(dead_letter_arn)
        config = FunctionConfig(
            name=validation.validate_function_name(name),
            runtime=validation.validate_runtime(runtime, available_runtimes()),
            handler=validation.validate_handler(handler),
            code_sha256="",
            code_size=0,
            memory_mb=validation.validate_memory(memory_mb),
            timeout_s=validation.validate_timeout(timeout_s),
            env=validation.validate_env(env or {}),
            description=validation.validate_description(description),
            role=role,
            layers=p.layers.check(layers or []),
            ephemeral_storage_mb=validation.validate_ephemeral_storage(ephemeral_storage_mb),
            reserved_concurrency=self._check_reservation(name, reserved_concurrency),
            snap_start=validation.validate_snap_start(snap_start),
            dead_letter_arn=dead_letter_arn,
        )
        ref = await asyncio.to_thread(p.code.prepare, code)
        config = dataclasses.replace(
            config,
            code_sha256=ref.sha256,
            code_size=ref.size,
            revision_id=str(uuid.uuid4()),
            last_modified=_now_iso(p.clock),
        )
        await asyncio.to_thread(p.registry.create_function, config)
        p.configs[config.name] = config
        p.engine.admission.set_reserved(config.name, config.reserved_concurrency)
        return config

    async def get(self, name: str) -> FunctionConfig:
        return self._platform.config(name)

    async def list(self) -> list[FunctionConfig]:
        return sorted(self._platform.configs.values(), key=lambda c: c.name)

    async def update_code(self, name: str, code: bytes) -> FunctionConfig:
        p = self._platform
        p.config(name)
        ref = await asyncio.to_thread(p.code.prepare, code)
        return await self._replace(name, {"code_sha256": ref.sha256, "code_size": ref.size})

    async def update_configuration(
        self,
        name: str,
        *,
        runtime: str | None = None,
        handler: str | None = None,
        memory_mb: int | None = None,
        timeout_s: int | None = None,
        env: Mapping[str, str] | None = None,
        description: str | None = None,
        ephemeral_storage_mb: int | None = None,
        role: str | None = None,
        layers: Sequence[str] | None = None,
        snap_start: str | None = None,
        dead_letter_arn: str | None = None,
    ) -> FunctionConfig:
        changes: dict[str, object] = {}
        if dead_letter_arn is not None:
            if dead_letter_arn:
                self._platform.events.check_destination(dead_letter_arn)
            changes["dead_letter_arn"] = dead_letter_arn
        if snap_start is not None:
            changes["snap_start"] = validation.validate_snap_start(snap_start)
        if layers is not None:
            changes["layers"] = self._platform.layers.check(layers)
        if role is not None:
            changes["role"] = role
        if runtime is not None:
            changes["runtime"] = validation.validate_runtime(runtime, available_runtimes())
        if handler is not None:
            changes["handler"] = validation.validate_handler(handler)
        if memory_mb is not None:
            changes["memory_mb"] = validation.validate_memory(memory_mb)
        if timeout_s is not None:
            changes["timeout_s"] = validation.validate_timeout(timeout_s)
        if env is not None:
            changes["env"] = validation.validate_env(env)
        if description is not None:
            changes["description"] = validation.validate_description(description)
        if ephemeral_storage_mb is not None:
            changes["ephemeral_storage_mb"] = validation.validate_ephemeral_storage(
                ephemeral_storage_mb
            )
        return await self._replace(name, changes)

    async def set_reserved_concurrency(self, name: str, reserved: int | None) -> FunctionConfig:
        p = self._platform
        checked = self._check_reservation(name, reserved)
        # Not a change of the function itself: same revision, and its warm instances stay.
        changes: dict[str, object] = {"reserved_concurrency": checked}
        config = await self._replace(name, changes, new_revision=False)
        p.engine.admission.set_reserved(name, checked)
        return config

    def _check_reservation(self, name: str, reserved: int | None) -> int | None:
        """Lambda keeps a floor of unreserved concurrency for every other function."""
        p = self._platform
        limit = p.settings.engine.max_concurrency
        checked = validation.validate_reserved_concurrency(reserved, limit)
        floor = min(100, limit // 10)
        others = sum(c.reserved_concurrency or 0 for c in p.configs.values() if c.name != name)
        if checked is not None and limit - others - checked < floor:
            raise InvalidParameterValueException(
                f"Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{floor}]."
            )
        return checked

    async def _replace(
        self, name: str, changes: dict[str, object], new_revision: bool = True
    ) -> FunctionConfig:
        p = self._platform
        # One change at a time per function: two concurrent updates must not lose one.
        async with self._locks.setdefault(name, asyncio.Lock()):
            current = p.config(name)
            config = dataclasses.replace(
                current,
                **changes,  # type: ignore[arg-type]
                revision_id=str(uuid.uuid4()) if new_revision else current.revision_id,
                last_modified=_now_iso(p.clock),
            )
            await asyncio.to_thread(p.registry.update_function, config)
            p.configs[name] = config
        if new_revision:
            # Instances of the old revision finish what they run, and are never reused.
            await p.engine.retire_function(name, LATEST, keep_revision=config.revision_id)
        return config

    async def delete(self, name: str) -> None:
        p = self._platform
        p.config(name)
        versions = p.versions.by_function.get(name, {}).values()
        shas = {v.code_sha256 for v in versions}
        deleted = await asyncio.to_thread(p.registry.delete_function, name)
        p.configs.pop(name, None)
        p.versions.forget(name)
        p.aliases.forget(name)
        p.provisioning.forget(name)
        await p.http.forget_function(name)
        await p.events.forget_function(name)
        await p.mappings.forget_function(name)
        p.engine.admission.set_reserved(name, None)
        await p.engine.retire_function(name)
        await p.telemetry.delete_function(name)
        for sha in {deleted.code_sha256, *shas}:
            await self.collect_code(sha)

    async def collect_code(self, sha256: str) -> None:
        """Delete stored code that no function or version uses any more."""
        p = self._platform
        if not await asyncio.to_thread(p.registry.code_in_use, sha256):
            await asyncio.to_thread(p.code.delete, sha256)
