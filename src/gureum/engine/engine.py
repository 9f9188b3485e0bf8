"""The worker: take an instance (warm, or cold-started), invoke it, meter it, give it back.

The payload passes through as opaque bytes, and nothing here touches the disk once a function's
code has been unpacked and verified: logs and metering records are handed to a buffered writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..clock import Clock, SystemClock
from ..runtime import protocol
from ..sandbox.manager import SandboxManager
from ..store.code import CodeStore
from ..store.meter import PriceTable, bill
from ..store.telemetry import Telemetry
from ..types import FunctionConfig, InvocationRecord, InvocationResult, InvokeOptions
from . import report
from .fleet import Fleet
from .instance import Instance, InstanceGone
from .pool import Admission
from .request_ids import RequestIds

# Instances seldom use the memory they are configured with (a 128 MB function's runtime uses
# ~12 MB): the node books configured memory against 75% of RAM times this, as Lambda's workers
# overcommit. Each instance's cgroup still holds it to its own size; should the host itself run
# short, the kernel's OOM killer takes instances first (the zygote raises their oom_score_adj),
# not gureum (docs/decisions/0009).
MEMORY_OVERCOMMIT = 8


def _default_memory_budget_mb() -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 4 * 1024**3
    return int(total * 0.75 * MEMORY_OVERCOMMIT / 1024**2)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    keep_alive_s: float = 600.0
    memory_budget_mb: int = field(default_factory=_default_memory_budget_mb)
    max_concurrency: int = 1000
    region: str = "us-east-1"
    account_id: str = "000000000000"
    prices: PriceTable = field(default_factory=PriceTable)

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"


@dataclass(slots=True)
class _Outcome:
    """What one invocation produced, before metering."""

    payload: bytes
    error_type: str | None
    max_memory_mb: int
    extra_log: str = ""
    # False when the runtime reported its output pipe empty as it replied.
    output_pending: bool = True


@dataclass(slots=True)
class _Timing:
    """When one invocation started, and how long it waited and ran."""

    started_wall: float
    cold: bool
    instance_wait_ms: float
    # The runtime's own init (importing the handler), as Lambda's Init Duration; the sandbox's
    # start is in instance_wait_ms. A failed init reports the whole wait.
    runtime_init_ms: float | None = None
    duration_ms: float = 0.0
    restore_ms: float | None = None  # forked from a snapshot instead of initialised

    @property
    def init_ms(self) -> float | None:
        if not self.cold or self.restore_ms is not None:
            return None
        return self.runtime_init_ms if self.runtime_init_ms is not None else self.instance_wait_ms


class Engine:
    def __init__(
        self,
        sandboxes: SandboxManager,
        code: CodeStore,
        telemetry: Telemetry,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        layer_code: Callable[[tuple[str, ...]], list[str]] | None = None,
    ) -> None:
        self.telemetry = telemetry
        self.settings = settings or EngineSettings()
        self.clock = clock or SystemClock()
        self.admission = Admission(self.settings.max_concurrency, self.settings.memory_budget_mb)
        self.fleet = Fleet(
            sandboxes,
            code,
            self.admission,
            self.clock,
            self.settings.region,
            layer_code or (lambda arns: []),
        )
        self.reaper: asyncio.Task[None] | None = None
        self.request_ids = RequestIds()

    def start(self) -> None:
        self.reaper = asyncio.create_task(self._reap_forever())

    async def aclose(self) -> None:
        if self.reaper is not None:
            self.reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reaper
        await self.fleet.aclose()

    async def _reap_forever(self) -> None:
        interval = min(30.0, max(1.0, self.settings.keep_alive_s / 4))
        while True:
            await asyncio.sleep(interval)
            await self.reap_idle()

    def instances(self, function: str) -> list[Instance]:
        return self.fleet.instances(function)

    async def reap_idle(self) -> int:
        """Stop instances idle for longer than the keep-alive; returns how many were stopped."""
        return await self.fleet.reap_idle(self.settings.keep_alive_s)

    async def prewarm(self, config: FunctionConfig) -> bool:
        """Start an instance ahead of an invocation known to be coming (predictive warm-up)."""
        return await self.fleet.prewarm(config)

    async def retire_function(
        self, name: str, version: str | None = None, keep_revision: str | None = None
    ) -> None:
        """Stop the instances of a function's (or version's) other revisions."""
        await self.fleet.retire_function(name, version, keep_revision)

    async def invoke(
        self, config: FunctionConfig, payload: bytes, options: InvokeOptions | None = None
    ) -> InvocationResult:
        """Run one invocation to completion.

        Raises TooManyRequestsException when concurrency or memory does not allow it, and
        ServiceException when the platform (not the function) fails; every failure of the
        function itself is a result with ``function_error`` set.
        """
        unreserved = self.admission.enter(config.name)
        try:
            return await self._invoke_admitted(config, payload, options or InvokeOptions())
        finally:
            self.admission.leave(config.name, unreserved)

    async def _invoke_admitted(
        self, config: FunctionConfig, payload: bytes, options: InvokeOptions
    ) -> InvocationResult:
        request_id = options.request_id or self.request_ids()
        started_wall = self.clock.time()
        wait_started = time.perf_counter()
        init_error = None
        instance = self.fleet.take_idle(config)
        cold = instance is None
        if instance is None:
            instance, init_error = await self.fleet.cold_start(config)
        waited_ms = (time.perf_counter() - wait_started) * 1000
        timing = _Timing(started_wall, cold, waited_ms, instance.init_ms if cold else None)
        if cold:
            timing.restore_ms = instance.restore_ms
        invoke_started = time.perf_counter()
        try:
            if init_error is not None:
                error_type = init_error.meta.get("type", "Runtime.Unknown")
                outcome, healthy = _Outcome(init_error.body, error_type, 0), False
            else:
                outcome, healthy = await self._run(instance, config, request_id, payload, options)
        except BaseException:
            # Cancelled mid-invocation: the instance's state is unknown, so it is never reused.
            await asyncio.shield(self.fleet.discard(instance))
            raise
        timing.duration_ms = (time.perf_counter() - invoke_started) * 1000
        logs = instance.output.take(outcome.output_pending) + outcome.extra_log
        if not self.fleet.keep_warm(instance, healthy):
            # Shielded: a caller that gives up now must not leave the instance half torn down.
            await asyncio.shield(self.fleet.discard(instance))
        result = self._finish(config, request_id, outcome, logs, timing)
        if cold:
            self.fleet.sandboxes.replenish(config.runtime)  # now that the answer is ready
        return result

    async def _run(
        self,
        instance: Instance,
        config: FunctionConfig,
        request_id: str,
        payload: bytes,
        options: InvokeOptions,
    ) -> tuple[_Outcome, bool]:
        """Send one event to a ready instance; returns the outcome and whether it may be reused."""
        meta: dict[str, object] = {
            "id": request_id,
            # Real wall time, not the injectable clock: the sandbox compares it with time.time().
            "deadline_ms": int(time.time() * 1000) + config.timeout_s * 1000,
            "arn": self.settings.function_arn(config.name)
            + (f":{options.qualifier}" if options.qualifier else ""),
        }
        if options.client_context:
            meta["client_context"] = options.client_context
        if options.identity:
            meta["identity"] = dict(options.identity)
        try:
            # asyncio.timeout, not wait_for: no extra Task per invocation.
            async with asyncio.timeout(config.timeout_s):
                reply = await instance.invoke(meta, payload)
        except TimeoutError:
            message = report.timeout_message(config.timeout_s)
            body = report.platform_error(request_id, "Sandbox.Timedout", message)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.clock.time()))
            log_line = f"{stamp}Z {request_id} {message}\n"
            return _Outcome(body, "Sandbox.Timedout", config.memory_mb, log_line), False
        except InstanceGone as gone:
            self.fleet.sandboxes.kill(instance.sandbox)
            status = await self.fleet.exit_status(instance, gone)
            oom = instance.sandbox.cgroup is not None and instance.sandbox.cgroup.oom_killed()
            error_type = "Runtime.OutOfMemory" if oom else "Runtime.ExitError"
            message = f"Runtime exited with error: {status}"
            body = report.platform_error(request_id, error_type, message)
            return _Outcome(body, error_type, config.memory_mb if oom else 0), False
        maxrss_kb = reply.meta.get("maxrss_kb")
        max_memory_mb = 0
        # Reported from inside the sandbox: trusted only if it is a sane number.
        if isinstance(maxrss_kb, int) and not isinstance(maxrss_kb, bool) and maxrss_kb > 0:
            max_memory_mb = -(-maxrss_kb // 1024)
        # Reported from inside the sandbox too: a false "empty" only delays that output to the
        # next invocation's log.
        pending = reply.meta.get("out") is not False
        failure = (
            None if reply.kind == protocol.RESULT else str(reply.meta.get("type", "Unhandled"))
        )
        return _Outcome(reply.body, failure, max_memory_mb, output_pending=pending), True

    def _finish(
        self,
        config: FunctionConfig,
        request_id: str,
        outcome: _Outcome,
        output: str,
        timing: _Timing,
    ) -> InvocationResult:
        """Meter the invocation, hand its record and output to telemetry, and build the result.

        Per invocation this is one bill and one record: START, END and REPORT are formatted
        from the record only when someone reads them (``InvocationResult.logs``, a logs query)."""
        charge = bill(timing.duration_ms, config.memory_mb, self.settings.prices)
        record = InvocationRecord(
            function=config.name,
            version=config.version,
            request_id=request_id,
            timestamp=timing.started_wall,
            duration_ms=timing.duration_ms,
            billed_duration_ms=charge.billed_duration_ms,
            memory_size_mb=config.memory_mb,
            max_memory_used_mb=min(outcome.max_memory_mb, config.memory_mb),
            init_duration_ms=timing.init_ms,
            cold_start=timing.cold,
            instance_wait_ms=timing.instance_wait_ms,
            error_type=outcome.error_type,
            gb_seconds=charge.gb_seconds,
            cost_usd=charge.cost_usd,
            restore_duration_ms=timing.restore_ms,
        )
        self.telemetry.record(record, output)
        function_error = None if outcome.error_type is None else "Unhandled"
        return InvocationResult(record, outcome.payload, function_error, output)
