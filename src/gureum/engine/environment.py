"""The environment an instance starts with: Lambda's reserved variables, then the function's own."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping

from ..types import FunctionConfig
from . import snapshots


def log_stream_name(version: str, now: float) -> str:
    day = time.strftime("%Y/%m/%d", time.gmtime(now))
    return f"{day}/[{version}]{secrets.token_hex(16)}"


def instance_environment(
    config: FunctionConfig,
    *,
    task_root: str,
    region: str,
    interpreter_bin: str,
    now: float,
    services: Mapping[str, str] | None = None,
) -> dict[str, str]:
    # What the platform gives for reaching its services (AWS_ENDPOINT_URL, credentials) first:
    # a function may point AWS_ENDPOINT_URL elsewhere; the credentials are reserved names.
    env = {**(services or {}), **config.env}
    # Reserved names win over the user's (validation refuses them anyway, except the few Lambda
    # lets users set, like TZ).
    env.update(
        {
            "_HANDLER": config.handler,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_VERSION": config.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            # Lambda's value for the init of a version that has a snapshot.
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"
            if snapshots.applies(config)
            else "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name(config.version, now),
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "LANG": "en_US.UTF-8",
            "PATH": f"{interpreter_bin}:/usr/local/bin:/usr/bin:/bin:/opt/bin",
            "LD_LIBRARY_PATH": f"/lib64:/usr/lib64:{task_root}:{task_root}/lib:/opt/lib",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.setdefault("TZ", ":UTC")
    return env
