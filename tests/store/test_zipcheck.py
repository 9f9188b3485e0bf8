from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile

import pytest

from gureum.errors import InvalidParameterValueException, RequestTooLargeException
from gureum.store import zipcheck
from gureum.store.zipcheck import check_zip

MiB = 1024 * 1024


def file_info(name: str, mode: int = 0o644, kind: int = stat.S_IFREG) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, so external_attr carries a st_mode
    info.external_attr = (kind | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def link_info(name: str) -> zipfile.ZipInfo:
    return file_info(name, 0o777, stat.S_IFLNK)


def make_zip(*entries: tuple[str | zipfile.ZipInfo, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on the duplicate names we write on purpose
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return buf.getvalue()


def patch_sizes(data: bytes, size: int) -> bytes:
    """Rewrite the declared uncompressed size of the only entry, in both its headers."""
    out = bytearray(data)
    local = out.index(b"PK\x03\x04")
    central = out.index(b"PK\x01\x02")
    struct.pack_into("<I", out, local + 22, size)
    struct.pack_into("<I", out, central + 24, size)
    return bytes(out)


def refused(data: bytes, match: str) -> None:
    with pytest.raises(InvalidParameterValueException, match=match):
        check_zip(data)


def test_valid_zip_returns_unzipped_size() -> None:
    source = "def handler(e, c):\n    return e\n"
    data = make_zip(
        ("handler.py", source),
        ("pkg/", b""),
        ("pkg/data.bin", b"x" * 1000),
        (file_info("bootstrap", 0o755), "#!/bin/sh\n"),
        (link_info("pkg/alias.bin"), "data.bin"),
    )
    assert check_zip(data) == len(source) + 1000 + 10 + len("data.bin")


def test_empty_zip_is_valid() -> None:
    assert check_zip(make_zip()) == 0


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04" + b"\0" * 40])
def test_non_zip_is_refused(data: bytes) -> None:
    refused(data, "Could not unzip uploaded file")


def test_truncated_zip_is_refused() -> None:
    data = make_zip(("a.py", "x = 1\n" * 100))
    refused(data[: len(data) // 2], "Could not unzip uploaded file")


def test_corrupt_entry_is_refused_and_named() -> None:
    data = bytearray(make_zip((zipfile.ZipInfo("a.txt"), b"hello world, stored as is")))
    data[data.index(b"hello")] ^= 0xFF
    refused(bytes(data), r"Could not unzip uploaded file.*'a\.txt'")


def test_entry_longer_than_declared_is_refused() -> None:
    # zipfile stops at the declared size, so the CRC of the longer content no longer matches.
    data = make_zip((zipfile.ZipInfo("a.txt"), b"0123456789"))
    refused(patch_sizes(data, 5), "Could not unzip uploaded file")


def test_oversize_zip_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipcheck, "MAX_ZIPPED_BYTES", 100)
    with pytest.raises(RequestTooLargeException, match="100 bytes"):
        check_zip(b"x" * 101)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/etc/passwd", "absolute"),
        ("C:/Windows/x.dll", "absolute"),
        ("../x", r"'\.\.'"),
        ("a/../../x", r"'\.\.'"),
        ("a/../b", r"'\.\.'"),
        ("..\\x", "backslash"),
        ("a\\..\\..\\x", "backslash"),
        ("./", "empty"),
        ("a/" + "n" * 256, "longer than 255"),
    ],
)
def test_hostile_names_are_refused(name: str, why: str) -> None:
    with pytest.raises(InvalidParameterValueException, match=why) as err:
        check_zip(make_zip((name, b"x")))
    assert repr(name) in err.value.message


@pytest.mark.parametrize("second", ["a.py", "./a.py", "a.py/", ".//a.py"])
def test_duplicate_names_are_refused(second: str) -> None:
    refused(make_zip(("a.py", b"1"), (second, b"2")), "Duplicate zip entry")


def test_entry_beneath_a_file_is_refused() -> None:
    refused(make_zip(("a", b"1"), ("a/b", b"2")), "'a/b' lies beneath 'a'")


def test_entry_beneath_a_symlink_is_refused() -> None:
    data = make_zip(("d/", b""), (link_info("l"), "d"), ("l/x", b"2"))
    refused(data, "'l/x' lies beneath 'l'")


@pytest.mark.parametrize(
    "target",
    ["/etc/passwd", "../../etc/passwd", "../..", "sub/../../../x", "a/../../..", "", "x\\..\\y"],
)
def test_escaping_symlinks_are_refused(target: str) -> None:
    data = make_zip(("lib/real.so", b"elf"), (link_info("lib/link.so"), target))
    refused(data, "'lib/link.so' is a symlink")


def test_symlink_through_another_symlink_is_refused() -> None:
    # Lexically "here/.." stays inside, but "here" resolves to the root, and root/.. is outside.
    data = make_zip((link_info("here"), "."), (link_info("up"), "here/.."))
    refused(data, "'up' is a symlink to 'here/..', through another symlink")


def test_symlinks_inside_the_tree_are_accepted() -> None:
    data = make_zip(
        ("lib/libx.so.1.2", b"elf"),
        (link_info("lib/libx.so.1"), "libx.so.1.2"),
        (link_info("lib/libx.so"), "libx.so.1"),  # a chain, resolved at its last component
        (link_info("bin/x"), "../lib/./libx.so"),
        (link_info("self"), "."),
    )
    assert check_zip(data) > 0


def test_symlink_mode_is_ignored_from_non_unix_hosts() -> None:
    info = link_info("notalink")
    info.create_system = 0  # MS-DOS: external_attr's high half means nothing
    assert check_zip(make_zip((info, "/etc/passwd"))) == len("/etc/passwd")


def test_special_files_are_refused() -> None:
    refused(make_zip((file_info("dev", 0o600, stat.S_IFCHR), b"")), "'dev' is a device")


def test_encrypted_entry_is_refused() -> None:
    # zipfile never writes the flag itself: set it in both headers.
    data = bytearray(make_zip(("secret.py", b"x = 1")))
    data[data.index(b"PK\x03\x04") + 6] |= 0x1
    data[data.index(b"PK\x01\x02") + 8] |= 0x1
    refused(bytes(data), "'secret.py' is encrypted")


def test_unsupported_compression_is_refused() -> None:
    info = file_info("a.py")
    info.compress_type = zipfile.ZIP_BZIP2
    refused(make_zip((info, b"x = 1")), "'a.py' uses unsupported compression")


def test_single_entry_zip_bomb_is_refused() -> None:
    refused(make_zip(("zeros.bin", bytes(10 * MiB))), "'zeros.bin' expands .* zip bomb")


def test_zip_bomb_split_into_small_entries_is_refused() -> None:
    data = make_zip(*((f"z{i}.bin", bytes(MiB)) for i in range(20)))
    refused(data, r"^Zip expands .* zip bomb")


def test_small_compressible_entries_are_accepted() -> None:
    assert check_zip(make_zip(("empty.db", bytes(MiB)))) == MiB


def test_declared_size_over_limit_is_refused() -> None:
    data = patch_sizes(make_zip((zipfile.ZipInfo("big.bin"), b"tiny")), 300 * MiB)
    refused(data, "Unzipped size must be smaller than 262144000 bytes")


def test_total_size_over_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipcheck, "MAX_UNZIPPED_BYTES", 1000)
    refused(make_zip(("a.bin", b"x" * 600), ("b.bin", b"y" * 600)), "smaller than 1000 bytes")


def test_too_many_entries_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipcheck, "MAX_ENTRIES", 2)
    refused(make_zip(("a", b""), ("b", b""), ("c", b"")), "3 entries, over 2")
