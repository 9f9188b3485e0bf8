"""The `full` level's promises, probed from inside real sandboxes: who a function runs as, what
it can see, where it can write, what it can reach, and which code the platform agrees to run."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import socket
import stat
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from gureum import FunctionConfig, Platform, PlatformSettings, open_platform
from gureum.errors import CodeVerificationFailedException, InvalidParameterValueException
from tests.conftest import HOST_RUNTIME, Deploy, deployer, make_zip, source

SANDBOX_UID = 993
SANDBOX_GID = 990
MB = 1024 * 1024


def probe_deployer(platform: Platform) -> Deploy:
    """``deployer`` with a timeout that holds for a 128 MB probe (7% of a vCPU) on a busy host."""
    deploy = deployer(platform)

    async def deploy_probe(
        name: str, code: str | dict[str, str | bytes], **settings: Any
    ) -> FunctionConfig:
        settings.setdefault("timeout_s", 30)
        return await deploy(name, code, **settings)

    return deploy_probe


def _read_host_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


async def call(platform: Platform, name: str, event: Any = None) -> Any:
    """Invoke ``name`` and return its decoded result; a function error fails the test."""
    result = await platform.invoke(name, json.dumps(event or {}).encode())
    assert result.function_error is None, result.payload.decode()
    return json.loads(result.payload)


async def test_runs_as_the_sandbox_user_without_privileges(isolated_platform: Platform) -> None:
    await probe_deployer(isolated_platform)(
        "who",
        """
        import os
        def handler(event, context):
            status = dict(
                line.split(":", 1) for line in open("/proc/self/status").read().splitlines()
            )
            try:
                os.setuid(0)
                regained = True
            except PermissionError:
                regained = False
            return {
                "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
                "groups": os.getgroups(),
                "status": {k: v.strip() for k, v in status.items()},
                "regained_root": regained,
            }
        """,
    )
    got = await call(isolated_platform, "who")
    assert got["ids"] == [SANDBOX_UID, SANDBOX_UID, SANDBOX_GID, SANDBOX_GID]
    assert got["groups"] == []
    assert got["status"]["NoNewPrivs"] == "1"
    assert got["status"]["CapEff"] == "0000000000000000"
    assert got["status"]["CapPrm"] == "0000000000000000"
    assert got["status"]["CapAmb"] == "0000000000000000"
    assert got["regained_root"] is False


async def test_pid_namespace_shows_only_the_instances_own_processes(
    isolated_platform: Platform,
) -> None:
    deploy = probe_deployer(isolated_platform)
    # Another function's instance, warm and running as the same sandbox user.
    await deploy("neighbour", "def handler(event, context):\n    return 1\n")
    await call(isolated_platform, "neighbour")
    (neighbour,) = isolated_platform.engine.instances("neighbour")
    await deploy(
        "pids",
        """
        import errno, os, subprocess
        def handler(event, context):
            child = subprocess.Popen(["sleep", "30"])
            try:
                visible = sorted(int(e) for e in os.listdir("/proc") if e.isdigit())
            finally:
                child.kill()
                child.wait()
            signalled = {}
            for pid in event["host_pids"]:
                try:
                    os.kill(pid, 0)
                    signalled[pid] = "reached"
                except OSError as exc:
                    signalled[pid] = errno.errorcode[exc.errno]
            return {"pid": os.getpid(), "child": child.pid, "visible": visible, "kill": signalled}
        """,
    )
    host_pids = [neighbour.sandbox.pid, os.getpid()]
    got = await call(isolated_platform, "pids", {"host_pids": host_pids})
    # PID 1 is the instance's init; the runtime is its only child.
    assert got["pid"] == 2
    # A child that has just exec'd may not be listed yet, nor init (hidepid hides processes
    # that are not dumpable, as both are right after their uid change).
    assert 2 in got["visible"]
    assert set(got["visible"]) <= {1, 2, got["child"]}
    # Host pids name nothing in the instance's namespace (outside one, the neighbour, running
    # as the same user, could be signalled).
    assert got["kill"] == {str(pid): "ESRCH" for pid in host_pids}
    assert neighbour.sandbox.exit_status is None


async def test_host_files_are_invisible(isolated_platform: Platform, tmp_path: Path) -> None:
    await probe_deployer(isolated_platform)(
        "look",
        """
        import os
        def handler(event, context):
            return {
                "exists": {p: os.path.lexists(p) for p in event["paths"]},
                "etc": sorted(os.listdir("/etc")),
                "passwd": open("/etc/passwd").read(),
            }
        """,
    )
    data_dir = isolated_platform.data_dir
    paths = [
        "/work",
        "/root/.ssh",  # /root itself may hold the interpreter (pyenv), bound at its own path
        "/home",
        "/etc/shadow",
        str(tmp_path),
        str(data_dir),
        str(data_dir / "registry.db"),
        str(data_dir / "code" / "blobs"),
    ]
    got = await call(isolated_platform, "look", {"paths": paths})
    assert got["exists"] == dict.fromkeys(paths, False)
    allowed = {
        # written by the platform
        "passwd",
        "group",
        "hosts",
        "hostname",
        "resolv.conf",
        # bound read-only from the host, where it has them
        "ld.so.cache",
        "ld.so.conf",
        "ld.so.conf.d",
        "ssl",
        "ca-certificates",
        "pki",
        "alternatives",
        "localtime",
        "mime.types",
        "nsswitch.conf",
    }
    assert {"passwd", "group", "hosts", "hostname"} <= set(got["etc"]) <= allowed
    assert got["passwd"] != _read_host_file("/etc/passwd").decode()
    assert f":{SANDBOX_UID}:{SANDBOX_GID}:" in got["passwd"]


async def test_another_functions_code_is_invisible(isolated_platform: Platform) -> None:
    deploy = probe_deployer(isolated_platform)
    marker_a = f"marker-{uuid.uuid4().hex}.txt"
    marker_b = f"marker-{uuid.uuid4().hex}.txt"
    config_b = await deploy(
        "b", {"app.py": "def handler(event, context):\n    return 1\n", marker_b: "b's secret"}
    )
    await call(isolated_platform, "b")  # b's code is unpacked and mounted into its instance
    await deploy(
        "a",
        {
            "app.py": source(
                """
                import os
                def handler(event, context):
                    found = []
                    for top, dirs, files in os.walk("/", onerror=lambda e: None):
                        if top == "/":
                            dirs[:] = [d for d in dirs if d not in ("proc", "sys")]
                        found += [os.path.join(top, f) for f in files if f in event["names"]]
                    try:
                        open(os.path.join("/.code", event["sha"], event["name"])).read()
                        direct = "read"
                    except OSError as exc:
                        direct = exc.strerror
                    mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
                    return {
                        "found": found,
                        "direct": direct,
                        "mounts": mounts,
                        "own": open(os.path.join("/var/task", event["names"][1])).read(),
                    }
                """
            ),
            marker_a: "a's own",
        },
        memory_mb=1769,  # a full vCPU: the walk reads every directory of the root
        timeout_s=60,
    )
    event = {"names": [marker_b, marker_a], "name": marker_b, "sha": config_b.code_sha256}
    got = await call(isolated_platform, "a", event)
    # The walk does reach code: it finds a's own marker, and only that.
    assert got["found"] == [f"/var/task/{marker_a}"]
    assert got["direct"] != "read"
    assert not any(m == "/.code" or m.startswith("/.code/") for m in got["mounts"])
    assert got["own"] == "a's own"


async def test_only_tmp_is_writable(isolated_platform: Platform) -> None:
    await probe_deployer(isolated_platform)(
        "writer",
        """
        import errno
        def handler(event, context):
            outcome = {}
            for path in ("/var/task/x", "/x", "/usr/x", "/etc/x", "/etc/passwd", "/tmp/x"):
                try:
                    with open(path, "w") as f:
                        f.write("written")
                    outcome[path] = "ok"
                except OSError as exc:
                    outcome[path] = errno.errorcode[exc.errno]
            outcome["read back"] = open("/tmp/x").read()
            return outcome
        """,
    )
    got = await call(isolated_platform, "writer")
    assert got == {
        "/var/task/x": "EROFS",
        "/x": "EROFS",
        "/usr/x": "EROFS",
        "/etc/x": "EROFS",
        "/etc/passwd": "EROFS",
        "/tmp/x": "ok",
        "read back": "written",
    }


TMP_PROBE = """
    import os, time, uuid
    INSTANCE = uuid.uuid4().hex
    def handler(event, context):
        before = sorted(os.listdir("/tmp"))
        if event.get("write"):
            with open(f"/tmp/{event['write']}-{INSTANCE}", "w") as f:
                f.write(INSTANCE)
        time.sleep(event.get("sleep", 0))
        return {"instance": INSTANCE, "before": before, "after": sorted(os.listdir("/tmp"))}
"""


async def test_init_holds_only_its_channel_and_no_privileges(isolated_platform: Platform) -> None:
    """PID 1 splits off before the sandbox is built (docs/decisions/0017): it must still end up
    unprivileged, holding nothing but the channel it reports the runtime's exit on."""
    await probe_deployer(isolated_platform)("init", "def handler(event, context):\n    return 1\n")
    await call(isolated_platform, "init")
    (instance,) = isolated_platform.engine.instances("init")
    init_pid = instance.sandbox.pid
    text = _read_host_file(f"/proc/{init_pid}/status").decode()
    status = dict(line.split(":", 1) for line in text.splitlines())
    assert status["Uid"].split() == [str(SANDBOX_UID)] * 4
    assert status["Gid"].split() == [str(SANDBOX_GID)] * 4
    assert status["CapEff"].strip() == "0000000000000000"
    assert status["NoNewPrivs"].strip() == "1"
    fds = [os.readlink(f"/proc/{init_pid}/fd/{fd}") for fd in os.listdir(f"/proc/{init_pid}/fd")]
    assert len(fds) == 1 and fds[0].startswith("socket:"), fds


async def test_each_instance_has_its_own_random_state(isolated_platform: Platform) -> None:
    """The zygote clones PID 1 without CPython's fork hooks; the runtime's fork runs them, so
    random is reseeded in every instance."""
    deploy = probe_deployer(isolated_platform)
    code = "import random\ndef handler(event, context):\n    return random.getrandbits(64)\n"
    names = [f"rand-{i}" for i in range(3)]
    for name in names:
        await deploy(name, code)
    drawn = [await call(isolated_platform, name) for name in names]
    assert len(set(drawn)) == len(names)


async def test_tmp_is_private_to_each_instance(isolated_platform: Platform) -> None:
    deploy = probe_deployer(isolated_platform)
    await deploy("a", TMP_PROBE)
    await deploy("b", TMP_PROBE)

    first = await call(isolated_platform, "a", {"write": "secret"})
    assert first["before"] == []
    assert first["after"] == [f"secret-{first['instance']}"]

    # Lambda keeps /tmp for the life of an instance: the warm instance still has its file.
    again = await call(isolated_platform, "a")
    assert again["instance"] == first["instance"]
    assert again["before"] == [f"secret-{first['instance']}"]

    # Another function never sees it.
    other = await call(isolated_platform, "b")
    assert other["before"] == []

    # Nor does a second instance of the same function, started while the first is busy: each
    # writes, sleeps long enough for the other to have written too, then looks.
    x, y = await asyncio.gather(
        call(isolated_platform, "a", {"write": "x", "sleep": 0.5}),
        call(isolated_platform, "a", {"write": "y", "sleep": 0.5}),
    )
    assert x["instance"] != y["instance"]
    # One of them is the warm instance from before, with its secret still there.
    assert first["instance"] in (x["instance"], y["instance"])
    for got, mark in ((x, "x"), (y, "y")):
        own = [f"{mark}-{got['instance']}"]
        if got["instance"] == first["instance"]:
            own.append(f"secret-{first['instance']}")
        assert got["after"] == sorted(own)
    assert len(isolated_platform.engine.instances("a")) == 2


@pytest.mark.parametrize("storage_mb", [512, 1024])
async def test_tmp_size_follows_ephemeral_storage(
    isolated_platform: Platform, storage_mb: int
) -> None:
    settings: dict[str, Any] = {}
    if storage_mb != 512:
        settings["ephemeral_storage_mb"] = storage_mb
    await probe_deployer(isolated_platform)(
        "disk",
        """
        import os
        def handler(event, context):
            st = os.statvfs("/tmp")
            return st.f_blocks * st.f_frsize
        """,
        **settings,
    )
    assert await call(isolated_platform, "disk") == storage_mb * MB


async def test_network_has_only_loopback(isolated_platform: Platform) -> None:
    await probe_deployer(isolated_platform)(
        "net",
        """
        import errno, socket
        def attempt(kind, address):
            with socket.socket(socket.AF_INET, kind) as s:
                s.settimeout(2)
                try:
                    s.connect(address)
                    if kind == socket.SOCK_DGRAM:
                        s.send(b"x")
                    return "connected"
                except OSError as exc:
                    return errno.errorcode.get(exc.errno, type(exc).__name__)
        def handler(event, context):
            with socket.socket() as server:
                server.bind(("127.0.0.1", 0))
                server.listen()
                loopback = attempt(socket.SOCK_STREAM, server.getsockname())
            return {
                "interfaces": [name for _, name in socket.if_nameindex()],
                "tcp 1.1.1.1": attempt(socket.SOCK_STREAM, ("1.1.1.1", 53)),
                "udp 10.0.0.1": attempt(socket.SOCK_DGRAM, ("10.0.0.1", 53)),
                "tcp 10.0.0.1": attempt(socket.SOCK_STREAM, ("10.0.0.1", 80)),
                "loopback": loopback,
            }
        """,
    )
    got = await call(isolated_platform, "net")
    assert got == {
        "interfaces": ["lo"],
        "tcp 1.1.1.1": "ENETUNREACH",
        "udp 10.0.0.1": "ENETUNREACH",
        "tcp 10.0.0.1": "ENETUNREACH",
        "loopback": "connected",
    }


async def test_hostname_is_the_sandboxes(isolated_platform: Platform) -> None:
    await probe_deployer(isolated_platform)(
        "host",
        """
        import os, socket
        def handler(event, context):
            return [socket.gethostname(), os.uname().nodename]
        """,
    )
    got = await call(isolated_platform, "host")
    assert got == ["gureum-sandbox", "gureum-sandbox"]
    assert socket.gethostname() not in got


async def test_environment_holds_nothing_of_the_hosts(isolated_platform: Platform) -> None:
    await probe_deployer(isolated_platform)(
        "env",
        """
        import os
        AT_INIT = dict(os.environ)
        def handler(event, context):
            return {"init": AT_INIT, "now": dict(os.environ)}
        """,
        env={"MINE": "1"},
    )
    got = await call(isolated_platform, "env")
    env = got["now"]
    for name in ("HOME", "PWD", "USER", "SHELL", "PYTHONPATH", "VIRTUAL_ENV"):
        assert name not in env
    assert not [k for k in env if k.startswith("PYTEST")]
    assert env["MINE"] == "1"
    assert env["PATH"] != os.environ.get("PATH")
    # Whatever the host has, the function gets no value from it (a few fixed values may agree).
    shared = {k for k, v in os.environ.items() if v in (env.get(k), got["init"].get(k))}
    assert shared <= {"LANG", "TZ", "PYTHONDONTWRITEBYTECODE"}
    # Nor does the process's original environment block (inherited from its zygote) hold any.
    (instance,) = isolated_platform.engine.instances("env")
    block = _read_host_file(f"/proc/{instance.sandbox.pid}/environ").split(b"\0")
    inherited = {entry.decode() for entry in block if entry}
    assert not inherited & {f"{k}={v}" for k, v in os.environ.items()}


def _cgroup_file(directories: list[Path], name: str) -> Path:
    found = [d / name for d in directories if (d / name).exists()]
    assert len(found) == 1, (name, directories)
    return found[0]


async def test_cgroups_limit_memory_cpu_and_processes(isolated_platform: Platform) -> None:
    deploy = probe_deployer(isolated_platform)
    echo = "def handler(event, context):\n    return 1\n"
    memories = (128, 1769)
    for memory in memories:
        await deploy(f"m{memory}", echo, memory_mb=memory)
        await call(isolated_platform, f"m{memory}")
    held: dict[int, list[Path]] = {}
    for memory in memories:
        (instance,) = isolated_platform.engine.instances(f"m{memory}")
        assert instance.sandbox.cgroup is not None
        directories = held[memory] = instance.sandbox.cgroup.directories

        def read(name: str, directories: list[Path] = directories) -> str:
            return _cgroup_file(directories, name).read_text().strip()

        assert int(read("memory.limit_in_bytes")) == memory * MB
        # Lambda's CPU share: 1769 MB buys one full vCPU, less a proportional slice of it.
        period = int(read("cpu.cfs_period_us"))
        assert int(read("cpu.cfs_quota_us")) == max(1000, period * memory // 1769)
        assert read("pids.max") == "1024"
        for directory in directories:
            assert str(instance.sandbox.pid) in (directory / "cgroup.procs").read_text().split()

    # A stopped instance leaves no cgroup behind.
    await isolated_platform.functions.delete("m128")
    assert [d for d in held[128] if d.exists()] == []
    assert all(d.exists() for d in held[1769])


async def test_tampered_blob_is_refused(isolated_platform: Platform) -> None:
    config = await probe_deployer(isolated_platform)(
        "victim", "def handler(event, context):\n    return 'original'\n"
    )
    assert await call(isolated_platform, "victim") == "original"
    data_dir = isolated_platform.data_dir
    await isolated_platform.aclose()

    sha = config.code_sha256
    evil = make_zip({"app.py": "def handler(event, context):\n    return 'evil'\n"})
    (data_dir / "code" / "blobs" / f"{sha}.zip").write_bytes(evil)
    _remove_tree(data_dir / "code" / "unpacked" / sha)

    reopened = await open_platform(data_dir, PlatformSettings(isolation="full"))
    try:
        with pytest.raises(CodeVerificationFailedException):
            await reopened.invoke("victim", b"{}")
        assert reopened.engine.instances("victim") == []
        assert not (data_dir / "code" / "unpacked" / sha).exists()
        assert reopened.engine.admission.memory_used_mb == 0
    finally:
        await reopened.aclose()


async def test_tampered_unpacked_tree_is_refused(isolated_platform: Platform) -> None:
    config = await probe_deployer(isolated_platform)(
        "victim", "def handler(event, context):\n    return 'original'\n"
    )
    assert await call(isolated_platform, "victim") == "original"
    data_dir = isolated_platform.data_dir
    await isolated_platform.aclose()

    app = data_dir / "code" / "unpacked" / config.code_sha256 / "app.py"
    app.chmod(app.stat().st_mode | stat.S_IWUSR)
    app.write_text("def handler(event, context):\n    return 'evil'\n")

    reopened = await open_platform(data_dir, PlatformSettings(isolation="full"))
    try:
        with pytest.raises(CodeVerificationFailedException):
            await reopened.invoke("victim", b"{}")
        assert reopened.engine.instances("victim") == []
    finally:
        await reopened.aclose()


def _remove_tree(path: Path) -> None:
    for top, dirs, _ in os.walk(path):
        for d in dirs:
            os.chmod(os.path.join(top, d), 0o755)
    shutil.rmtree(path)


def _zip_with(info: zipfile.ZipInfo, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
        archive.writestr(info, content)
    return buffer.getvalue()


def _symlink(name: str, target: str) -> bytes:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, so external_attr carries a st_mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip_with(info, target.encode())


def _bomb(unzipped_mb: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
        with archive.open("zeros.bin", "w", force_zip64=True) as f:
            chunk = bytes(MB)
            for _ in range(unzipped_mb):
                f.write(chunk)
    return buffer.getvalue()


HOSTILE = {
    "absolute path": lambda: _zip_with(zipfile.ZipInfo("/abs.py"), b"x = 1\n"),
    "parent escape": lambda: _zip_with(zipfile.ZipInfo("../escape.py"), b"x = 1\n"),
    "nested escape": lambda: _zip_with(zipfile.ZipInfo("lib/../../escape.py"), b"x = 1\n"),
    "symlink out": lambda: _symlink("passwd", "/etc/passwd"),
    "relative symlink out": lambda: _symlink("lib/up", "../../etc/passwd"),
    "bomb under the size cap": lambda: _bomb(100),
    "bomb over the size cap": lambda: _bomb(300),
    "not a zip": lambda: b"this is not a zip file at all",
    "truncated zip": lambda: make_zip({"app.py": "x = 1\n" * 100})[:-30],
}


@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_hostile_zips_are_refused_at_create(isolated_platform: Platform, kind: str) -> None:
    code = await asyncio.to_thread(HOSTILE[kind])
    with pytest.raises(InvalidParameterValueException):
        await isolated_platform.functions.create(
            name="hostile", runtime=HOST_RUNTIME, handler="app.handler", code=code
        )
    assert await isolated_platform.functions.list() == []
    code_root = isolated_platform.data_dir / "code"
    assert list((code_root / "blobs").iterdir()) == []
    assert list((code_root / "unpacked").iterdir()) == []


async def test_a_function_cannot_signal_other_functions_or_reach_a_terminal(
    platform: Platform,
) -> None:
    """At every level: kill(0) reaches only the caller's own session; no /dev/tty."""
    deploy = deployer(platform)
    await deploy("victim", "def handler(event, context):\n    return 'alive'\n")
    assert (await platform.invoke("victim", b"{}")).function_error is None
    (victim,) = platform.engine.instances("victim")
    await deploy(
        "attacker",
        """
        import os, signal
        def handler(event, context):
            try:
                open("/dev/tty", "w")
                tty = "opened"
            except OSError as exc:
                tty = type(exc).__name__
            print(tty, flush=True)
            os.killpg(0, signal.SIGKILL)
        """,
    )
    attack = await platform.invoke("attacker", b"{}")
    assert json.loads(attack.payload)["errorType"] == "Runtime.ExitError"
    assert "opened" not in attack.logs
    again = await platform.invoke("victim", b"{}")
    assert again.function_error is None and again.cold_start is False
    assert platform.engine.instances("victim") == [victim]
