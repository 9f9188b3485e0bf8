"""SnapStart on the engine's side: a version that opts in gets one snapshot (an instance whose
init ran, then became a forking template), and its further instances are forked from it, so its
init runs once per version, not once per instance (docs/decisions/0008).

A snapshot outlives its forks (at `full` they live in its PID namespace): it is let go when its
version is retired or scaled to zero, once none of its instances is left.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

from ..errors import ServiceException
from ..runtime import protocol
from ..sandbox.manager import SandboxManager
from ..types import LATEST, FunctionConfig
from .instance import Instance, InstanceGone, Reply
from .pool import PoolKey

SNAPSHOT_TIMEOUT_S = 10.0  # for the before-snapshot hooks
FORK_TIMEOUT_S = 10.0


def applies(config: FunctionConfig) -> bool:
    """Whether this version's instances are forked from a snapshot."""
    if config.snap_start == "All":
        return True
    return config.snap_start == "PublishedVersions" and config.version != LATEST


@dataclass(eq=False, slots=True)
class Snapshot:
    instance: Instance
    control: socket.socket  # a copy of its channel: FORK frames carry fds, which need sendmsg
    forking: asyncio.Lock = field(default_factory=asyncio.Lock)
    init_output: str = ""  # what its init printed: logged with the first invocation after it
    broken: bool = False  # a fork was abandoned mid-way: make a new snapshot


class Snapshots:
    def __init__(self, sandboxes: SandboxManager) -> None:
        self.sandboxes = sandboxes
        self.by_key: dict[PoolKey, Snapshot] = {}
        self.making: dict[PoolKey, asyncio.Lock] = {}

    def get(self, key: PoolKey) -> Snapshot | None:
        snapshot = self.by_key.get(key)
        if snapshot is None or snapshot.broken or snapshot.instance.channel.failure is not None:
            return None
        if snapshot.instance.sandbox.has_exited():
            return None
        return snapshot

    async def make(self, key: PoolKey, instance: Instance) -> Reply | None:
        """Make a READY instance its version's snapshot. Returns the error reply if its
        before-snapshot hooks failed; raises InstanceGone or TimeoutError if it broke."""
        control = instance.control
        assert control is not None, "an instance meant for a snapshot keeps a copy of its channel"
        await instance.channel.write(protocol.encode(protocol.SNAPSHOT, {}), b"")
        kind, meta, body = await asyncio.wait_for(instance.read_frame(), SNAPSHOT_TIMEOUT_S)
        if kind == protocol.INIT_ERROR:
            return Reply(protocol.ERROR, meta, body)
        if kind != protocol.SNAPSHOT_READY:
            raise InstanceGone(f"unexpected frame kind {kind} for a snapshot")
        self.by_key[key] = Snapshot(instance, control, init_output=instance.output.take())
        return None

    async def fork(
        self, snapshot: Snapshot, instance_id: str, config: FunctionConfig
    ) -> tuple[Instance, int]:
        """A new instance forked from ``snapshot`` (not READY yet), and its pid in the
        snapshot's PID namespace. Raises ServiceException, InstanceGone or TimeoutError."""
        async with snapshot.forking:  # one FORK in flight: the FORKED reply is for it
            sandbox = await self.sandboxes.fork(
                snapshot.instance.sandbox,
                snapshot.control,
                instance_id,
                config.memory_mb,
                config.ephemeral_storage_mb,
            )
            instance = Instance(instance_id, config, sandbox, self.sandboxes)
            try:
                async with asyncio.timeout(FORK_TIMEOUT_S):
                    pid = await self._forked(snapshot, instance_id)
                await instance.connect()
                if snapshot.init_output:
                    instance.output.carry(snapshot.init_output)
                    snapshot.init_output = ""
            except ServiceException:
                await asyncio.shield(instance.destroy())
                raise
            except BaseException:
                # Abandoned (timed out, cancelled, broken): the snapshot may still answer or
                # hold a fork nobody owns, so it serves no further fork.
                snapshot.broken = True
                await asyncio.shield(instance.destroy())
                raise
        return instance, pid

    async def _forked(self, snapshot: Snapshot, token: str) -> int:
        """The pid the snapshot reports for the fork ``token``; replies for forks given up
        earlier are passed over. ServiceException if the snapshot could not fork."""
        while True:
            kind, meta, _ = await snapshot.instance.read_frame()
            if meta.get("token") != token:
                continue
            if kind == protocol.FORK_FAILED:
                raise ServiceException(f"the snapshot could not fork: {meta.get('error')}")
            pid = meta.get("pid")
            if kind != protocol.FORKED or not isinstance(pid, int) or isinstance(pid, bool):
                raise InstanceGone(f"unexpected frame kind {kind} for a fork")
            return pid

    def idle_keys(self, live: set[PoolKey]) -> list[PoolKey]:
        """Snapshots whose version has no instance left."""
        return [key for key in self.by_key if key not in live]

    def pop(self, key: PoolKey) -> Snapshot | None:
        return self.by_key.pop(key, None)

    def forget(self, key: PoolKey) -> Snapshot | None:
        """Remove the version's snapshot, and its lock unless a snapshot is being made."""
        lock = self.making.get(key)
        if lock is not None and not lock.locked():
            del self.making[key]
        return self.by_key.pop(key, None)
