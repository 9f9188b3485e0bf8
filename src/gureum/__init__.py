"""gureum (구름, "cloud"): a self-hosted serverless platform.

General layout, top to bottom (a layer imports only from layers below it):

    cli/        the ``gureum`` command; cli/manifest reads gureum.yaml and SAM templates
    gateway/    the HTTP front doors: the Lambda and Scheduler APIs, /_gureum/..., and the
                user-facing listener (function URLs, HTTP routes, API Gateway events)
    platform    the Python API: open_platform() -> Platform(.functions, .invoke, .logs, .stats)
    functions   platform.functions: create/update/delete, validated; versioning, layers,
                provisioning, sessions: the platform's other parts
    services/   built-in backing services: objects (S3) and queues (SQS)
    events/     durable async invocations (queue, delivery, destinations) and schedules
    http_endpoints  function URLs and routes: what the user-facing listener serves
    engine/     resolve a function -> pick or start an instance -> invoke -> meter
    sandbox/    host side of isolation: isolation level, zygotes, cgroups, the template root
    store/      registry (SQLite), code blobs, logs and metering records
    runtime/    runs INSIDE a sandbox: zygote, isolation steps, the Python bootstrap
                (standard library only; imports nothing else from gureum)

Shared by all: types (FunctionConfig, InvocationResult), errors (Lambda's error types), clock.
"""

from typing import TYPE_CHECKING, Any

from .errors import GureumError
from .types import FunctionConfig, InvocationResult, InvokeOptions

if TYPE_CHECKING:
    from .platform import Platform, PlatformSettings, open_platform

_LAZY = {"Platform", "PlatformSettings", "open_platform"}


def __getattr__(name: str) -> Any:
    # The platform (and the sandbox, store and engine behind it) loads on first use, so that
    # client-side commands that never run functions start fast.
    if name in _LAZY:
        from . import platform

        return getattr(platform, name)
    raise AttributeError(f"module 'gureum' has no attribute {name!r}")


__all__ = [
    "FunctionConfig",
    "GureumError",
    "InvocationResult",
    "InvokeOptions",
    "Platform",
    "PlatformSettings",
    "open_platform",
]
