"""The worker: take an instance (warm, or cold-started), invoke it, meter it, give it back.

The payload passes through as opaque bytes, and nothing here touches the disk once a function's
code has been unpacked and verified: logs and metering records are handed to a buffered writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..clock import Clock, SystemClock
from ..errors import ServiceException, TooManyRequestsException
from ..runtime import protocol
from ..sandbox.manager import InstanceSpec, SandboxManager
from ..sandbox.runtimes import find_interpreter
from ..store.code import CodeStore
from ..store.meter import PriceTable, bill
from ..store.telemetry import InvocationRecord, Telemetry
from ..types import FunctionConfig, InvocationResult, InvokeOptions
from . import report
from .environment import instance_environment
from .instance import Instance, InstanceGone, Reply
from .pool import Admission, FunctionPool

log = logging.getLogger("gureum.engine")

# Lambda gives a function's init phase 10 s, apart from its invoke timeout.
INIT_TIMEOUT_S = 10.0
# How long a dead instance's exit status may take to arrive from its zygote.
EXIT_STATUS_WAIT_S = 5.0


def _default_memory_budget_mb() -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 4 * 1024**3
    return int(total * 0.75 / 1024**2)


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


class Engine:
    def __init__(
        self,
        sandboxes: SandboxManager,
        code: CodeStore,
        telemetry: Telemetry,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.sandboxes = sandboxes
        self.code = code
        self.telemetry = telemetry
        self.settings = settings or EngineSettings()
        self.clock = clock or SystemClock()
        self.admission = Admission(self.settings.max_concurrency, self.settings.memory_budget_mb)
        self.pools: dict[tuple[str, str], FunctionPool] = {}
        self.instance_ids = itertools.count(1)
        self.instance_prefix = uuid.uuid4().hex[:8]
        self.reaper: asyncio.Task[None] | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.reaper = asyncio.create_task(self._reap_forever())

    async def aclose(self) -> None:
        if self.reaper is not None:
            self.reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reaper
        await asyncio.gather(*(i.destroy() for i in list(self._all_instances())))
        self.pools.clear()

    async def _reap_forever(self) -> None:
        interval = min(30.0, max(1.0, self.settings.keep_alive_s / 4))
        while True:
            await asyncio.sleep(interval)
            await self.reap_idle()

    # -- instances --------------------------------------------------------------------------

    def _all_instances(self) -> Iterator[Instance]:
        for pool in self.pools.values():
            yield from pool.idle
            yield from pool.busy

    def instances(self, function: str) -> list[Instance]:
        return [
            i for (name, _), p in self.pools.items() if name == function for i in (*p.idle, *p.busy)
        ]

    async def reap_idle(self) -> int:
        """Stop instances idle for longer than the keep-alive; returns how many were stopped."""
        deadline = self.clock.monotonic() - self.settings.keep_alive_s
        expired = [i for p in self.pools.values() for i in p.idle if i.last_used <= deadline]
        await asyncio.gather(*(self._retire(i) for i in expired))
        return len(expired)

    async def retire_function(self, name: str, keep_revision: str | None = None) -> None:
        """Stop the idle instances of a function's other revisions (after an update or delete)."""
        stale = [
            i
            for (fn, revision), p in self.pools.items()
            if fn == name and revision != keep_revision
            for i in p.idle
        ]
        await asyncio.gather(*(self._retire(i) for i in stale))

    async def _retire(self, instance: Instance) -> None:
        pool = self.pools.get((instance.config.name, instance.config.revision_id))
        if pool is not None and instance in pool.idle:
            pool.idle.remove(instance)
        if pool is not None:
            pool.busy.discard(instance)
            if not pool:
                del self.pools[(instance.config.name, instance.config.revision_id)]
        if not instance.broken:
            self.admission.memory_used_mb -= instance.config.memory_mb
        await instance.destroy()

    async def _make_room(self, memory_mb: int) -> None:
        """Evict idle instances, least recently used first, until ``memory_mb`` fits the budget."""
        if self.admission.memory_fits(memory_mb):
            return
        idle = sorted((i for p in self.pools.values() for i in p.idle), key=lambda i: i.last_used)
        victims = []
        freed = 0
        for instance in idle:
            if self.admission.memory_used_mb - freed + memory_mb <= self.admission.memory_budget_mb:
                break
            victims.append(instance)
            freed += instance.config.memory_mb
        await asyncio.gather(*(self._retire(i) for i in victims))

    async def _cold_start(
        self, config: FunctionConfig, pool: FunctionPool
    ) -> tuple[Instance, Reply | None]:
        """Start an instance; returns it with an init error reply if its init failed."""
        await self._make_room(config.memory_mb)
        if not self.admission.memory_fits(config.memory_mb):
            raise TooManyRequestsException(
                "Rate Exceeded. The node's memory budget is used up.",
                "ConcurrentInvocationLimitExceeded",
            )
        self.admission.memory_used_mb += config.memory_mb
        instance_id = f"{self.instance_prefix}-{next(self.instance_ids)}"
        try:
            instance = await self._spawn(instance_id, config)
        except BaseException:
            self.admission.memory_used_mb -= config.memory_mb
            raise
        pool.busy.add(instance)
        try:
            kind, meta, body = await asyncio.wait_for(instance.wait_ready(), INIT_TIMEOUT_S)
        except TimeoutError:
            message = report.timeout_message(INIT_TIMEOUT_S)
            payload = report.platform_error("", "Sandbox.Timedout", f"Init phase: {message}")
            return instance, Reply(protocol.ERROR, {"type": "Sandbox.Timedout"}, payload)
        except InstanceGone:
            status = await self._exit_status(instance)
            payload = report.platform_error(
                "", "Runtime.ExitError", f"Runtime exited with error: {status}"
            )
            return instance, Reply(protocol.ERROR, {"type": "Runtime.ExitError"}, payload)
        if kind == protocol.INIT_ERROR:
            if meta.get("platform"):
                await self._discard(instance, pool)
                raise ServiceException(f"sandbox setup failed: {body.decode(errors='replace')}")
            return instance, Reply(protocol.ERROR, meta, body)
        self.sandboxes.end_init(instance.sandbox, config.memory_mb)
        return instance, None

    async def _spawn(self, instance_id: str, config: FunctionConfig) -> Instance:
        code_dir = await asyncio.to_thread(self.code.unpacked, config.code_sha256)
        interpreter = find_interpreter(config.runtime)
        interpreter_bin = os.path.dirname(interpreter.executable) if interpreter else "/usr/bin"
        env = instance_environment(
            config,
            task_root=self.sandboxes.task_root(code_dir),
            region=self.settings.region,
            interpreter_bin=interpreter_bin,
            now=self.clock.time(),
        )
        spec = InstanceSpec(
            instance_id=instance_id,
            runtime=config.runtime,
            handler=config.handler,
            code_sha256=config.code_sha256,
            code_dir=code_dir,
            env=env,
            memory_mb=config.memory_mb,
            ephemeral_storage_mb=config.ephemeral_storage_mb,
        )
        sandbox = await self.sandboxes.spawn(spec)
        instance = Instance(instance_id, config, sandbox, self.sandboxes)
        await instance.connect()
        return instance

    async def _exit_status(self, instance: Instance) -> str:
        try:
            status = await asyncio.wait_for(
                self.sandboxes.wait_exit(instance.sandbox), EXIT_STATUS_WAIT_S
            )
        except TimeoutError:
            return "signal: killed"
        return status.describe()

    async def _discard(self, instance: Instance, pool: FunctionPool) -> None:
        pool.busy.discard(instance)
        self.admission.memory_used_mb -= instance.config.memory_mb
        await instance.destroy()

    # -- invocation -------------------------------------------------------------------------

    async def invoke(
        self, config: FunctionConfig, payload: bytes, options: InvokeOptions | None = None
    ) -> InvocationResult:
        """Run one invocation to completion.

        Raises TooManyRequestsException when concurrency or memory does not allow it, and
        ServiceException when the platform (not the function) fails; every failure of the
        function itself is a result with ``function_error`` set.
        """
        options = options or InvokeOptions()
        unreserved = self.admission.enter(config.name)
        try:
            return await self._invoke_admitted(config, payload, options)
        finally:
            self.admission.leave(config.name, unreserved)

    async def _invoke_admitted(
        self, config: FunctionConfig, payload: bytes, options: InvokeOptions
    ) -> InvocationResult:
        request_id = str(uuid.uuid4())
        started_wall = self.clock.time()
        wait_started = time.perf_counter()
        key = (config.name, config.revision_id)
        pool = self.pools.setdefault(key, FunctionPool())
        init_error: Reply | None = None
        if pool.idle:
            instance = pool.idle.pop()
            pool.busy.add(instance)
            cold = False
        else:
            instance, init_error = await self._cold_start(config, pool)
            cold = True
        instance_wait_ms = (time.perf_counter() - wait_started) * 1000
        init_ms = instance_wait_ms if cold else None
        invoke_started = time.perf_counter()
        healthy = False
        try:
            if init_error is not None:
                outcome = _Outcome(
                    init_error.body, init_error.meta.get("type", "Runtime.Unknown"), 0
                )
            else:
                outcome, healthy = await self._run(instance, config, request_id, payload, options)
        except BaseException:
            # Cancelled mid-invocation: the instance's state is unknown, so it is never reused.
            await asyncio.shield(self._discard(instance, pool))
            raise
        duration_ms = (time.perf_counter() - invoke_started) * 1000
        logs = instance.output.take() + outcome.extra_log
        if healthy:
            instance.last_used = self.clock.monotonic()
            instance.invocations += 1
            pool.busy.discard(instance)
            pool.idle.append(instance)
        else:
            await self._discard(instance, pool)
        return self._finish(
            config,
            request_id,
            started_wall,
            outcome,
            logs,
            duration_ms,
            init_ms,
            cold,
            instance_wait_ms,
        )

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
            "arn": self.settings.function_arn(config.name),
        }
        if options.client_context:
            meta["client_context"] = options.client_context
        if options.identity:
            meta["identity"] = dict(options.identity)
        try:
            reply = await asyncio.wait_for(instance.invoke(meta, payload), config.timeout_s)
        except TimeoutError:
            message = report.timeout_message(config.timeout_s)
            body = report.platform_error(request_id, "Sandbox.Timedout", message)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.clock.time()))
            return _Outcome(
                body, "Sandbox.Timedout", config.memory_mb, f"{stamp}Z {request_id} {message}\n"
            ), False
        except InstanceGone:
            instance.sandbox.zygote.kill(instance.sandbox.pid)
            status = await self._exit_status(instance)
            oom = instance.sandbox.cgroup is not None and instance.sandbox.cgroup.oom_killed()
            error_type = "Runtime.OutOfMemory" if oom else "Runtime.ExitError"
            body = report.platform_error(
                request_id, error_type, f"Runtime exited with error: {status}"
            )
            max_memory = config.memory_mb if oom else 0
            return _Outcome(body, error_type, max_memory), False
        max_memory_mb = -(-int(reply.meta.get("maxrss_kb", 0)) // 1024)
        if reply.kind == protocol.RESULT:
            return _Outcome(reply.body, None, max_memory_mb), True
        return _Outcome(reply.body, str(reply.meta.get("type", "Unhandled")), max_memory_mb), True

    def _finish(
        self,
        config: FunctionConfig,
        request_id: str,
        started_wall: float,
        outcome: _Outcome,
        output: str,
        duration_ms: float,
        init_ms: float | None,
        cold: bool,
        instance_wait_ms: float,
    ) -> InvocationResult:
        charge = bill(duration_ms, config.memory_mb, self.settings.prices)
        max_memory_mb = min(outcome.max_memory_mb, config.memory_mb)
        report_line = report.report_line(
            request_id,
            duration_ms=duration_ms,
            billed_ms=charge.billed_duration_ms,
            memory_mb=config.memory_mb,
            max_memory_mb=max_memory_mb,
            init_ms=init_ms,
        )
        body_lines = output.splitlines()
        ended = started_wall + duration_ms / 1000
        lines = [(started_wall, report.start_line(request_id, config.version))]
        lines += [(ended, line) for line in body_lines]
        lines += [(ended, report.end_line(request_id)), (ended, report_line)]
        self.telemetry.record(
            InvocationRecord(
                function=config.name,
                version=config.version,
                request_id=request_id,
                timestamp=started_wall,
                duration_ms=duration_ms,
                billed_duration_ms=charge.billed_duration_ms,
                memory_size_mb=config.memory_mb,
                max_memory_used_mb=max_memory_mb,
                init_duration_ms=init_ms,
                cold_start=cold,
                instance_wait_ms=instance_wait_ms,
                error_type=outcome.error_type,
                gb_seconds=charge.gb_seconds,
                cost_usd=charge.cost_usd,
            ),
            lines,
        )
        return InvocationResult(
            request_id=request_id,
            payload=outcome.payload,
            function_error=None if outcome.error_type is None else "Unhandled",
            executed_version=config.version,
            logs="\n".join(text for _, text in lines) + "\n",
            duration_ms=duration_ms,
            billed_duration_ms=charge.billed_duration_ms,
            memory_size_mb=config.memory_mb,
            max_memory_used_mb=max_memory_mb,
            init_duration_ms=init_ms,
            cold_start=cold,
            instance_wait_ms=instance_wait_ms,
            cost_usd=charge.cost_usd,
        )
