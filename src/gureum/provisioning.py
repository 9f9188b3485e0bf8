"""Provisioned concurrency: a number of instances of a version kept initialised and warm.

They are started when the setting is made (and again when gureum starts), are never reclaimed
for idleness or memory, and serve invocations like any warm instance.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import GureumError, InvalidParameterValueException
from .types import LATEST, FunctionConfig

if TYPE_CHECKING:
    from .platform import Platform

# Put answers once its instances are up, or with IN_PROGRESS after this long.
PUT_WAIT_S = 30.0


class ProvisionedConcurrencyConfigNotFoundException(GureumError):
    error_type = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404


@dataclass(slots=True)
class Setting:
    function: str
    qualifier: str
    requested: int
    last_modified: str
    status: str = "IN_PROGRESS"
    reason: str | None = None
    task: asyncio.Task[None] | None = None


class Provisioning:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.settings: dict[tuple[str, str], Setting] = {}

    def restore(self) -> None:
        """Start the provisioned instances recorded in the registry (at platform start)."""
        for function, qualifier, count, modified in self._platform.registry.list_provisioned():
            if function in self._platform.configs:
                setting = Setting(function, qualifier, count, modified)
                self.settings[(function, qualifier)] = setting
                self._start(setting)

    def _version(self, function: str, qualifier: str) -> FunctionConfig:
        p = self._platform
        if qualifier == LATEST:
            raise InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished "
                "function versions."
            )
        if not qualifier.isdigit():
            qualifier = p.aliases.get(function, qualifier)["FunctionVersion"]
        return p.versions.get(function, qualifier)

    def _start(self, setting: Setting) -> None:
        config = self._version(setting.function, setting.qualifier)

        async def provision() -> None:
            try:
                await self._platform.engine.fleet.provision(config, setting.requested)
            except Exception as exc:  # an init error, a throttle, a platform failure
                setting.status, setting.reason = "FAILED", str(exc)
                return
            setting.status, setting.reason = "READY", None

        setting.status = "IN_PROGRESS"
        setting.task = asyncio.create_task(provision())

    async def put(self, function: str, qualifier: str, count: int) -> dict[str, Any]:
        p = self._platform
        if count < 1:
            raise InvalidParameterValueException("ProvisionedConcurrentExecutions must be >= 1")
        self._version(function, qualifier)
        modified = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        await asyncio.to_thread(p.registry.put_provisioned, function, qualifier, count, modified)
        setting = Setting(function, qualifier, count, modified)
        self.settings[(function, qualifier)] = setting
        self._start(setting)
        assert setting.task is not None
        await asyncio.wait([setting.task], timeout=PUT_WAIT_S)
        return self.describe(function, qualifier)

    def describe(self, function: str, qualifier: str) -> dict[str, Any]:
        setting = self.settings.get((function, qualifier))
        if setting is None:
            raise ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function"
            )
        fleet = self._platform.engine.fleet
        ready = fleet.provisioned_ready(self._version(function, qualifier))
        result: dict[str, Any] = {
            "RequestedProvisionedConcurrentExecutions": setting.requested,
            "AvailableProvisionedConcurrentExecutions": ready,
            "AllocatedProvisionedConcurrentExecutions": ready,
            "Status": setting.status,
            "LastModified": setting.last_modified,
        }
        if setting.reason:
            result["StatusReason"] = setting.reason
        return result

    def list(self, function: str) -> list[tuple[str, dict[str, Any]]]:
        self._platform.config(function)
        return [
            (qualifier, self.describe(function, qualifier))
            for (name, qualifier) in sorted(self.settings)
            if name == function
        ]

    async def delete(self, function: str, qualifier: str) -> None:
        setting = self.settings.pop((function, qualifier), None)
        if setting is None:
            raise ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function"
            )
        if setting.task is not None:
            setting.task.cancel()
        await asyncio.to_thread(self._platform.registry.delete_provisioned, function, qualifier)
        # Its instances become ordinary warm ones, reclaimed after the keep-alive.
        await self._platform.engine.fleet.provision(self._version(function, qualifier), 0)

    def forget(self, function: str) -> None:
        for key in [k for k in self.settings if k[0] == function]:
            setting = self.settings.pop(key)
            if setting.task is not None:
                setting.task.cancel()
