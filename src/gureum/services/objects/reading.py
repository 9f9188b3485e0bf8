"""An object being read: its bytes from one open file, in a byte range, a chunk at a time."""

from __future__ import annotations

import asyncio
import re
from typing import BinaryIO

from .errors import InvalidRange
from .types import ObjectInfo

READ_CHUNK = 1024 * 1024

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The [start, stop) a ``Range`` header asks for of ``size`` bytes: ``bytes=a-b``, ``a-``
    or ``-n``. None (the whole object) for a header S3 ignores (malformed, several ranges);
    InvalidRange (416) for a range outside the object."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None
    first, last = match[1], match[2]
    if not first:  # the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _invalid(header, size)
        return max(0, size - suffix), size
    start = int(first)
    stop = size if not last else min(int(last) + 1, size)
    if last and int(last) < start:
        return None  # S3 ignores a range that ends before it starts
    if start >= size:
        raise _invalid(header, size)
    return start, stop


def _invalid(header: str, size: int) -> InvalidRange:
    return InvalidRange(
        "The requested range is not satisfiable",
        RangeRequested=header,
        ActualObjectSize=str(size),
    )


class Reading:
    """Bytes ``start`` to ``stop`` of an object, from a file opened while its row was current
    (so a concurrent overwrite or delete does not change what is read). ``first`` holds the
    bytes read when it was opened; ``read`` hands out the rest. ``close`` when done."""

    def __init__(
        self, info: ObjectInfo, start: int, stop: int, first: bytes, file: BinaryIO | None
    ) -> None:
        self.info = info
        self.start = start
        self.stop = stop
        self._first = first
        self._file = file
        self._left = stop - start

    @property
    def length(self) -> int:
        return self.stop - self.start

    async def read(self) -> bytes:
        """The next chunk (up to 1 MB), b"" after the last."""
        if self._first:
            chunk, self._first = self._first, b""
        elif self._file is None or self._left <= 0:
            return b""
        else:
            chunk = await asyncio.to_thread(self._file.read, min(READ_CHUNK, self._left))
            if not chunk:
                raise OSError(f"object file of {self.info.key!r} is shorter than its size")
        self._left -= len(chunk)
        if self._left <= 0:
            self.close()
        return chunk

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
