"""What a sandbox gets for calling gureum's own services (S3, SQS, Lambda) as functions call
AWS's inside Lambda: the platform's boto3 on ``sys.path``, and ``AWS_ENDPOINT_URL`` with
credentials. At ``full`` and ``rootless`` isolation the endpoint is a relay on the sandbox's own
loopback (runtime/relay.py) to a Unix socket the host serves the API on, bound into the sandbox
read-only: the sandbox still has no network, only that one way to gureum. At ``process`` the
endpoint is the server's own address.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ..types import IsolationLevel

PACKAGES_IN_SANDBOX = "/var/runtime/packages"
RELAY_DIR_IN_SANDBOX = "/var/runtime/relay"
SOCKET_NAME = "api.sock"
# Inside the sandbox: where the relay listens (its own loopback; the host's port is not reached).
RELAY_ADDRESS = "127.0.0.1:9000"
# boto3 and what it imports, as Lambda's Python runtimes provide them.
PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
# The names the sandbox runtime reads (runtime/bootstrap.py, runtime/relay.py).
PACKAGES_ENV = "_GUREUM_PACKAGES"
SOCKET_ENV = "_GUREUM_RELAY_SOCKET"
ADDRESS_ENV = "_GUREUM_RELAY_ADDRESS"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A serving gureum's API: its address, and the folder of the Unix socket it also serves
    on (for sandboxes)."""

    url: str
    relay_dir: Path


@functools.cache  # asked for the template's mounts and for sys.path: looked up once
def platform_packages() -> dict[str, str]:
    """Each of PACKAGES found in this interpreter: name -> its host path (a folder or a .py)."""
    found = {}
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        if spec.submodule_search_locations:
            found[name] = os.path.dirname(spec.origin)
        else:
            found[name] = spec.origin
    return found


def sandbox_mounts(relay_dir: Path | None) -> list[tuple[str, str]]:
    """(host path, path in the sandbox) for the template root: the packages, the relay's
    socket folder."""
    mounts = [
        (path, f"{PACKAGES_IN_SANDBOX}/{os.path.basename(path)}")
        for path in platform_packages().values()
    ]
    if relay_dir is not None:
        mounts.append((str(relay_dir), RELAY_DIR_IN_SANDBOX))
    return mounts


def packages_path(level: IsolationLevel) -> str:
    """What the runtime appends to ``sys.path`` for the platform's boto3."""
    if level == "process":  # no mounts: the host's own folders
        return ":".join(sorted({os.path.dirname(p) for p in platform_packages().values()}))
    return PACKAGES_IN_SANDBOX


def endpoint_environment(level: IsolationLevel, endpoint: Endpoint) -> dict[str, str]:
    """``AWS_ENDPOINT_URL`` and what the relay needs, for an instance at ``level``."""
    if level == "process":
        return {"AWS_ENDPOINT_URL": endpoint.url}
    return {
        "AWS_ENDPOINT_URL": f"http://{RELAY_ADDRESS}",
        SOCKET_ENV: f"{RELAY_DIR_IN_SANDBOX}/{SOCKET_NAME}",
        ADDRESS_ENV: RELAY_ADDRESS,
    }
