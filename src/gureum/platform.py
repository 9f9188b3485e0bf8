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
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from .clock import Clock, SystemClock
from .engine.engine import Engine, EngineSettings
from .errors import ResourceNotFoundException
from .events.delivery import DeliverySettings
from .events.invocations import AsyncInvocations, FunctionFacts
from .events.invoke_config import is_queue, parse_destination
from .events.mappings import EventSourceMappings
from .events.schedules import Schedules
from .events.sqs_poller import PollerContext, run_mapping
from .functions import Functions
from .http_endpoints import HttpEndpoints
from .layers import Layers
from .provisioning import Provisioning
from .sandbox.manager import SandboxManager
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
