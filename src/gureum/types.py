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
    # SnapStart: "None"; "PublishedVersions" (Lambda's ApplyOn: versions fork from an initialised
    # instance); or gureum's "All": $LATEST too (set through gureum.yaml or the Python API).
    snap_start: str = "None"
    # Where an asynchronous invocation that failed for good is sent (Lambda's DeadLetterConfig).
    dead_letter_arn: str = ""
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
    # Given when the id was handed out before the invocation (asynchronous ones, at accept).
    request_id: str | None = None


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
    # Forked from its version's snapshot: how long the restore took (Lambda's Restore Duration).
    restore_duration_ms: float | None = None

    # The lines Lambda writes around every invocation. Derived, never stored: telemetry keeps
    # the record, and formats these only when someone reads the log.

    def start_line(self) -> str:
        return f"START RequestId: {self.request_id} Version: {self.version}"

    def end_line(self) -> str:
        return f"END RequestId: {self.request_id}"

    def report_line(self) -> str:
        line = (
            f"REPORT RequestId: {self.request_id}\tDuration: {self.duration_ms:.2f} ms\t"
            f"Billed Duration: {self.billed_duration_ms} ms\t"
            f"Memory Size: {self.memory_size_mb} MB\t"
            f"Max Memory Used: {self.max_memory_used_mb} MB"
        )
        if self.init_duration_ms is not None:
            line += f"\tInit Duration: {self.init_duration_ms:.2f} ms"
        if self.restore_duration_ms is not None:
            line += f"\tRestore Duration: {self.restore_duration_ms:.2f} ms"
        return line

    @property
    def end_time(self) -> float:
        """When the invocation ended, epoch seconds: the time of its output, END and REPORT."""
        return self.timestamp + self.duration_ms / 1000


@dataclass(frozen=True, slots=True)
class InvocationResult:
    """The outcome of one synchronous invocation.

    ``payload`` is the function's JSON result, or Lambda's error JSON when ``function_error``
    is set ("Unhandled" for every error the function or its runtime caused). The metering
    fields are read from ``record``; ``logs`` is formatted only when read.
    """

    record: InvocationRecord
    payload: bytes
    function_error: str | None
    output: str  # what the function printed, as one string ("" when nothing)

    @property
    def ok(self) -> bool:
        return self.function_error is None

    @property
    def logs(self) -> str:
        """START, the function's output, END and REPORT, one line each, as Lambda returns them."""
        record = self.record
        lines = [record.start_line(), *self.output.splitlines()]
        return "\n".join([*lines, record.end_line(), record.report_line(), ""])

    @property
    def request_id(self) -> str:
        return self.record.request_id

    @property
    def executed_version(self) -> str:
        return self.record.version

    @property
    def duration_ms(self) -> float:
        return self.record.duration_ms

    @property
    def billed_duration_ms(self) -> int:
        return self.record.billed_duration_ms

    @property
    def memory_size_mb(self) -> int:
        return self.record.memory_size_mb

    @property
    def max_memory_used_mb(self) -> int:
        return self.record.max_memory_used_mb

    @property
    def init_duration_ms(self) -> float | None:
        return self.record.init_duration_ms

    @property
    def cold_start(self) -> bool:
        return self.record.cold_start

    @property
    def instance_wait_ms(self) -> float:
        return self.record.instance_wait_ms

    @property
    def cost_usd(self) -> float:
        return self.record.cost_usd


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a function's log (START, a line of its output, END or REPORT)."""

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
    restore_duration_avg_ms: float | None = None  # instances forked from a snapshot
