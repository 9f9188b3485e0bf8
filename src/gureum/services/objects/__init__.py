"""Object storage: buckets and objects on local disk, as the S3 API sees them."""

from __future__ import annotations

from pathlib import Path

from ...clock import Clock


class ObjectStorage:
    """Buckets and objects under ``root``."""

    def __init__(self, root: Path, clock: Clock) -> None:
        self.root = root
        self.clock = clock

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def aclose(self) -> None:
        pass
