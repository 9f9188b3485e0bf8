"""Shared fixtures: a real platform on a temporary data dir, and helpers to deploy source code."""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gureum import FunctionConfig, Platform, PlatformSettings, open_platform
from gureum.clock import ManualClock
from gureum.engine.engine import EngineSettings
from gureum.sandbox.runtimes import host_runtime

HOST_RUNTIME = host_runtime()

# Subprocesses (`python -m gureum ...`) run this checkout's code too, whatever an editable
# install elsewhere points at.
_SRC = str(Path(__file__).parents[1] / "src")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH", "")) if p)
CAN_ISOLATE = sys.platform == "linux" and os.geteuid() == 0

Deploy = Callable[..., Awaitable[FunctionConfig]]


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def source(text: str) -> str:
    return textwrap.dedent(text).lstrip()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _levels() -> list[str]:
    # `full` needs root on Linux; CI runs as root, so every level is exercised there (a root
    # gureum runs `rootless` zygotes as nobody, which is how rootless is tested).
    return ["full", "rootless", "process"] if CAN_ISOLATE else ["rootless", "process"]


@pytest.fixture(params=_levels())
def isolation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


_SHARED_BASE: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def _shared_base() -> Iterator[None]:
    """A world-readable scratch folder for rootless data dirs, removed after the session."""
    base = Path(tempfile.mkdtemp(prefix="gureum-tests-"))
    base.chmod(0o755)
    _SHARED_BASE.append(base)
    yield
    _SHARED_BASE.clear()
    for path in base.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(base, ignore_errors=True)


def data_dir_for(tmp_path: Path, isolation: str) -> Path:
    if isolation == "rootless" and CAN_ISOLATE:
        # The zygote runs as nobody: its data dir must be reachable by others, which pytest's
        # private tmp_path (mode 0700) is not.
        shared = Path(tempfile.mkdtemp(dir=_SHARED_BASE[0]))
        shared.chmod(0o755)
        return shared / "data"
    return tmp_path / "data"


async def _open(tmp_path: Path, isolation: str, clock: ManualClock, **engine: Any) -> Platform:
    settings = PlatformSettings(
        engine=EngineSettings(**engine),
        isolation=isolation,  # type: ignore[arg-type]
    )
    return await open_platform(data_dir_for(tmp_path, isolation), settings, clock=clock)


@pytest.fixture
async def platform(tmp_path: Path, isolation: str, clock: ManualClock) -> AsyncIterator[Platform]:
    """A platform at each isolation level this host supports."""
    p = await _open(tmp_path, isolation, clock)
    try:
        yield p
    finally:
        await p.aclose()


@pytest.fixture(params=["shell", "fresh"])
async def isolated_platform(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[Platform]:
    """A platform at the `full` level only (tests of isolation itself), twice: with a
    pre-isolated shell ready for the test's first cold start, and with shells off (every
    sandbox built from scratch). Both paths must keep every promise."""
    if not CAN_ISOLATE:
        pytest.fail("isolation tests need root on Linux (CI runs as root)")
    shells = request.param == "shell"
    settings = PlatformSettings(isolation="full", shells=shells)
    p = await open_platform(data_dir_for(tmp_path, "full"), settings, clock=clock)
    try:
        if shells:
            await p.sandboxes.warm(HOST_RUNTIME)
            assert p.sandboxes.shells[HOST_RUNTIME].idle, "no shell ready"
        yield p
    finally:
        await p.aclose()


@pytest.fixture
def open_custom(tmp_path: Path, clock: ManualClock) -> Callable[..., Awaitable[Platform]]:
    """Open a platform with custom engine settings; the test closes it."""

    async def opener(
        isolation: str = "full" if CAN_ISOLATE else "process", **engine: Any
    ) -> Platform:
        return await _open(tmp_path, isolation, clock, **engine)

    return opener


def deployer(p: Platform) -> Deploy:
    async def deploy(
        name: str, code: str | dict[str, str | bytes], **settings: Any
    ) -> FunctionConfig:
        files = {"app.py": source(code)} if isinstance(code, str) else code
        settings.setdefault("runtime", HOST_RUNTIME)
        settings.setdefault("handler", "app.handler")
        return await p.functions.create(name=name, code=make_zip(files), **settings)

    return deploy


@pytest.fixture
def deploy(platform: Platform) -> Deploy:
    """deploy(name, source_of_app_py | {path: content}, **settings) on the `platform` fixture."""
    return deployer(platform)
