"""gureum as a Python API: open a data directory, manage functions, invoke them.

async with await open_platform(data_dir) as platform:
    await platform.functions.create(name="hello", runtime="python3.11",
                                    handler="app.handler", code=zip_bytes)
    result = await platform.invoke("hello", b'{"name": "world"}')
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from . import validation
from .clock import Clock, SystemClock
from .engine.engine import Engine, EngineSettings
from .errors import InvalidParameterValueException, ResourceNotFoundException
from .events.delivery import DeliverySettings
from .events.invocations import AsyncInvocations, FunctionFacts
from .events.invoke_config import is_queue, parse_destination
from .events.mappings import EventSourceMappings
from .events.schedules import Schedules
from .events.sqs_poller import PollerContext, run_mapping
from .http_endpoints import HttpEndpoints
from .layers import Layers
from .provisioning import Provisioning
from .sandbox.manager import SandboxManager
from .sandbox.runtimes import available_runtimes
from .sandbox.services import (
    PACKAGES_ENV,
    Endpoint,
    endpoint_environment,
    packages_path,
    sandbox_mounts,
)
from .services.objects import ObjectStorage
from .services.queues import QueueDoesNotExist, Queues
from .sessions import SessionKeys
from .store.code import CodeStore
from .store.registry import Registry
from .store.telemetry import Telemetry
from .types import (
    LATEST,
    FunctionConfig,
    FunctionStats,
    InvocationResult,
    InvokeOptions,
    IsolationLevel,
    LogLine,
)
from .versioning import Aliases, Versions


@dataclass(frozen=True, slots=True)
class PlatformSettings:
    engine: EngineSettings = field(default_factory=EngineSettings)
    isolation: IsolationLevel | None = None  # None: the strongest this host allows
    log_retention_bytes: int = 64 * 1024 * 1024  # per function
    # Keep pre-isolated shells ready for cold starts (at `full` and `process`; docs/decisions/0007).
    shells: bool = True
    events: DeliverySettings = field(default_factory=DeliverySettings)
    # Commit accepted events with fsync (survives power loss, not only a crash of gureum).
    events_fsync: bool = True
    # How long before a scheduled tick its function gets a warm instance (0: never).
    schedule_warm_lead_s: float = 2.0
    # The API a serving gureum answers on: functions' boto3 calls reach it (None: not serving).
    endpoint: Endpoint | None = None


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


class Platform:
    def __init__(
        self,
        data_dir: Path,
        settings: PlatformSettings,
        clock: Clock,
        registry: Registry,
        code: CodeStore,
        telemetry: Telemetry,
        sandboxes: SandboxManager,
    ) -> None:
        self.data_dir = data_dir
        self.settings = settings
        self.clock = clock
        self.registry = registry
        self.code = code
        self.telemetry = telemetry
        self.sandboxes = sandboxes
        self.layers = Layers(self)
        self.layers.load()
        self.engine = Engine(
            sandboxes, code, telemetry, settings.engine, clock, layer_code=self.layers.code_of
        )
        self.functions = Functions(self)
        # The invoke path reads configurations from here, never from the registry's disk.
        self.configs: dict[str, FunctionConfig] = {c.name: c for c in registry.list_functions()}
        for config in self.configs.values():
            self.engine.admission.set_reserved(config.name, config.reserved_concurrency)
        self.versions = Versions(self)
        self.versions.load()
        self.aliases = Aliases(self)
        self.aliases.load()
        self.provisioning = Provisioning(self)
        self.http = HttpEndpoints(self, data_dir / "http.db")
        self.sessions = SessionKeys(clock)
        self.packages_path = packages_path(sandboxes.level)
        self.engine.fleet.service_env = self._service_env
        self.objects = ObjectStorage(data_dir / "objects", clock)
        self.queues = Queues(
            data_dir / "queues.db",
            clock,
            region=settings.engine.region,
            account=settings.engine.account_id,
        )
        engine_settings = settings.engine
        facts = FunctionFacts(
            function_arn=engine_settings.function_arn,
            dead_letter_arn=lambda name: getattr(self.configs.get(name), "dead_letter_arn", None),
            new_request_id=self.engine.request_ids,
            region=engine_settings.region,
            account=engine_settings.account_id,
        )
        self.events = AsyncInvocations(
            data_dir / "events.db",
            self._invoke_queued,
            facts,
            clock,
            settings.events,
            fsync=settings.events_fsync,
        )
        self.schedules = Schedules(
            self.events.queue,
            self.events.delivery.notify,
            clock,
            region=engine_settings.region,
            account=engine_settings.account_id,
            check_target=self.resolve,
            prewarm=self._prewarm,
            warm_lead_s=settings.schedule_warm_lead_s,
        )
        self.mappings = EventSourceMappings(self.events.queue.db, clock, self.queues.name_of_arn)
        self.mappings.run = functools.partial(
            run_mapping,
            PollerContext(
                queues=self.queues,
                invoke=self._invoke_batch,
                concurrency_limit=self._concurrency_limit,
                record_result=self.mappings.record_result,
                region=engine_settings.region,
            ),
        )
        # S3 events and async destinations reach functions and queues durably.
        self.objects.notifier = self._notify
        self.events.delivery.send_to_queue = self._send_to_queue

    @property
    def isolation(self) -> IsolationLevel:
        return self.sandboxes.level

    def config(self, name: str) -> FunctionConfig:
        config = self.configs.get(name)
        if config is None:
            raise ResourceNotFoundException(
                f"Function not found: {self.settings.engine.function_arn(name)}"
            )
        return config

    def resolve(self, name: str, qualifier: str | None = None) -> FunctionConfig:
        """The configuration an invocation of name[:qualifier] runs: $LATEST, a version, or
        the version an alias routes this invocation to."""
        if qualifier is None or qualifier == LATEST:
            return self.config(name)
        if qualifier.isdigit():
            return self.versions.get(name, qualifier)
        return self.versions.get(name, self.aliases.route(name, qualifier))

    async def invoke(
        self,
        name: str,
        payload: bytes = b"",
        options: InvokeOptions | None = None,
        qualifier: str | None = None,
    ) -> InvocationResult:
        config = self.resolve(name, qualifier)
        if qualifier is not None:
            options = dataclasses.replace(options or InvokeOptions(), qualifier=qualifier)
        return await self.engine.invoke(config, payload, options)

    async def invoke_async(
        self, name: str, payload: bytes = b"", qualifier: str | None = None
    ) -> str:
        """Queue an invocation (Lambda's InvocationType=Event); returns its request id once the
        event is committed to disk. Delivery, retries and destinations follow."""
        self.resolve(name, qualifier)  # refuse an unknown function now, not at delivery
        return await self.events.accept(name, qualifier, payload)

    async def _prewarm(self, name: str, qualifier: str | None) -> bool:
        return await self.engine.prewarm(self.resolve(name, qualifier))

    async def _invoke_queued(
        self, name: str, qualifier: str | None, payload: bytes, request_id: str
    ) -> InvocationResult:
        options = InvokeOptions(request_id=request_id)
        return await self.invoke(name, payload, options, qualifier)

    async def _invoke_batch(
        self, name: str, qualifier: str | None, payload: bytes
    ) -> InvocationResult:
        return await self.invoke(name, payload, None, qualifier)

    def _concurrency_limit(self, name: str) -> int:
        """How many batches of a queue a function may take at once: its reserved concurrency,
        else the node's."""
        admission = self.engine.admission
        return admission.reserved.get(name) or admission.max_concurrency

    async def _notify(self, target_arn: str, payload: bytes) -> None:
        """An S3 event for a function (queued as an async invocation) or a queue."""
        if is_queue(target_arn):
            await self._send_to_queue(target_arn, payload)
            return
        destination = parse_destination(
            target_arn, self.settings.engine.region, self.settings.engine.account_id
        )
        await self.invoke_async(destination.function, payload, destination.qualifier)

    async def _send_to_queue(self, queue_arn: str, payload: bytes) -> None:
        try:
            name = self.queues.name_of_arn(queue_arn)
        except QueueDoesNotExist as error:
            raise ResourceNotFoundException(error.message) from error
        await self.queues.send(name, payload.decode("utf-8", "replace"))

    async def logs(
        self,
        name: str,
        *,
        start: float | None = None,
        end: float | None = None,
        request_id: str | None = None,
        limit: int = 1000,
    ) -> list[LogLine]:
        return await self.telemetry.logs(
            name, start=start, end=end, request_id=request_id, limit=limit
        )

    async def stats(self, name: str, *, since: float | None = None) -> FunctionStats:
        return await self.telemetry.stats(name, since=since)

    def _service_env(self, config: FunctionConfig) -> dict[str, str]:
        """What an instance gets to call gureum's services: boto3, and when serving, the
        endpoint and the function's own short-lived credentials."""
        env = {PACKAGES_ENV: self.packages_path}
        endpoint = self.settings.endpoint
        if endpoint is not None:
            key = self.sessions.for_function(config.name)
            env.update(endpoint_environment(self.sandboxes.level, endpoint))
            env.update(
                AWS_ACCESS_KEY_ID=key.key_id,
                AWS_SECRET_ACCESS_KEY=key.secret,
                AWS_SESSION_TOKEN=key.token,
            )
        return env

    async def aclose(self) -> None:
        await self.schedules.aclose()
        await self.mappings.aclose()
        await self.queues.aclose()
        await self.objects.aclose()
        await self.events.aclose()
        for setting in self.provisioning.settings.values():
            if setting.task is not None:
                setting.task.cancel()
        await self.engine.aclose()
        await self.sandboxes.aclose()
        await self.telemetry.aclose()
        self.http.close()
        self.registry.close()

    async def __aenter__(self) -> Platform:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def open_platform(
    data_dir: Path | str,
    settings: PlatformSettings | None = None,
    clock: Clock | None = None,
) -> Platform:
    """Open (creating if needed) a gureum data directory and start its engine."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings or PlatformSettings()
    clock = clock or SystemClock()
    arn_prefix = settings.engine.function_arn("")
    registry = await asyncio.to_thread(Registry, data_dir / "registry.db", arn_prefix=arn_prefix)
    code = CodeStore(data_dir / "code")
    telemetry = Telemetry(
        data_dir / "telemetry.db", clock=clock, log_retention_bytes=settings.log_retention_bytes
    )
    await telemetry.start()
    relay_dir = settings.endpoint.relay_dir if settings.endpoint is not None else None
    sandboxes = SandboxManager(
        data_dir / "sandbox",
        data_dir / "code" / "unpacked",
        settings.isolation,
        settings.shells,
        clock.monotonic,
        mounts=sandbox_mounts(relay_dir),
    )
    (data_dir / "sandbox").mkdir(exist_ok=True)
    platform = Platform(data_dir, settings, clock, registry, code, telemetry, sandboxes)
    await platform.http.load()
    await platform.objects.start()
    await platform.queues.start()
    platform.engine.start()
    await platform.events.start()
    await platform.schedules.start()
    await platform.mappings.start()
    await platform.objects.deliver_pending()  # S3 events a crash left before their hand-over
    platform.provisioning.restore()
    return platform
