"""Validation of an uploaded function zip, before it is stored and long before it is unpacked.

Every check here runs on the bytes alone, in memory: nothing touches the disk. Entries are read
through once (bounded by the declared sizes, which are capped first), so a corrupt archive is
refused at upload instead of at its first cold start.

Zip bomb thresholds. Deflate cannot do better than about 1032:1, and real code (Python, Node,
shared libraries) compresses 2:1 to 10:1, rarely 50:1 for repetitive JSON or CSV; but the shared
libraries auditwheel vendors into manylinux wheels are padded with zeros to page boundaries, and
small ones reach 250:1 (Pillow's libXau: 2 MiB from 9 KiB). So:

- an entry over ``BOMB_ENTRY_MIN_BYTES`` (1 MiB) with a ratio over ``BOMB_ENTRY_RATIO`` (900:1)
  is a run of near-constant bytes, not code (a real bomb's entries are near deflate's limit);
- an archive over ``BOMB_ARCHIVE_MIN_BYTES`` (16 MiB unzipped) whose unzipped total is over
  ``BOMB_ARCHIVE_RATIO`` (100:1) times its zipped size catches the same bomb split into many
  entries under 1 MiB each. The zipped size is ``len(data)``, not the sum of the entries'
  compressed sizes, which overlapping entries can inflate.

Small entries are exempt: a 10 KiB file of zeros is harmless and common (padding, empty tables).
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from gureum.errors import InvalidParameterValueException, RequestTooLargeException

MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # Lambda's 262144000
# One inode and one manifest line per entry: bounds the work of unpacking a zip of empty files.
MAX_ENTRIES = 100_000
MAX_LINK_TARGET_BYTES = 4095  # PATH_MAX less the terminating NUL
MAX_NAME_BYTES = 255  # NAME_MAX of every Linux filesystem we unpack onto

BOMB_ENTRY_MIN_BYTES = 1024 * 1024
BOMB_ENTRY_RATIO = 900
BOMB_ARCHIVE_MIN_BYTES = 16 * 1024 * 1024
BOMB_ARCHIVE_RATIO = 100

_CHUNK = 1024 * 1024
_UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
# Only the methods Lambda itself unpacks; bzip2 and lzma would also allow far higher ratios.
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_UNIX = 3  # ZipInfo.create_system: only Unix hosts put a st_mode in external_attr

EntryKind = Literal["dir", "file", "symlink"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One zip entry, classified the same way by the checker and by the extractor."""

    info: zipfile.ZipInfo
    path: str  # relative, "/"-separated, normalised, no trailing slash
    kind: EntryKind
    executable: bool


def check_zip(data: bytes) -> int:
    """Validate a function zip and return its total unzipped size in bytes.

    Raises ``RequestTooLargeException`` past ``MAX_ZIPPED_BYTES`` and
    ``InvalidParameterValueException`` for anything unsafe or unreadable; messages name the entry.
    """
    if len(data) > MAX_ZIPPED_BYTES:
        raise RequestTooLargeException(
            f"Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes, got {len(data)}"
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # zipfile raises a zoo of types on malformed input
        raise InvalidParameterValueException(_UNZIP_FAILED) from exc
    with zf:
        entries = list_entries(zf, zipped_size=len(data))
        total = 0
        targets: dict[str, str] = {}
        for entry in entries:
            if entry.kind == "dir":
                continue
            size, content = _read_entry(zf, entry, MAX_UNZIPPED_BYTES - total)
            total += size
            if entry.kind == "symlink":
                targets[entry.path] = os.fsdecode(content)
    for path, target in targets.items():
        check_link(path, target, targets.keys())
    return total


def list_entries(zf: zipfile.ZipFile, zipped_size: int) -> list[Entry]:
    """Classify and check every entry's name, type and declared size, without decompressing."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise InvalidParameterValueException(f"Zip has {len(infos)} entries, over {MAX_ENTRIES}")
    entries: list[Entry] = []
    kinds: dict[str, EntryKind] = {}
    parents: dict[str, str] = {}  # implied directory -> first entry beneath it
    declared = 0
    for info in infos:
        entry = _classify(info)
        if entry.path in kinds:
            raise InvalidParameterValueException(f"Duplicate zip entry: {info.filename!r}")
        kinds[entry.path] = entry.kind
        parts = entry.path.split("/")
        for i in range(1, len(parts)):
            parents.setdefault("/".join(parts[:i]), info.filename)
        if entry.kind != "dir":
            declared += info.file_size
        entries.append(entry)
    for parent, child in parents.items():
        if kinds.get(parent, "dir") != "dir":
            raise InvalidParameterValueException(
                f"Zip entry {child!r} lies beneath {parent!r}, which is not a directory"
            )
    if declared > MAX_UNZIPPED_BYTES:
        raise InvalidParameterValueException(
            f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
        )
    for entry in entries:
        size = entry.info.file_size
        if (
            entry.kind != "dir"
            and size > BOMB_ENTRY_MIN_BYTES
            and size > BOMB_ENTRY_RATIO * max(entry.info.compress_size, 1)
        ):
            raise InvalidParameterValueException(
                f"Zip entry {entry.info.filename!r} expands {size} bytes from "
                f"{entry.info.compress_size}: refused as a zip bomb"
            )
    if declared > BOMB_ARCHIVE_MIN_BYTES and declared > BOMB_ARCHIVE_RATIO * max(zipped_size, 1):
        raise InvalidParameterValueException(
            f"Zip expands {declared} bytes from {zipped_size}: refused as a zip bomb"
        )
    return entries


def check_link(path: str, target: str, links: Collection[str]) -> None:
    """Refuse a symlink whose target could resolve outside the tree.

    The target is resolved lexically from the link's directory. A ``..`` after a component that
    is itself a link would resolve from that link's target instead, so targets may not pass
    through another link of the archive (the last component may: ``libx.so -> libx.so.1``).
    ``links`` holds every symlink path in the archive.
    """
    if not target or "\0" in target or "\\" in target or target.startswith("/"):
        raise InvalidParameterValueException(
            f"Zip entry {path!r} is a symlink to {target!r}, outside the function's code"
        )
    resolved = path.split("/")[:-1]
    comps = [c for c in target.split("/") if c not in ("", ".")]
    for i, comp in enumerate(comps):
        if comp == "..":
            if not resolved:
                raise InvalidParameterValueException(
                    f"Zip entry {path!r} is a symlink to {target!r}, outside the function's code"
                )
            resolved.pop()
        else:
            resolved.append(comp)
        if i < len(comps) - 1 and "/".join(resolved) in links:
            raise InvalidParameterValueException(
                f"Zip entry {path!r} is a symlink to {target!r}, through another symlink"
            )


def _read_entry(zf: zipfile.ZipFile, entry: Entry, budget: int) -> tuple[int, bytes]:
    """Read an entry through, checking its CRC; return its real size and a symlink's target."""
    keep = entry.kind == "symlink"
    chunks: list[bytes] = []
    size = 0
    try:
        with zf.open(entry.info) as src:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                if size > budget:
                    raise InvalidParameterValueException(
                        f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
                    )
                if keep:
                    chunks.append(chunk)
    except InvalidParameterValueException:
        raise
    except Exception as exc:
        raise InvalidParameterValueException(
            f"{_UNZIP_FAILED} Entry {entry.info.filename!r} is corrupt."
        ) from exc
    return size, b"".join(chunks)


def _classify(info: zipfile.ZipInfo) -> Entry:
    name = info.filename

    def refuse(why: str) -> InvalidParameterValueException:
        return InvalidParameterValueException(f"Zip entry {name!r} {why}")

    if "\\" in name:
        raise refuse("contains a backslash")
    if name.startswith("/") or (name[1:2] == ":" and name[:1].isalpha()):
        raise refuse("has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise refuse("has a '..' path component")
    if not parts:
        raise refuse("has an empty path")
    if any(len(os.fsencode(p)) > MAX_NAME_BYTES for p in parts):
        raise refuse(f"has a path component longer than {MAX_NAME_BYTES} bytes")
    if info.flag_bits & 0x1:
        raise refuse("is encrypted")
    if info.compress_type not in _METHODS:
        raise refuse(f"uses unsupported compression method {info.compress_type}")
    mode = info.external_attr >> 16 if info.create_system == _UNIX else 0
    fmt = stat.S_IFMT(mode)
    kind: EntryKind = "file"
    if name.endswith("/") or fmt == stat.S_IFDIR:
        kind = "dir"
    elif fmt == stat.S_IFLNK:
        kind = "symlink"
        if info.file_size > MAX_LINK_TARGET_BYTES:
            raise refuse(f"is a symlink with a target over {MAX_LINK_TARGET_BYTES} bytes")
    elif fmt not in (0, stat.S_IFREG):  # some writers (Python's zipfile) leave the type out
        raise refuse("is a device, fifo or socket")
    return Entry(info, "/".join(parts), kind, bool(mode & stat.S_IXUSR))
