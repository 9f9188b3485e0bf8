"""The checksums S3 accepts for a body (``x-amz-checksum-<algorithm>``), base64 as on the wire.

CRC32, SHA1, SHA256, SHA512 and MD5 come from zlib and hashlib (C, and they release the GIL on large
buffers). CRC32C and CRC64NVME come from awscrt when it is installed (botocore uses it too);
otherwise from a table-driven pure-Python fallback that is correct but slow (a few MB/s), paid
only by clients that ask for those algorithms.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from typing import Protocol

# XXHASH64, XXHASH3 and XXHASH128 (newer S3 algorithms) are not computed: they are refused.
ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "MD5")


class Checksum(Protocol):
    def update(self, data: bytes | memoryview) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A CRC computed by ``step(data, crc) -> crc``, digested big-endian in ``width`` bytes."""

    def __init__(self, step: Callable[[bytes | memoryview, int], int], width: int) -> None:
        self._step = step
        self._width = width
        self._crc = 0

    def update(self, data: bytes | memoryview) -> None:
        self._crc = self._step(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(self._width, "big")


def _reflected_table(polynomial: int, width: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ polynomial if crc & 1 else crc >> 1
        table.append(crc & ((1 << width) - 1))
    return table


def _table_crc(polynomial: int, width: int) -> Callable[[bytes | memoryview, int], int]:
    """A reflected CRC with init and final XOR all ones (CRC32C's and CRC64NVME's shape)."""
    table = _reflected_table(polynomial, width)
    mask = (1 << width) - 1

    def step(data: bytes | memoryview, crc: int) -> int:
        crc ^= mask
        for byte in bytes(data):
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        return crc ^ mask

    return step


def _crc32(data: bytes | memoryview, crc: int) -> int:
    return zlib.crc32(data, crc)


_Step = Callable[[bytes | memoryview, int], int]

try:  # awscrt ships C implementations of both; botocore prefers it for the same reason.
    from awscrt import checksums as _crt  # type: ignore[import-not-found, unused-ignore]

    _crc32c: _Step = lambda data, crc: int(_crt.crc32c(bytes(data), crc))  # noqa: E731
    _crc64nvme: _Step = lambda data, crc: int(_crt.crc64nvme(bytes(data), crc))  # noqa: E731
except ImportError:
    _crc32c = _table_crc(0x82F63B78, 32)
    _crc64nvme = _table_crc(0x9A6C9329AC4BC9B5, 64)


def new(algorithm: str) -> Checksum:
    """A fresh checksum of ``algorithm`` (one of ALGORITHMS, upper case)."""
    if algorithm == "CRC32":
        return _Crc(_crc32, 4)
    if algorithm == "CRC32C":
        return _Crc(_crc32c, 4)
    if algorithm == "CRC64NVME":
        return _Crc(_crc64nvme, 8)
    if algorithm == "SHA1":
        return hashlib.sha1(usedforsecurity=False)
    if algorithm == "SHA256":
        return hashlib.sha256()
    if algorithm == "SHA512":
        return hashlib.sha512()
    if algorithm == "MD5":
        return hashlib.md5(usedforsecurity=False)
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def of(algorithm: str, data: bytes) -> str:
    """The base64 checksum of ``data``."""
    checksum = new(algorithm)
    checksum.update(data)
    return encode(checksum.digest())


def composite(algorithm: str, part_checksums: list[str]) -> str:
    """A multipart object's COMPOSITE checksum: the checksum of the parts' raw checksums,
    then ``-N`` (as S3 computes it)."""
    checksum = new(algorithm)
    for value in part_checksums:
        checksum.update(base64.b64decode(value))
    return f"{encode(checksum.digest())}-{len(part_checksums)}"
