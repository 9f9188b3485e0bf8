"""gureum (구름, "cloud"): a self-hosted serverless platform.

General layout, top to bottom (a layer imports only from layers below it):

    cli/        the ``gureum`` command
    platform    the Python API: open_platform() -> Platform(.functions, .invoke, .logs, .stats)
    engine/     resolve a function -> pick or start an instance -> invoke -> meter
    sandbox/    host side of isolation: isolation level, zygotes, cgroups, the template root
    store/      registry (SQLite), code blobs, logs and metering records
    runtime/    runs INSIDE a sandbox: zygote, isolation steps, the Python bootstrap
                (standard library only; imports nothing else from gureum)

Shared by all: types (FunctionConfig, InvocationResult), errors (Lambda's error types), clock.
"""

from .errors import GureumError
from .platform import Platform, PlatformSettings, open_platform
from .types import FunctionConfig, InvocationResult, InvokeOptions

__all__ = [
    "FunctionConfig",
    "GureumError",
    "InvocationResult",
    "InvokeOptions",
    "Platform",
    "PlatformSettings",
    "open_platform",
]
