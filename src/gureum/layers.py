"""Layers: versioned zips of shared code or data that functions mount at /opt, up to five."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import InvalidParameterValueException, ResourceNotFoundException

if TYPE_CHECKING:
    from .platform import Platform

MAX_LAYERS = 5
LAYER_NAME = re.compile(r"[a-zA-Z0-9-_]{1,140}")


class Layers:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        # (name, version) -> (code sha256, the LayerVersion fields)
        self.versions: dict[tuple[str, int], tuple[str, dict[str, Any]]] = {}

    def load(self) -> None:
        for name, version, sha, info in self._platform.registry.list_layer_versions():
            self.versions[(name, version)] = (sha, info)

    def layer_arn(self, name: str) -> str:
        engine = self._platform.settings.engine
        return f"arn:aws:lambda:{engine.region}:{engine.account_id}:layer:{name}"

    def parse_arn(self, arn: str) -> tuple[str, int]:
        """A layer version ARN (or name:version) -> (name, version)."""
        parts = arn.split(":")
        if arn.startswith("arn:") and len(parts) == 8 and parts[5] == "layer":
            name, version = parts[6], parts[7]
        elif len(parts) == 2:
            name, version = parts
        else:
            raise InvalidParameterValueException(f"Invalid layer version ARN: {arn}")
        if not version.isdigit():
            raise InvalidParameterValueException(f"Invalid layer version ARN: {arn}")
        return name, int(version)

    def _name(self, value: str) -> str:
        name = value.split(":")[6] if value.startswith("arn:") else value
        if not LAYER_NAME.fullmatch(name):
            raise InvalidParameterValueException(f"Invalid layer name: {value}")
        return name

    async def publish(
        self,
        name: str,
        code: bytes,
        *,
        description: str = "",
        runtimes: list[str] | None = None,
        license_info: str | None = None,
    ) -> dict[str, Any]:
        p = self._platform
        name = self._name(name)
        ref = await asyncio.to_thread(p.code.prepare, code)
        info: dict[str, Any] = {
            "Description": description,
            "CreatedDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "CompatibleRuntimes": runtimes or [],
            "CodeSize": ref.size,
        }
        if license_info:
            info["LicenseInfo"] = license_info
        version = await asyncio.to_thread(p.registry.publish_layer_version, name, ref.sha256, info)
        info["Version"] = version
        self.versions[(name, version)] = (ref.sha256, info)
        return self.describe(name, version)

    def describe(self, name: str, version: int) -> dict[str, Any]:
        """A GetLayerVersion response body."""
        found = self.versions.get((self._name(name), version))
        if found is None or found[1].get("Deleted"):
            raise ResourceNotFoundException(
                f"The resource you requested does not exist: {self.layer_arn(name)}:{version}"
            )
        sha, info = found
        return {
            **info,
            "LayerArn": self.layer_arn(name),
            "LayerVersionArn": f"{self.layer_arn(name)}:{version}",
            # Lambda reports SHA-256 digests base64-encoded.
            "Content": {
                "CodeSha256": base64.b64encode(bytes.fromhex(sha)).decode(),
                "CodeSize": info["CodeSize"],
            },
        }

    def list_versions(self, name: str) -> list[dict[str, Any]]:
        name = self._name(name)
        numbers = sorted(
            (
                v
                for (n, v), (_, info) in self.versions.items()
                if n == name and not info.get("Deleted")
            ),
            reverse=True,
        )
        return [self.describe(name, v) for v in numbers]

    def names(self) -> list[str]:
        return sorted({n for (n, _), (_, info) in self.versions.items() if not info.get("Deleted")})

    async def delete(self, name: str, version: int) -> None:
        p = self._platform
        name = self._name(name)
        found = self.versions.get((name, version))
        if found is None or found[1].get("Deleted"):
            return  # Lambda's DeleteLayerVersion is idempotent
        arn = f"{self.layer_arn(name)}:{version}"
        in_use = any(arn in c.layers for c in p.configs.values()) or any(
            arn in v.layers for vs in p.versions.by_function.values() for v in vs.values()
        )
        # Functions that use it keep working: then its code stays, hidden from the API.
        await asyncio.to_thread(p.registry.delete_layer_version, name, version, keep_code=in_use)
        if in_use:
            self.versions[(name, version)] = (found[0], {**found[1], "Deleted": True})
        else:
            del self.versions[(name, version)]
            await p.functions.collect_code(found[0])

    def check(self, arns: Sequence[str]) -> tuple[str, ...]:
        """Validate a function's Layers list; returns it as stored."""
        if len(arns) > MAX_LAYERS:
            raise InvalidParameterValueException(f"Cannot reference more than {MAX_LAYERS} layers.")
        for arn in arns:
            name, version = self.parse_arn(arn)
            self.describe(name, version)
        return tuple(f"{self.layer_arn(self.parse_arn(a)[0])}:{self.parse_arn(a)[1]}" for a in arns)

    def code_size(self, arn: str) -> int:
        """The zipped size of a layer version a function uses (deleted ones included)."""
        found = self.versions.get(self.parse_arn(arn))
        return int(found[1]["CodeSize"]) if found else 0

    def code_of(self, arns: tuple[str, ...]) -> list[str]:
        """The code hashes of a function's layers, in order (for mounting at /opt)."""
        shas = []
        for arn in arns:
            found = self.versions.get(self.parse_arn(arn))
            if found is None:
                raise ResourceNotFoundException(f"Layer version not found: {arn}")
            shas.append(found[0])
        return shas
