"""The zygote's read-only root: built once per zygote, then every instance starts inside it.

Each instance then adds only its own mounts (code at /var/task, a private /tmp, /proc), which
costs a few hundred microseconds instead of building a root per instance.
"""

from __future__ import annotations

import os
from typing import Any

from . import linux

CODE_MOUNT = (
    "/.code"  # the host's unpacked-code cache; every instance unmounts it after binding its own
)
# No tty: a sandbox has no terminal to talk to.
DEVICES = ("null", "zero", "full", "random", "urandom")


def _ensure_dir(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _bind_host_path(root: str, host_path: str) -> None:
    """Bind a host path read-only at the same place in the template (symlinks stay links)."""
    target = root + host_path
    if os.path.islink(host_path):
        _ensure_dir(os.path.dirname(target))
        if not os.path.lexists(target):
            os.symlink(os.readlink(host_path), target)
        return
    if os.path.isdir(host_path):
        _ensure_dir(target)
    else:
        _ensure_dir(os.path.dirname(target))
        if not os.path.exists(target):
            with open(target, "w"):
                pass
    linux.bind_readonly(host_path, target, recursive=True)


def build(spec: dict[str, Any], seal: bool = True) -> str:
    """Mount the root ``spec`` describes at spec["root"], in the caller's private mount ns.

    With spec["code_dir"], the host's code cache is bound at /.code for instances to pick from.
    """
    root = spec["root"]
    _ensure_dir(root)
    linux.mount("tmpfs", root, "tmpfs", linux.MS_NOSUID, "size=16m,mode=0755")
    for host_path in spec["binds"]:
        if os.path.lexists(host_path):
            _bind_host_path(root, host_path)
    # Host paths shown elsewhere in the sandbox (the platform's boto3, its API socket's folder).
    for host_path, target in spec.get("mounts", ()):
        if os.path.isdir(host_path):
            _ensure_dir(root + target)
        elif os.path.exists(host_path):
            _ensure_dir(os.path.dirname(root + target))
            with open(root + target, "w"):
                pass
        else:
            continue
        linux.bind_readonly(host_path, root + target, recursive=True)
    for path, content in spec["files"].items():
        _ensure_dir(os.path.dirname(root + path))
        with open(root + path, "w") as f:
            f.write(content)
    for name in ("var/task", "tmp", "proc", "opt", "dev/shm", "old-root", CODE_MOUNT.lstrip("/")):
        _ensure_dir(os.path.join(root, name))
    os.chmod(root + "/tmp", 0o1777)
    os.chmod(root + CODE_MOUNT, 0o700)
    for device in DEVICES:
        target = f"{root}/dev/{device}"
        with open(target, "w"):
            pass
        linux.mount(f"/dev/{device}", target, None, linux.MS_BIND)
    for link, points_to in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(points_to, f"{root}/dev/{link}")
    os.symlink("/proc/self/fd/1", f"{root}/dev/stdout")
    os.symlink("/proc/self/fd/2", f"{root}/dev/stderr")
    if spec.get("code_dir"):
        linux.bind_readonly(spec["code_dir"], root + CODE_MOUNT)
    if seal:
        seal_root(root)
    return str(root)


def seal_root(root: str) -> None:
    # Nothing an instance does can write to its root.
    linux.mount(None, root, None, linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID)


def make_private() -> None:
    # Nothing mounted from here on may propagate back to the host.
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)


def pivot_into(root: str) -> None:
    """Make ``root`` the process's root and detach the old one entirely."""
    os.chdir(root)
    linux.pivot_root(".", "old-root")
    os.chroot(".")
    os.chdir("/")
    linux.umount("/old-root")


def enter(spec: dict[str, Any]) -> None:
    """Give the zygote a private mount namespace and make the template its root."""
    linux.unshare(linux.CLONE_NEWNS)
    make_private()
    pivot_into(build(spec))
