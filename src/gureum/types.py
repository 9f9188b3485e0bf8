"""Core types shared by every layer: a function's configuration and one invocation's result.

Payloads and results stay opaque ``bytes`` everywhere on the host side: only the runtime inside
the sandbox decodes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

LATEST = "$LATEST"

IsolationLevel = Literal["full", "rootless", "process"]


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    """One function's configuration, as validated and stored in the registry."""

    name: str
    runtime: str
    handler: str
    code_sha256: str
    code_size: int
    memory_mb: int = 128
    timeout_s: int = 3
    env: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    role: str = ""  # kept for the Lambda API; gureum has no IAM
    ephemeral_storage_mb: int = 512
    layers: tuple[str, ...] = ()  # layer version ARNs, unpacked at /opt in this order
    # None: the function shares the node's unreserved concurrency.
    reserved_concurrency: int | None = None
    version: str = LATEST
    # Changes on every update: instances of an older revision are never reused.
    revision_id: str = ""
    last_modified: str = ""


@dataclass(frozen=True, slots=True)
class InvokeOptions:
    """What the caller adds to one invocation besides the payload."""

    client_context: str | None = None  # base64 JSON, as Lambda's X-Amz-Client-Context
    identity: Mapping[str, str] | None = None  # Cognito identity, for context.identity
    qualifier: str | None = None  # as invoked (version or alias): part of the invoked ARN


@dataclass(frozen=True, slots=True)
class InvocationResult:
    """The outcome of one synchronous invocation.

    ``payload`` is the function's JSON result, or Lambda's error JSON when ``function_error``
    is set ("Unhandled" for every error the function or its runtime caused).
    """

    request_id: str
    payload: bytes
    function_error: str | None
    executed_version: str
    logs: str
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None
    cold_start: bool
    instance_wait_ms: float
    cost_usd: float

    @property
    def ok(self) -> bool:
        return self.function_error is None


@dataclass(frozen=True, slots=True)
class InvocationRecord:
    """What metering stores about one invocation."""

    function: str
    version: str
    request_id: str
    timestamp: float  # start, epoch seconds
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None
    cold_start: bool
    instance_wait_ms: float
    error_type: str | None  # None on success
    gb_seconds: float
    cost_usd: float


@dataclass(frozen=True, slots=True)
class LogLine:
    """One stored line of a function's log."""

    timestamp: float
    request_id: str
    message: str


@dataclass(frozen=True, slots=True)
class FunctionStats:
    """A function's invocations summed up over a time range."""

    invocations: int
    errors: int
    cold_starts: int
    duration_p50_ms: float | None
    duration_p99_ms: float | None
    init_duration_avg_ms: float | None
    instance_wait_avg_ms: float | None
    billed_duration_ms: int
    gb_seconds: float
    cost_usd: float
