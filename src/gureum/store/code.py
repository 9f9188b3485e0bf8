"""The content-addressed code store: function zips by SHA-256, and their unpacked trees.

Layout under ``root``::

    blobs/<sha>.zip        the zip exactly as uploaded
    unpacked/<sha>/        its tree, bind-mounted read-only into sandboxes, with
                           .gureum-manifest.json: the SHA-256 and mode of every file in it

Blobs and trees appear by ``os.replace``/``os.rename`` of a finished temporary, so a reader never
sees half of one and concurrent writers (threads or processes) at worst do the work twice.
Nothing is run that does not match its hash: a blob is hashed before it is unpacked, and a tree
this process did not unpack itself is checked against its manifest before it is first handed out.

Every method is synchronous and may block on disk: call it from a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from gureum.errors import (
    CodeVerificationFailedException,
    GureumError,
    InvalidParameterValueException,
    ResourceNotFoundException,
)
from gureum.store.zipcheck import MAX_UNZIPPED_BYTES, check_zip, list_entries

MANIFEST_NAME = ".gureum-manifest.json"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CodeRef:
    sha256: str  # hex digest of the zip bytes
    size: int  # zipped size
    unzipped_size: int


class CodeStore:
    """Function code on local disk, addressed by the SHA-256 of its zip."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._trees = root / "unpacked"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._trees.mkdir(parents=True, exist_ok=True)
        # Trees verified (or unpacked) by this instance: the cold-start path stops here.
        self._verified: dict[str, Path] = {}
        self._locks: dict[str, threading.Lock] = {}

    def put(self, zip_bytes: bytes) -> CodeRef:
        """Validate and store a zip; idempotent. Raises what ``check_zip`` raises, and
        ``InvalidParameterValueException`` for a zip holding the store's manifest name."""
        unzipped_size = check_zip(zip_bytes)
        _check_reserved(zip_bytes)
        sha = hashlib.sha256(zip_bytes).hexdigest()
        path = self._blob_path(sha)
        if not (path.is_file() and _file_sha256(path) == sha):
            _write_atomic(path, zip_bytes)
        return CodeRef(sha256=sha, size=len(zip_bytes), unzipped_size=unzipped_size)

    def prepare(self, zip_bytes: bytes) -> CodeRef:
        """put(), then unpack and precompile at once: deploying pays for that, not the first
        cold start (as Lambda does its preparation while a function is Pending)."""
        ref = self.put(zip_bytes)
        self.unpacked(ref.sha256)
        return ref

    def has(self, sha256: str) -> bool:
        return self._blob_path(sha256).is_file()

    def blob(self, sha256: str) -> bytes:
        """The zip's bytes: ``ResourceNotFoundException`` if absent,
        ``CodeVerificationFailedException`` if they no longer hash to ``sha256``."""
        try:
            data = self._blob_path(sha256).read_bytes()
        except FileNotFoundError:
            raise ResourceNotFoundException(f"Code not found: {sha256}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise CodeVerificationFailedException(f"Stored code {sha256} does not match its hash")
        return data

    def verified_tree(self, sha256: str) -> Path | None:
        """The unpacked tree if this process has verified it already (no disk access), else
        None: then unpacked() does the work, off the event loop."""
        return self._verified.get(sha256)

    def unpacked(self, sha256: str) -> Path:
        """The code's unpacked tree, ready to bind-mount read-only, unpacking it if need be.

        Raises ``ResourceNotFoundException`` when neither blob nor tree exists, and
        ``CodeVerificationFailedException`` when either fails its check; nothing is unpacked then.
        """
        path = self._verified.get(sha256)
        if path is not None:
            return path
        with self._lock(sha256):
            path = self._verified.get(sha256)
            if path is None:
                path = self._trees / sha256
                if os.path.lexists(path):
                    if self.has(sha256):
                        self.blob(sha256)
                    _verify_tree(path, sha256)
                else:
                    self._unpack(sha256, path)
                self._verified[sha256] = path
            return path

    def merged(self, shas: list[str]) -> Path:
        """One tree holding several unpacked trees laid over each other in order (later ones
        win), as Lambda extracts layers into /opt. Built once per combination, of hard links
        into the verified trees, so it costs no copy of the content."""
        trees = [self.unpacked(sha) for sha in shas]
        key = hashlib.sha256(" ".join(shas).encode()).hexdigest()
        target = self._trees / f"opt-{key}"
        if key in self._verified:
            return target
        with self._lock(f"opt-{key}"):
            if not os.path.isdir(target):
                tmp = Path(tempfile.mkdtemp(prefix=f".tmp-opt-{key[:16]}-", dir=self._trees))
                try:
                    for tree in trees:
                        shutil.copytree(
                            tree,
                            tmp,
                            symlinks=True,
                            dirs_exist_ok=True,
                            copy_function=_link_or_replace,
                            ignore=shutil.ignore_patterns(MANIFEST_NAME),
                        )
                    os.chmod(tmp, 0o755)
                    os.rename(tmp, target)
                except OSError:
                    if not os.path.isdir(target):
                        raise
                finally:
                    if os.path.lexists(tmp):
                        _remove_tree(tmp)
            self._verified[key] = target
        return target

    def delete(self, sha256: str) -> None:
        """Remove the blob and the tree; deleting absent code is a no-op."""
        with self._lock(sha256):
            self._verified.pop(sha256, None)
            self._blob_path(sha256).unlink(missing_ok=True)
            tree = self._trees / sha256
            # Moved aside first, so a concurrent unpacked() sees the whole tree or none of it.
            doomed = self._trees / f".del-{sha256}-{os.urandom(4).hex()}"
            try:
                os.rename(tree, doomed)
            except FileNotFoundError:
                return
            _remove_tree(doomed)

    def _unpack(self, sha: str, target: Path) -> None:
        data = self.blob(sha)
        try:
            check_zip(data)
            _check_reserved(data)
        except GureumError as exc:
            raise CodeVerificationFailedException(
                f"Stored code {sha} no longer passes validation: {exc.message}"
            ) from exc
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{sha[:16]}-", dir=self._trees))
        try:
            _extract(data, tmp)
            _compile(tmp)
            manifest = {"sha256": sha, "entries": _scan_tree(tmp, fix_modes=True)}
            (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, sort_keys=True))
            os.chmod(tmp / MANIFEST_NAME, 0o644)
            os.chmod(tmp, 0o755)
            try:
                os.rename(tmp, target)
            except OSError:
                if not os.path.lexists(target):
                    raise
                # Another process unpacked it first: use theirs, once it proves itself.
                _verify_tree(target, sha)
        finally:
            if os.path.lexists(tmp):
                _remove_tree(tmp)

    def _blob_path(self, sha: str) -> Path:
        if not _SHA256.fullmatch(sha):
            raise InvalidParameterValueException(f"Not a SHA-256 hex digest: {sha!r}")
        return self._blobs / f"{sha}.zip"

    def _lock(self, sha: str) -> threading.Lock:
        return self._locks.setdefault(sha, threading.Lock())  # atomic under the GIL


def _check_reserved(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        if any(e.path == MANIFEST_NAME for e in list_entries(zf, len(data))):
            raise InvalidParameterValueException(f"Zip entry {MANIFEST_NAME!r} is reserved")


def _extract(data: bytes, dest: Path) -> None:
    """Write every entry under ``dest``, counting the bytes really written.

    Symlinks come last, so no file is ever written through one; ``O_NOFOLLOW`` backs that up."""
    written = 0
    links: list[tuple[Path, bytes]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for entry in list_entries(zf, len(data)):
            path = dest.joinpath(*entry.path.split("/"))
            if entry.kind == "dir":
                path.mkdir(mode=0o755, parents=True, exist_ok=True)
                continue
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            if entry.kind == "symlink":
                links.append((path, zf.read(entry.info)))
                continue
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            with zf.open(entry.info) as src, open(os.open(path, flags, 0o600), "wb") as out:
                os.fchmod(out.fileno(), 0o755 if entry.executable else 0o644)
                while chunk := src.read(_CHUNK):
                    written += len(chunk)
                    if written > MAX_UNZIPPED_BYTES:
                        raise CodeVerificationFailedException(
                            f"Unzipped code outgrew {MAX_UNZIPPED_BYTES} bytes at {entry.path!r}"
                        )
                    out.write(chunk)
    for path, target in links:
        os.symlink(os.fsdecode(target), path)


# Compiling is running the parser on untrusted source: a crafted file can take gigabytes and
# minutes. So it runs in a child with its own limits; if it fails, imports just compile later.
_COMPILER = """
import compileall, py_compile, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
top = sys.argv[1]
# Hash-based pycs never consult mtimes: the tree is immutable, verified, and mounted read-only.
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
compileall.compile_dir(top, quiet=2, force=True, limit_sl_dest=top, invalidation_mode=mode)
"""


def _compile(tree: Path) -> None:
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", _COMPILER, str(tree)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )


def _scan_tree(tree: Path, *, fix_modes: bool = False) -> dict[str, str]:
    """Describe every entry under ``tree`` but the manifest, without following symlinks; with
    ``fix_modes``, first set directories and owner-executable files to 0o755, others to 0o644."""
    out: dict[str, str] = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(tree / rel if rel else tree) as it:
            for de in it:
                name = f"{rel}/{de.name}" if rel else de.name
                if name == MANIFEST_NAME:
                    continue
                st = de.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    out[name] = "l " + os.readlink(de.path)
                    continue
                mode = stat.S_IMODE(st.st_mode)
                if fix_modes:
                    exec_bit = stat.S_ISDIR(st.st_mode) or mode & stat.S_IXUSR
                    mode = 0o755 if exec_bit else 0o644
                    os.chmod(de.path, mode)
                if stat.S_ISDIR(st.st_mode):
                    out[name] = f"d {mode:o}"
                    stack.append(name)
                elif stat.S_ISREG(st.st_mode):
                    out[name] = f"f {mode:o} {_file_sha256(Path(de.path))}"
                else:
                    out[name] = "?"
    return out


def _verify_tree(tree: Path, sha: str) -> None:
    expected: object = None
    if stat.S_ISDIR(os.lstat(tree).st_mode):
        try:
            manifest = json.loads((tree / MANIFEST_NAME).read_bytes())
        except (OSError, ValueError):
            manifest = None
        if isinstance(manifest, dict) and manifest.get("sha256") == sha:
            expected = manifest.get("entries")
    if not isinstance(expected, dict):
        raise CodeVerificationFailedException(f"Unpacked code {sha} has no valid manifest")
    actual = _scan_tree(tree)
    if actual != expected:
        changed = min(k for k in {*actual, *expected} if actual.get(k) != expected.get(k))
        raise CodeVerificationFailedException(
            f"Unpacked code {sha} differs from its manifest at {changed!r}"
        )


def _link_or_replace(source: str, destination: str) -> None:
    # A later layer's file replaces an earlier one's at the same path.
    if os.path.lexists(destination):
        os.unlink(destination)
    os.link(source, destination)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    # The rename itself is only durable once the directory is synced.
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _remove_tree(path: Path) -> None:
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        path.unlink()
        return
    # A tampered tree may hold directories we cannot list or write into: give them back first,
    # each before it is listed.
    stack = [str(path)]
    while stack:
        top = stack.pop()
        os.chmod(top, 0o700)
        with os.scandir(top) as it:
            stack.extend(de.path for de in it if de.is_dir(follow_symlinks=False))
    shutil.rmtree(path)
