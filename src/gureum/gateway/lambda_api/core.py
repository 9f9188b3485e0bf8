"""What every Lambda API operation shares: its context, registration, names and shapes.

Shapes are botocore's (``lambda/2015-03-31``): the protocol layer has already typed the input,
and serialises whatever dict comes back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...engine import snapshots
from ...errors import (
    GureumError,
    InvalidParameterValueException,
    ResourceNotFoundException,
)
from ...platform import Platform
from ...types import LATEST, FunctionConfig

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024  # Lambda's 6 MB for RequestResponse
ASYNC_PAYLOAD_LIMIT = 1024 * 1024  # gureum's limit for Event invocations
LOG_TAIL_BYTES = 4096
DEFAULT_PAGE = 50  # when MaxItems is absent: Lambda's, and within every listing's maximum


class PreconditionFailedException(GureumError):
    error_type = "PreconditionFailedException"
    status = 412


@dataclass(slots=True)
class LambdaContext:
    """What every operation may use: the platform, and the background work it started."""

    platform: Platform
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    def name_of(self, value: str) -> tuple[str, str | None]:
        """resolve_name, refusing an ARN of another region or account (as Lambda does)."""
        if value.startswith("arn:"):
            parts = value.split(":")
            engine = self.platform.settings.engine
            if len(parts) > 4 and parts[3] != engine.region:
                raise ResourceNotFoundException(
                    f"Functions from '{parts[3]}' are not reachable in this region "
                    f"('{engine.region}')"
                )
            if len(parts) > 4 and parts[4] != engine.account_id:
                raise ResourceNotFoundException(f"Function not found: {value}")
        return resolve_name(value)

    def arn(self, name: str) -> str:
        return self.platform.settings.engine.function_arn(name)


# The endpoint the current request came in on (set per request: tasks each see their own), for
# the URLs a response hands out.
endpoint_url: ContextVar[str] = ContextVar("endpoint_url", default="http://127.0.0.1:9000")

Operation = Callable[[LambdaContext, dict[str, Any]], Awaitable[dict[str, Any]]]
OPERATIONS: dict[str, Operation] = {}


def operation(fn: Operation) -> Operation:
    """Register ``fn`` under its botocore operation name (the function's own name in CamelCase)."""
    OPERATIONS["".join(part.title() for part in fn.__name__.split("_"))] = fn
    return fn


def resolve_name(value: str) -> tuple[str, str | None]:
    """A FunctionName parameter (name, name:qualifier, partial or full ARN) -> (name, qualifier)."""
    parts = value.split(":")
    if value.startswith("arn:"):
        # arn:aws:lambda:region:account:function:name[:qualifier]
        if len(parts) < 7 or parts[5] != "function":
            raise InvalidParameterValueException(f"Invalid function ARN: {value}")
        return parts[6], parts[7] if len(parts) > 7 else None
    if len(parts) >= 3 and parts[1] == "function":  # account:function:name[:qualifier]
        return parts[2], parts[3] if len(parts) > 3 else None
    if len(parts) == 2:
        return parts[0], parts[1]
    return value, None


def target(ctx: LambdaContext, params: dict[str, Any]) -> tuple[str, str | None]:
    """The function and qualifier a request names, from FunctionName and Qualifier."""
    name, derived = ctx.name_of(params["FunctionName"])
    qualifier = params.get("Qualifier")
    if derived is not None and qualifier is not None and derived != qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return name, qualifier or derived


def function_of(ctx: LambdaContext, params: dict[str, Any]) -> FunctionConfig:
    """The configuration a request names: $LATEST, a version, or an alias's primary version."""
    name, qualifier = target(ctx, params)
    platform = ctx.platform
    if qualifier is None or qualifier == LATEST:
        return platform.config(name)
    if not qualifier.isdigit():
        qualifier = platform.aliases.get(name, qualifier)["FunctionVersion"]
    return platform.versions.get(name, qualifier)


def configuration(ctx: LambdaContext, config: FunctionConfig) -> dict[str, Any]:
    """A FunctionConfiguration, as Lambda returns it."""
    result: dict[str, Any] = {
        "FunctionName": config.name,
        "FunctionArn": ctx.arn(config.name)
        + ("" if config.version == LATEST else f":{config.version}"),
        "Runtime": config.runtime,
        "Role": config.role,
        "Handler": config.handler,
        "CodeSize": config.code_size,
        "Description": config.description,
        "Timeout": config.timeout_s,
        "MemorySize": config.memory_mb,
        "LastModified": config.last_modified,
        # Lambda reports the code's SHA-256 base64-encoded, not in hex.
        "CodeSha256": base64.b64encode(bytes.fromhex(config.code_sha256)).decode(),
        "Version": config.version,
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": config.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": config.ephemeral_storage_mb},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{config.name}"},
        "SnapStart": {
            # gureum's "All" ($LATEST too) is not a value of Lambda's: versions are covered.
            "ApplyOn": "None" if config.snap_start == "None" else "PublishedVersions",
            "OptimizationStatus": "On" if snapshots.applies(config) else "Off",
        },
    }
    if config.dead_letter_arn:
        result["DeadLetterConfig"] = {"TargetArn": config.dead_letter_arn}
    if config.env:
        result["Environment"] = {"Variables": dict(config.env)}
    if config.layers:
        layers = ctx.platform.layers
        result["Layers"] = [
            {"Arn": arn, "CodeSize": layers.code_size(arn)} for arn in config.layers
        ]
    return result


def zip_file(params: dict[str, Any], holder: str) -> bytes:
    code = params.get(holder, {}) if holder else params
    if "ZipFile" not in code:
        if params.get("PackageType") == "Image" or "ImageUri" in code:
            raise InvalidParameterValueException(
                "gureum runs .zip packages; images are not supported"
            )
        raise InvalidParameterValueException(
            "Code must carry ZipFile: gureum does not fetch code from S3 (yet)"
        )
    zip_bytes: bytes = code["ZipFile"]
    return zip_bytes


def check_revision(config: FunctionConfig, p: dict[str, Any]) -> None:
    expected = p.get("RevisionId")
    if expected is not None and expected != config.revision_id:
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )


# -- pagination -------------------------------------------------------------------------------

Item = TypeVar("Item")
Key = TypeVar("Key", str, int)


def paginate(
    p: dict[str, Any],
    items: Sequence[Item],
    key: Callable[[Item], Key],
    key_type: type[Key],
    *,
    descending: bool = False,
) -> tuple[list[Item], dict[str, str]]:
    """The page of ``items`` that ``p``'s Marker and MaxItems ask for, and the rest of the
    response: ``{"NextMarker": ...}`` if there are more items, else ``{}``.

    ``items`` are in ``key`` order (``descending`` if so). The marker is the key of the last item
    handed out, so a page starts after it even while items come and go between calls: nothing is
    handed out twice, and nothing that existed throughout is skipped. It is opaque (base64 JSON,
    as Lambda's are tokens) so that a marker gureum did not hand out, or one from a listing keyed
    otherwise, is refused with InvalidParameterValueException rather than silently restarting.
    MaxItems' bounds are the model's, checked by the protocol layer."""
    page_size: int = p.get("MaxItems", DEFAULT_PAGE)
    marker = p.get("Marker")
    if marker:
        after = _read_marker(marker, key_type)
        if descending:
            items = [item for item in items if key(item) < after]
        else:
            items = [item for item in items if key(item) > after]
    page = list(items[:page_size])
    if len(items) <= page_size:
        return page, {}
    return page, {"NextMarker": _write_marker(key(page[-1]))}


def _write_marker(key: str | int) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _read_marker(marker: str, key_type: type[Key]) -> Key:
    key: object
    try:
        key = json.loads(base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)))
    except (binascii.Error, ValueError):  # ValueError: not UTF-8, not JSON
        key = None
    if type(key) is key_type:  # not isinstance: a bool is an int to it
        return key
    raise InvalidParameterValueException(
        f"Invalid Marker: {marker!r} is not a NextMarker this listing returned"
    )
