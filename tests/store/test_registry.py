from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from gureum.errors import ResourceConflictException, ResourceNotFoundException
from gureum.store.registry import SCHEMA_VERSION, Registry
from gureum.store.sqlite import SchemaTooNewError
from gureum.types import FunctionConfig


def config(name: str = "echo", **changes: object) -> FunctionConfig:
    cfg = FunctionConfig(
        name=name, runtime="python3.11", handler="app.handler", code_sha256="a" * 64, code_size=1234
    )
    return dataclasses.replace(cfg, **changes)


# Every field away from its default, so a field the registry dropped would show.
FULL = FunctionConfig(
    name="full-fn_1",
    runtime="python3.12",
    handler="pkg/sub/mod.handle",
    code_sha256="b" * 64,
    code_size=987654,
    memory_mb=2048,
    timeout_s=900,
    env={"GREETING": "안녕 🌧", "QUOTES": "'\"\\", "EMPTY": "", "NL": "a\nb\x00c", "LONE": "\ud800"},
    description="설명 — with “quotes”",
    ephemeral_storage_mb=10240,
    reserved_concurrency=0,
    version="$LATEST",
    revision_id="rev-2",
    last_modified="2026-11-22T02:36:29.616+0000",
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "registry.db"


@pytest.fixture
def registry(db_path: Path) -> Iterator[Registry]:
    reg = Registry(db_path)
    yield reg
    reg.close()


def raw(db_path: Path) -> sqlite3.Connection:
    """A second, independent connection, as another process would have."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def test_round_trip_of_every_field(registry: Registry) -> None:
    registry.create_function(FULL)
    got = registry.get_function(FULL.name)
    assert got == FULL
    assert list(got.env.items()) == list(FULL.env.items())  # order kept too
    for f in dataclasses.fields(FunctionConfig):
        assert getattr(got, f.name) == getattr(FULL, f.name), f.name


def test_env_from_any_mapping(registry: Registry) -> None:
    registry.create_function(config(env=MappingProxyType({"KEY": "v"})))
    assert registry.get_function("echo").env == {"KEY": "v"}


def test_create_conflict(registry: Registry) -> None:
    registry.create_function(config())
    with pytest.raises(ResourceConflictException) as info:
        registry.create_function(config(memory_mb=256))
    assert info.value.message == "Function already exist: echo"
    assert registry.get_function("echo").memory_mb == 128


def test_not_found(registry: Registry) -> None:
    calls: list[Callable[[], object]] = [
        lambda: registry.get_function("nope"),
        lambda: registry.update_function(config("nope")),
        lambda: registry.delete_function("nope"),
    ]
    for call in calls:
        with pytest.raises(ResourceNotFoundException) as info:
            call()
        assert info.value.message == (
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope"
        )


def test_arn_prefix_is_configurable(db_path: Path) -> None:
    reg = Registry(db_path, arn_prefix="arn:aws:lambda:ap-northeast-2:123456789012:function:")
    try:
        with pytest.raises(ResourceNotFoundException, match="ap-northeast-2:123456789012"):
            reg.get_function("nope")
    finally:
        reg.close()


def test_list_is_ordered_by_name(registry: Registry) -> None:
    assert registry.list_functions() == []
    for name in ["b", "C", "a", "a-2"]:
        registry.create_function(config(name))
    # Byte order (SQLite's BINARY collation), so uppercase sorts before lowercase.
    assert [cfg.name for cfg in registry.list_functions()] == ["C", "a", "a-2", "b"]


def test_update_replaces(registry: Registry) -> None:
    registry.create_function(config(env={"OLD": "1"}))
    new = config(env={"NEW": "2"}, code_sha256="c" * 64, revision_id="r2")
    registry.update_function(new)
    assert registry.get_function("echo") == new
    assert registry.code_in_use("c" * 64)
    assert not registry.code_in_use("a" * 64)


def test_persistence_across_reopen(db_path: Path) -> None:
    reg = Registry(db_path)
    reg.create_function(FULL)
    reg.create_function(config())
    reg.close()
    reopened = Registry(db_path)
    try:
        assert reopened.list_functions() == [config(), FULL]
    finally:
        reopened.close()


def test_wal_mode_and_schema_version(registry: Registry, db_path: Path) -> None:
    conn = raw(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"functions", "versions", "aliases", "tags"} <= tables
    finally:
        conn.close()


def test_refuses_a_newer_schema(db_path: Path) -> None:
    Registry(db_path).close()
    conn = raw(db_path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError):
        Registry(db_path)


def test_concurrent_writers(registry: Registry, db_path: Path) -> None:
    # Threads share the registry's connection; a second Registry on the same file stands for
    # another process and contends for SQLite's own write lock.
    other = Registry(db_path)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        reg = registry if index % 2 else other
        try:
            barrier.wait()
            for i in range(25):
                reg.create_function(config(f"fn-{index}-{i}"))
                reg.update_function(config("shared", memory_mb=128 + index, revision_id=str(i)))
                reg.get_function(f"fn-{index}-{i}")
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    registry.create_function(config("shared"))
    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert errors == []
    assert len(registry.list_functions()) == 8 * 25 + 1
    conn = raw(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()


def test_delete_cascades_and_returns_config(registry: Registry, db_path: Path) -> None:
    registry.create_function(FULL)
    registry.create_function(config("keep"))
    conn = raw(db_path)
    try:
        for fn in (FULL.name, "keep"):
            conn.execute(
                "INSERT INTO versions VALUES (?, '1', '{}', ?, '2026-11-22')", (fn, "d" * 64)
            )
            conn.execute(
                "INSERT INTO aliases (function, name, version) VALUES (?, 'live', '1')", (fn,)
            )
            conn.execute("INSERT INTO tags VALUES (?, 'team', 'x')", (fn,))

        assert registry.delete_function(FULL.name) == FULL

        for table in ("versions", "aliases", "tags"):
            rows = conn.execute(f"SELECT function FROM {table}").fetchall()
            assert rows == [("keep",)], table
    finally:
        conn.close()
    with pytest.raises(ResourceNotFoundException):
        registry.get_function(FULL.name)


def test_code_in_use_sees_functions_and_versions(registry: Registry, db_path: Path) -> None:
    assert not registry.code_in_use("a" * 64)
    registry.create_function(config())
    assert registry.code_in_use("a" * 64)
    conn = raw(db_path)
    try:
        conn.execute(
            "INSERT INTO versions VALUES ('echo', '1', '{}', ?, '2026-11-22')", ("e" * 64,)
        )
    finally:
        conn.close()
    # The function moved on to other code; its published version still holds the old one.
    registry.update_function(config(code_sha256="f" * 64))
    assert registry.code_in_use("e" * 64)
    assert not registry.code_in_use("a" * 64)
    registry.delete_function("echo")
    assert not registry.code_in_use("e" * 64)
    assert not registry.code_in_use("f" * 64)
