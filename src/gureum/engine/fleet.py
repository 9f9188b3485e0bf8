"""The node's instances: warm pools per function revision, cold starts, and reclaiming memory.

Every decision that takes an instance out of a pool or books memory happens without an
``await`` between the check and the change; only then are instances started or destroyed. So
an instance is never handed to an invocation and reclaimed at once, and the memory books match
the instances alive.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any

from ..clock import Clock
from ..errors import ServiceException, TooManyRequestsException
from ..runtime import protocol
from ..sandbox.manager import InstanceSpec, SandboxManager
from ..sandbox.runtimes import find_interpreter
from ..store.code import CodeStore
from ..types import FunctionConfig
from . import report, snapshots
from .environment import instance_environment
from .instance import Instance, InstanceGone, Reply
from .pool import Admission, FunctionPool, PoolKey, pool_key
from .snapshots import Snapshot, Snapshots

log = logging.getLogger("gureum.engine")

# Lambda gives a function's init phase 10 s, apart from its invoke timeout.
INIT_TIMEOUT_S = 10.0
# How long a dead instance's exit status may take to arrive from its zygote.
EXIT_STATUS_WAIT_S = 5.0


class ProvisioningFailed(Exception):
    """A provisioned instance's init failed."""


class Fleet:
    def __init__(
        self,
        sandboxes: SandboxManager,
        code: CodeStore,
        admission: Admission,
        clock: Clock,
        region: str,
        layer_code: Callable[[tuple[str, ...]], list[str]],
    ) -> None:
        self.sandboxes = sandboxes
        self.code = code
        self.admission = admission
        self.clock = clock
        self.region = region
        self.layer_code = layer_code  # layer ARNs -> their code hashes, in order
        # The platform's additions to an instance's environment (its services' endpoint).
        self.service_env: Callable[[FunctionConfig], Mapping[str, str]] = lambda config: {}
        self.pools: dict[PoolKey, FunctionPool] = {}
        # Revisions replaced or deleted while some of their instances were busy.
        self.stale: set[PoolKey] = set()
        self.teardowns: set[asyncio.Task[None]] = set()
        # Pools whose instances are kept initialised, and how many of them.
        self.provisioned: dict[PoolKey, int] = {}
        self.instance_ids = itertools.count(1)
        self.snapshots = Snapshots(sandboxes)
        self.instance_prefix = uuid.uuid4().hex[:8]

    def all_instances(self) -> Iterator[Instance]:
        for pool in self.pools.values():
            yield from pool.idle
            yield from pool.busy

    def instances(self, function: str) -> list[Instance]:
        return [
            i
            for (name, *_), p in self.pools.items()
            if name == function
            for i in (*p.idle, *p.busy)
        ]

    def pool(self, config: FunctionConfig) -> FunctionPool:
        key = pool_key(config)
        pool = self.pools.get(key)
        if pool is None:
            pool = self.pools[key] = FunctionPool()
        return pool

    def take_idle(self, config: FunctionConfig) -> Instance | None:
        """The warmest live idle instance of this revision, now busy; None if there is none."""
        pool = self.pools.get(pool_key(config))
        while pool is not None and pool.idle:
            instance = pool.idle.pop()
            if instance.sandbox.has_exited():
                # Died while idle (killed, crashed in a background thread): clear it away.
                self._forget(instance)
                self._background(instance.destroy())
                continue
            pool.busy.add(instance)
            return instance
        return None

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.teardowns.add(task)
        task.add_done_callback(self.teardowns.discard)

    def keep_warm(self, instance: Instance, healthy: bool) -> bool:
        """An invocation is done with ``instance``: make it the warmest idle one and return
        True, or return False if it must be discarded (broken, or its revision replaced).
        Synchronous, so the warm path needs no task of its own."""
        if not healthy or pool_key(instance.config) in self.stale:
            return False
        instance.last_used = self.clock.monotonic()
        pool = self.pool(instance.config)
        pool.busy.discard(instance)
        pool.idle.append(instance)
        return True

    async def release(self, instance: Instance, healthy: bool) -> None:
        if not self.keep_warm(instance, healthy):
            await self.discard(instance)

    async def discard(self, instance: Instance) -> None:
        """Destroy a busy instance that must not be reused (timed out, crashed, cancelled)."""
        self._forget(instance)
        await instance.destroy()

    def _forget(self, instance: Instance) -> None:
        key = pool_key(instance.config)
        pool = self.pools.get(key)
        if pool is not None:
            pool.busy.discard(instance)
            if instance in pool.idle:
                pool.idle.remove(instance)
            if not pool:
                del self.pools[key]
                self.stale.discard(key)
        self.admission.memory_used_mb -= instance.config.memory_mb

    async def _destroy_idle(self, victims: list[Instance]) -> None:
        for instance in victims:
            self._forget(instance)
        await asyncio.gather(*(i.destroy() for i in victims))

    def _reclaimable(self) -> list[Instance]:
        """Idle instances that may be stopped, least recently used first: all but the
        provisioned number of each pool (those stay warm whatever the keep-alive or budget)."""
        found = []
        for key, pool in self.pools.items():
            spare = len(pool) - self.provisioned.get(key, 0)
            if spare > 0:
                found += sorted(pool.idle, key=lambda i: i.last_used)[:spare]
        return sorted(found, key=lambda i: i.last_used)

    async def reap_idle(self, keep_alive_s: float) -> int:
        """Stop instances idle for longer than the keep-alive; returns how many were stopped."""
        deadline = self.clock.monotonic() - keep_alive_s
        expired = [i for i in self._reclaimable() if i.last_used <= deadline]
        await self._destroy_idle(expired)
        await self._release_snapshots()  # scaled to zero: the snapshot goes too
        return len(expired)

    async def provision(self, config: FunctionConfig, count: int) -> None:
        """Keep ``count`` initialised instances of this version, starting the missing ones
        now. Raises what a cold start raises (init errors as ProvisioningFailed)."""
        key = pool_key(config)
        self.provisioned[key] = count
        if count == 0:
            del self.provisioned[key]
            return
        missing = count - len(self.pool(config))
        started = await asyncio.gather(
            *(self.cold_start(config) for _ in range(missing)), return_exceptions=True
        )
        self.sandboxes.replenish(config.runtime)
        failure: BaseException | None = None
        for outcome in started:
            if isinstance(outcome, BaseException):
                failure = outcome
                continue
            instance, init_error = outcome
            if init_error is not None:
                failure = ProvisioningFailed(init_error.body.decode(errors="replace"))
            await self.release(instance, init_error is None)
        if failure is not None:
            raise failure

    async def prewarm(self, config: FunctionConfig) -> bool:
        """Make sure one initialised instance of this revision is idle (a scheduled invocation
        is about to arrive); True if one was started. An init error is not raised: the
        invocation that follows reports it as usual."""
        pool = self.pools.get(pool_key(config))
        if pool is not None and pool.idle:
            return False
        instance, init_error = await self.cold_start(config)
        self.sandboxes.replenish(config.runtime)
        await self.release(instance, init_error is None)
        return init_error is None

    def provisioned_ready(self, config: FunctionConfig) -> int:
        return min(len(self.pool(config)), self.provisioned.get(pool_key(config), 0))

    async def retire_function(
        self, name: str, version: str | None = None, keep_revision: str | None = None
    ) -> None:
        """Stop the instances of a function's (or one of its versions') other revisions, after
        an update or delete. Busy ones finish their invocation first, then go too."""
        keys = [
            k
            for k in self.pools
            if k[0] == name and version in (None, k[1]) and k[2] != keep_revision
        ]
        for key in list(self.provisioned):
            if key[0] == name and version in (None, key[1]) and key[2] != keep_revision:
                del self.provisioned[key]
        self.stale.update(keys)
        await self._destroy_idle([i for k in keys for i in self.pools[k].idle])
        for key in list(self.snapshots.by_key):
            if key[0] == name and version in (None, key[1]) and key[2] != keep_revision:
                # Forks still busy keep theirs until they are done (released with the last).
                self.stale.add(key)
        await self._release_snapshots()

    def _book_memory(self, memory_mb: int) -> list[Instance]:
        """Book ``memory_mb`` for a new instance; returns the idle instances to evict for it.

        Least recently used go first. Raises the throttle error, evicting nothing, when even
        every idle instance would not make room.
        """
        admission = self.admission
        idle = self._reclaimable()
        reclaimable = sum(i.config.memory_mb for i in idle)
        if admission.memory_used_mb - reclaimable + memory_mb > admission.memory_budget_mb:
            raise TooManyRequestsException(
                "Rate Exceeded. The node's memory budget is used up.",
                "ConcurrentInvocationLimitExceeded",
            )
        victims = []
        freed = 0
        for instance in idle:
            if admission.memory_used_mb - freed + memory_mb <= admission.memory_budget_mb:
                break
            victims.append(instance)
            freed += instance.config.memory_mb
        for instance in victims:
            self._forget(instance)
        admission.memory_used_mb += memory_mb
        return victims

    async def cold_start(self, config: FunctionConfig) -> tuple[Instance, Reply | None]:
        """Start a busy instance; returns it with an error reply if its init failed. A version
        with SnapStart gets one forked from its snapshot (made by this call if need be)."""
        if snapshots.applies(config) and self.sandboxes.can_fork:
            snapshot = self.snapshots.get(pool_key(config))
            if snapshot is None:
                snapshot, failed = await self._make_snapshot(config)
                if failed is not None:
                    return failed
            if snapshot is not None:
                return await self._restore(snapshot, config)
        return await self._initialise(config)

    async def _make_snapshot(
        self, config: FunctionConfig
    ) -> tuple[Snapshot | None, tuple[Instance, Reply] | None]:
        """The version's snapshot, made from a fresh instance: (snapshot, None); or (None, the
        instance and its init error); or (None, None) if it broke (cold starts go on without)."""
        key = pool_key(config)
        async with self.snapshots.making.setdefault(key, asyncio.Lock()):
            snapshot = self.snapshots.get(key)
            if snapshot is not None:
                return snapshot, None
            dead = self.snapshots.pop(key)
            if dead is not None:
                await self._destroy_snapshot(dead)
            instance, error = await self._initialise(config)
            if error is not None:
                return None, (instance, error)
            self.pool(config).busy.discard(instance)  # it will never serve an invocation
            try:
                error = await self.snapshots.make(key, instance)
            except (InstanceGone, TimeoutError) as exc:
                log.warning("%s could not become a snapshot: %s", config.name, exc)
                await self.discard(instance)
                return None, None
            except BaseException:  # cancelled: it is in no pool and no snapshot yet
                await asyncio.shield(self.discard(instance))
                raise
            if error is not None:
                return None, (instance, error)
            return self.snapshots.by_key[key], None

    async def _restore(
        self, snapshot: Snapshot, config: FunctionConfig
    ) -> tuple[Instance, Reply | None]:
        """A busy instance forked from ``snapshot``."""
        victims = self._book_memory(config.memory_mb)
        instance_id = f"{self.instance_prefix}-{next(self.instance_ids)}"
        try:
            await asyncio.gather(*(i.destroy() for i in victims))
            instance, pid = await self.snapshots.fork(snapshot, instance_id, config)
        except (InstanceGone, TimeoutError) as exc:
            self.admission.memory_used_mb -= config.memory_mb
            raise ServiceException(f"could not fork from the snapshot: {exc}") from exc
        except BaseException:
            self.admission.memory_used_mb -= config.memory_mb
            raise
        self.pool(config).busy.add(instance)
        try:
            instance, error = await self._await_init(instance, config)
            if error is None:
                self.sandboxes.adopt(instance.sandbox, pid)
            return instance, error
        except BaseException:
            await asyncio.shield(self.discard(instance))
            raise

    async def _destroy_snapshot(self, snapshot: Snapshot) -> None:
        self.admission.memory_used_mb -= snapshot.instance.config.memory_mb
        snapshot.control.close()
        await snapshot.instance.destroy()

    async def _release_snapshots(self) -> None:
        """Let go of the snapshots no instance of their version needs any more."""
        for key in self.snapshots.idle_keys(set(self.pools)):
            snapshot = self.snapshots.forget(key)
            if snapshot is not None:
                await self._destroy_snapshot(snapshot)

    async def _initialise(self, config: FunctionConfig) -> tuple[Instance, Reply | None]:
        """A busy instance started and initialised from scratch (or from a shell)."""
        victims = self._book_memory(config.memory_mb)
        instance_id = f"{self.instance_prefix}-{next(self.instance_ids)}"
        try:
            await asyncio.gather(*(i.destroy() for i in victims))
            instance = await self._spawn(instance_id, config)
        except BaseException:
            self.admission.memory_used_mb -= config.memory_mb
            raise
        self.pool(config).busy.add(instance)
        try:
            return await self._await_init(instance, config)
        except BaseException:
            # Cancelled (or failed) while it started: it must not stay busy forever.
            await asyncio.shield(self.discard(instance))
            raise

    async def _await_init(
        self, instance: Instance, config: FunctionConfig
    ) -> tuple[Instance, Reply | None]:
        try:
            kind, meta, body = await asyncio.wait_for(instance.wait_ready(), INIT_TIMEOUT_S)
        except TimeoutError:
            message = report.timeout_message(INIT_TIMEOUT_S)
            payload = report.platform_error("", "Sandbox.Timedout", f"Init phase: {message}")
            return instance, Reply(protocol.ERROR, {"type": "Sandbox.Timedout"}, payload)
        except InstanceGone as gone:
            status = await self.exit_status(instance, gone)
            message = f"Runtime exited with error: {status}"
            payload = report.platform_error("", "Runtime.ExitError", message)
            return instance, Reply(protocol.ERROR, {"type": "Runtime.ExitError"}, payload)
        if kind == protocol.INIT_ERROR:
            if meta.get("platform"):
                # Details stay in the server's log: they name host paths.
                log.error("sandbox setup failed: %s", body.decode(errors="replace"))
                raise ServiceException("A sandbox could not be set up (see the server's log)")
            return instance, Reply(protocol.ERROR, meta, body)
        self.sandboxes.end_init(instance.sandbox, config.memory_mb)
        return instance, None

    async def _spawn(self, instance_id: str, config: FunctionConfig) -> Instance:
        code_dir = self.code.verified_tree(config.code_sha256)
        if code_dir is None:
            code_dir = await asyncio.to_thread(self.code.unpacked, config.code_sha256)
        opt_dir = None
        if config.layers:
            shas = self.layer_code(config.layers)
            opt_dir = await asyncio.to_thread(self.code.merged, shas)
        interpreter = find_interpreter(config.runtime)
        interpreter_bin = os.path.dirname(interpreter.executable) if interpreter else "/usr/bin"
        env = instance_environment(
            config,
            task_root=self.sandboxes.task_root(code_dir),
            region=self.region,
            interpreter_bin=interpreter_bin,
            now=self.clock.time(),
            services=self.service_env(config),
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
            opt_dir=opt_dir,
        )
        sandbox = await self.sandboxes.spawn(spec)
        instance = Instance(instance_id, config, sandbox, self.sandboxes)
        try:
            if snapshots.applies(config) and self.sandboxes.can_fork:
                instance.control = sandbox.channel.dup()  # taken before the event loop owns it
            await instance.connect()
        except BaseException:
            await asyncio.shield(instance.destroy())
            raise
        return instance

    async def exit_status(self, instance: Instance, gone: InstanceGone) -> str:
        """How the instance ended, in Lambda's words: from its init if it said, else from its
        zygote (waiting briefly)."""
        if gone.status is not None:
            return gone.status.describe()
        try:
            status = await asyncio.wait_for(
                self.sandboxes.wait_exit(instance.sandbox), EXIT_STATUS_WAIT_S
            )
        except TimeoutError:
            return "signal: killed"
        return status.describe()

    async def aclose(self) -> None:
        if self.teardowns:
            await asyncio.wait(self.teardowns)
        instances = list(self.all_instances())
        for instance in instances:
            self._forget(instance)
        await asyncio.gather(*(i.destroy() for i in instances))
        await self._release_snapshots()
