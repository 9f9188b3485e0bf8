"""Published versions and aliases: immutable snapshots of a function, and names pointing at them.

An alias points at one version, and may send a share of its traffic to a second one
(``RoutingConfig.AdditionalVersionWeights``), for canary releases.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import uuid
from typing import TYPE_CHECKING, Any

from .errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from .types import LATEST, FunctionConfig

if TYPE_CHECKING:
    from .platform import Platform

ALIAS_NAME = re.compile(r"(?!^[0-9]+$)([a-zA-Z0-9-_]+)")


def _same_release(a: FunctionConfig, b: FunctionConfig) -> bool:
    """Whether two configurations differ only in what publishing itself changes."""

    def essence(c: FunctionConfig) -> FunctionConfig:
        return dataclasses.replace(c, version="", revision_id="", last_modified="", description="")

    return essence(a) == essence(b)


class Versions:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.by_function: dict[str, dict[str, FunctionConfig]] = {}

    def load(self) -> None:
        registry = self._platform.registry
        for name in self._platform.configs:
            self.by_function[name] = {v.version: v for v in registry.list_versions(name)}

    async def publish(
        self, name: str, description: str | None = None, expect_sha256: str | None = None
    ) -> FunctionConfig:
        """Snapshot $LATEST as the next version; if nothing changed since the last one, that
        one is returned instead (as Lambda does)."""
        p = self._platform
        latest = p.config(name)
        if expect_sha256 is not None and expect_sha256 != latest.code_sha256:
            raise InvalidParameterValueException(
                "CodeSha256 does not match the function's current code"
            )
        published = self.by_function.setdefault(name, {})
        if published:
            newest = published[max(published, key=int)]
            if _same_release(newest, latest):
                return newest
        snapshot = dataclasses.replace(
            latest,
            description=latest.description if description is None else description,
            # Its own revision: a version's instances never mix with $LATEST's.
            revision_id=str(uuid.uuid4()),
        )
        version = await asyncio.to_thread(p.registry.publish_version, snapshot)
        published[version.version] = version
        return version

    def get(self, name: str, version: str) -> FunctionConfig:
        p = self._platform
        if version == LATEST:
            return p.config(name)
        p.config(name)
        found = self.by_function.get(name, {}).get(version)
        if found is None:
            arn = p.settings.engine.function_arn(name)
            raise ResourceNotFoundException(f"Function not found: {arn}:{version}")
        return found

    def list(self, name: str) -> list[FunctionConfig]:
        """$LATEST first, then the published versions in order (as ListVersionsByFunction)."""
        latest = self._platform.config(name)
        published = self.by_function.get(name, {})
        return [latest, *(published[v] for v in sorted(published, key=int))]

    async def delete(self, name: str, version: str) -> None:
        p = self._platform
        self.get(name, version)
        if version == LATEST:
            raise InvalidParameterValueException("$LATEST is deleted with the function itself")
        for alias in p.aliases.by_function.get(name, {}).values():
            weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {})
            if alias["FunctionVersion"] == version or version in weights:
                raise ResourceConflictException(
                    f"Version {version} is used by alias {alias['Name']}: update the alias first"
                )
        deleted = await asyncio.to_thread(p.registry.delete_version, name, version)
        del self.by_function[name][version]
        await p.events.forget_qualifier(name, version)  # its EventInvokeConfig goes with it
        await p.engine.retire_function(name, version)
        await p.functions.collect_code(deleted.code_sha256)

    def forget(self, name: str) -> None:
        self.by_function.pop(name, None)


class Aliases:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.by_function: dict[str, dict[str, dict[str, Any]]] = {}

    def load(self) -> None:
        registry = self._platform.registry
        for name in self._platform.configs:
            self.by_function[name] = {a["Name"]: a for a in registry.list_aliases(name)}

    def _check(self, name: str, version: str, routing: dict[str, Any] | None) -> None:
        versions = self._platform.versions
        versions.get(name, version)
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        if len(weights) > 1:
            raise InvalidParameterValueException("An alias can route to one additional version")
        for extra, weight in weights.items():
            versions.get(name, extra)
            if LATEST in (version, extra):
                raise InvalidParameterValueException(
                    "Weighted routing is between published versions, not $LATEST"
                )
            if extra == version:
                raise InvalidParameterValueException("The additional version must differ")
            if not 0.0 <= float(weight) <= 1.0:
                raise InvalidParameterValueException("A routing weight is between 0.0 and 1.0")

    async def create(
        self,
        name: str,
        alias: str,
        version: str,
        description: str = "",
        routing: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        p = self._platform
        p.config(name)
        if not ALIAS_NAME.fullmatch(alias) or len(alias) > 128:
            raise InvalidParameterValueException(
                f"1 validation error detected: Value '{alias}' at 'name' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: "
                "(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
            )
        self._check(name, version, routing)
        record = {
            "Name": alias,
            "FunctionVersion": version,
            "Description": description,
            "RoutingConfig": routing or {},
            "RevisionId": str(uuid.uuid4()),
        }
        await asyncio.to_thread(p.registry.put_alias, name, record, create=True)
        self.by_function.setdefault(name, {})[alias] = record
        return record

    def get(self, name: str, alias: str) -> dict[str, Any]:
        p = self._platform
        p.config(name)
        found = self.by_function.get(name, {}).get(alias)
        if found is None:
            arn = p.settings.engine.function_arn(name)
            raise ResourceNotFoundException(f"Alias not found: {arn}:{alias}")
        return found

    async def update(
        self,
        name: str,
        alias: str,
        version: str | None = None,
        description: str | None = None,
        routing: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        record = dict(self.get(name, alias))
        if version is not None:
            record["FunctionVersion"] = version
        if description is not None:
            record["Description"] = description
        if routing is not None:
            record["RoutingConfig"] = routing
        self._check(name, record["FunctionVersion"], record["RoutingConfig"])
        record["RevisionId"] = str(uuid.uuid4())
        await asyncio.to_thread(self._platform.registry.put_alias, name, record, create=False)
        self.by_function[name][alias] = record
        return record

    async def delete(self, name: str, alias: str) -> None:
        p = self._platform
        self.get(name, alias)
        await asyncio.to_thread(p.registry.delete_alias, name, alias)
        del self.by_function[name][alias]
        # As on Lambda, what was set on the alias goes with it: its URL and async settings.
        await p.http.forget_qualifier(name, alias)
        await p.events.forget_qualifier(name, alias)

    def list(self, name: str) -> list[dict[str, Any]]:
        self._platform.config(name)
        aliases = self.by_function.get(name, {})
        return [aliases[a] for a in sorted(aliases)]

    def route(self, name: str, alias: str) -> str:
        """The version this invocation of the alias goes to, by the alias's weights."""
        record = self.get(name, alias)
        weights = (record.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        draw = random.random()
        for version, weight in weights.items():
            if draw < float(weight):
                return str(version)
        return str(record["FunctionVersion"])

    def forget(self, name: str) -> None:
        self.by_function.pop(name, None)
