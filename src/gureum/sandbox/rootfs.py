"""What goes into a sandbox's read-only root: only what a Python runtime needs to run.

System libraries and the interpreter are bound read-only from the host; /etc is a handful of
host files (dynamic linker cache, CA certificates, time zone) plus generated account and host
files, so nothing else of the host's configuration is visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .runtimes import Interpreter

SANDBOX_UID = 993  # Lambda's sbx_user1051
SANDBOX_GID = 990
HOSTNAME = "gureum-sandbox"

SYSTEM_BINDS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/nsswitch.conf",
)

GENERATED_FILES = {
    "/etc/passwd": (
        "root:x:0:0:root:/root:/sbin/nologin\n"
        f"sbx_user1051:x:{SANDBOX_UID}:{SANDBOX_GID}::/tmp:/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    ),
    "/etc/group": f"root:x:0:\nsbx_user1051:x:{SANDBOX_GID}:\nnogroup:x:65534:\n",
    "/etc/hosts": f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost\n",
    "/etc/hostname": f"{HOSTNAME}\n",
    "/etc/resolv.conf": "",
}


def template_spec(
    interpreter: Interpreter,
    root: Path,
    code_dir: Path | None,
    mounts: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The description the zygote builds its template root from (see runtime/template.py);
    ``mounts``: (host path, path in the sandbox) pairs, bound read-only."""
    binds = list(SYSTEM_BINDS)
    # An interpreter outside /usr (pyenv, a venv's base) is bound at its own path.
    for path in (interpreter.prefix, *interpreter.stdlib_paths):
        if not path.startswith("/usr/") and not any(path.startswith(b + "/") for b in binds):
            binds.append(path)
    return {
        "root": str(root),
        "binds": binds,
        "files": dict(GENERATED_FILES),
        "code_dir": str(code_dir) if code_dir else None,
        "mounts": [list(pair) for pair in mounts],
    }
