"""The object store's files: every object and part is an immutable file under ``data/``.

Layout under the store's root::

    objects.db        the catalog (SQLite, WAL): which file holds which object or part
    data/ab/<id>      one file per object or part, named by a random id (never by key)
    tmp/<id>          bodies being received; moved into data/ whole, or deleted

A file is never changed once in ``data/``: an overwrite writes a new file, commits the row that
points to it, then deletes the old one. So a reader that opened a file keeps reading consistent
bytes, a copy can be a hard link, and a crash leaves at worst files no row points to, which
``clean`` deletes at start.

Everything here blocks on the disk: callers on the event loop run it in a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from .digests import Digests
from .types import Body, no_body

log = logging.getLogger("gureum.objects")

FANOUT = [f"{n:02x}" for n in range(256)]


class Layout:
    def __init__(self, root: Path, *, fsync: bool) -> None:
        self.root = root
        self.data = root / "data"
        self.tmp = root / "tmp"
        self.fsync = fsync

    def create(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        for name in FANOUT:
            (self.data / name).mkdir(parents=True, exist_ok=True)

    def path(self, file: str) -> Path:
        return self.data / file

    def new_name(self) -> str:
        name = uuid.uuid4().hex
        return f"{name[:2]}/{name}"

    def open(self, file: str) -> BinaryIO:
        """The file's bytes; FileNotFoundError if it was replaced or deleted meanwhile."""
        return open(self.data / file, "rb")  # the caller closes it

    def remove(self, files: Iterable[str]) -> None:
        for file in files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.data / file)

    def link(self, file: str) -> str:
        """A new name for ``file``'s bytes (a hard link; a copy where links are refused)."""
        name = self.new_name()
        try:
            os.link(self.data / file, self.data / name)
        except FileNotFoundError:
            raise
        except OSError:
            writer = Writer(self)
            with open(self.data / file, "rb") as source:
                while chunk := source.read(COPY_CHUNK):
                    writer.write([chunk])
            return writer.finish()
        return name

    def clean(self, referenced: set[str]) -> int:
        """Delete every temporary file and every data file no row points to (a crash's
        leftovers); returns how many."""
        removed = 0
        for entry in os.scandir(self.tmp):
            os.unlink(entry.path)
            removed += 1
        for name in FANOUT:
            for entry in os.scandir(self.data / name):
                if f"{name}/{entry.name}" not in referenced:
                    os.unlink(entry.path)
                    removed += 1
        return removed


COPY_CHUNK = 1024 * 1024


class Writer:
    """A body written to ``tmp/`` while its digests are computed, then moved whole into
    ``data/`` by ``finish``. Opened on the first write, so a failed request costs no file until
    needed. Thread-safe: ``discard`` waits for a write in progress on another thread."""

    def __init__(self, layout: Layout, digests: Digests | None = None) -> None:
        self.layout = layout
        self.digests = digests or Digests(Body(no_body()))
        self.size = 0
        self._name = layout.new_name()
        self._temp = layout.tmp / self._name[3:]
        self._file: BinaryIO | None = None
        self._lock = threading.Lock()

    def write(self, chunks: Iterable[bytes]) -> None:
        with self._lock:
            if self._file is None:
                self._file = open(self._temp, "xb")  # noqa: SIM115
            for chunk in chunks:
                self._file.write(chunk)
                self.digests.update(chunk)
                self.size += len(chunk)

    def append(self, file: str) -> None:
        """Append a data file's bytes (a multipart upload's part): kernel to kernel, unless a
        checksum of the whole must be computed on the way."""
        if self.digests.checksum is not None:
            with open(self.layout.data / file, "rb") as source:
                while chunk := source.read(COPY_CHUNK):
                    self.write([chunk])
            return
        with self._lock:
            if self._file is None:
                self._file = open(self._temp, "xb")  # noqa: SIM115
            self._file.flush()
            with open(self.layout.data / file, "rb") as source:
                size = os.fstat(source.fileno()).st_size
                done = 0
                while done < size:
                    sent = os.copy_file_range(source.fileno(), self._file.fileno(), size - done)
                    if sent == 0:
                        break
                    done += sent
                self.size += done

    def finish(self) -> str:
        """Move the complete body into ``data/`` (durably if the layout says so); its name."""
        with self._lock:
            if self._file is None:
                self._file = open(self._temp, "xb")  # noqa: SIM115
            self._file.flush()
            if self.layout.fsync:
                os.fsync(self._file.fileno())
            self._file.close()
            target = self.layout.data / self._name
            os.replace(self._temp, target)
            if self.layout.fsync:
                _fsync_dir(target.parent)
            return self._name

    def discard(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._temp)


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once its directory is: otherwise power loss can undo it.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
