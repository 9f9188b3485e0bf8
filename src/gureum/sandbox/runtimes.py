"""Which Python runtimes this host can offer, and where their interpreters live.

``python3.X`` is offered when an interpreter of that version is found: the host's own
interpreter always, others from PATH, /usr/bin, /usr/local/bin and pyenv's versions folder, or
from ``GUREUM_RUNTIME_PYTHON3_X=/path/to/python``.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache

_PROBE = (
    "import json, sys, sysconfig; print(json.dumps({'executable': sys.executable, "
    "'version': '%d.%d' % sys.version_info[:2], 'prefix': sys.base_prefix, "
    "'paths': sorted({sysconfig.get_path('stdlib'), sysconfig.get_path('platstdlib')})}))"
)


@dataclass(frozen=True, slots=True)
class Interpreter:
    runtime: str  # "python3.11"
    executable: str
    prefix: str
    stdlib_paths: tuple[str, ...]


def _probe(executable: str) -> Interpreter | None:
    try:
        out = subprocess.run(
            [executable, "-I", "-S", "-c", _PROBE], capture_output=True, timeout=10, check=True
        ).stdout
        info = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return Interpreter(
        runtime=f"python{info['version']}",
        executable=os.path.realpath(info["executable"]),
        prefix=info["prefix"],
        stdlib_paths=tuple(info["paths"]),
    )


def _candidates(version: str) -> list[str]:
    found = [os.environ.get(f"GUREUM_RUNTIME_PYTHON{version.replace('.', '_')}", "")]
    found.append(shutil.which(f"python{version}") or "")
    found += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found += sorted(
        glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"), reverse=True
    )
    return [path for path in found if path and os.path.isfile(path)]


def usable_by_anyone(path: str) -> bool:
    """True if any user may run ``path``: it and every folder above it are world-executable."""
    current = os.path.realpath(path)
    while True:
        try:
            if not os.stat(current).st_mode & 0o001:
                return False
        except OSError:
            return False
        parent = os.path.dirname(current)
        if parent == current:
            return True
        current = parent


def host_runtime() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


@cache
def find_interpreter(runtime: str, for_anyone: bool = False) -> Interpreter | None:
    """The interpreter for ``runtime`` ("python3.12"), or None if this host has none.

    ``for_anyone``: only one that an unprivileged user can run (for a zygote that drops root).
    """
    if not runtime.startswith("python3."):
        return None
    version = runtime.removeprefix("python")
    candidates = _candidates(version)
    if runtime == host_runtime():
        candidates.insert(0, sys.executable)
    for path in candidates:
        if for_anyone and not usable_by_anyone(path):
            continue
        found = _probe(path)
        if found is not None and found.runtime == runtime:
            return found
    return None


KNOWN_PYTHONS = ("python3.11", "python3.12", "python3.13", "python3.14")


@cache
def available_runtimes() -> tuple[str, ...]:
    """Every runtime name this host can run; probing interpreters is done once per process."""
    return tuple(name for name in KNOWN_PYTHONS if find_interpreter(name) is not None)
