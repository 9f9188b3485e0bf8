"""The ``context`` handed to a handler, with the attributes Lambda's Python runtime gives it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity: dict[str, Any] | None) -> None:
        identity = identity or {}
        self.cognito_identity_id = identity.get("cognitoIdentityId")
        self.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")


class Client:
    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )

    def __init__(self, client: dict[str, Any]) -> None:
        self.installation_id = client.get("installation_id")
        self.app_title = client.get("app_title")
        self.app_version_name = client.get("app_version_name")
        self.app_version_code = client.get("app_version_code")
        self.app_package_name = client.get("app_package_name")


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, context: dict[str, Any]) -> None:
        client = context.get("client")
        self.client = Client(client) if client else None
        self.custom = context.get("custom")
        self.env = context.get("env")


def decode_client_context(encoded: str | None) -> ClientContext | None:
    # Lambda takes the client context as base64 JSON (X-Amz-Client-Context).
    if not encoded:
        return None
    return ClientContext(json.loads(base64.b64decode(encoded)))


class FunctionInfo:
    """What the context says about the function itself: fixed for an instance's life, so read
    from the environment once, at init, not on every invocation."""

    __slots__ = (
        "function_name",
        "function_version",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
    )

    def __init__(self, env: Mapping[str, str]) -> None:
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        # Lambda's runtime hands this over as the string from the environment; code relies on that.
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")


class LambdaContext:
    def __init__(
        self,
        request_id: str,
        deadline_ms: int,
        invoked_arn: str,
        meta: dict[str, Any],
        function: FunctionInfo,
    ) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self._deadline_ms = deadline_ms
        self.function_name = function.function_name
        self.function_version = function.function_version
        self.memory_limit_in_mb = function.memory_limit_in_mb
        self.log_group_name = function.log_group_name
        self.log_stream_name = function.log_stream_name
        self.identity = CognitoIdentity(meta.get("identity"))
        self.client_context = decode_client_context(meta.get("client_context"))
        self.tenant_id = meta.get("tenant_id")

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )
