"""The SQS API (JSON protocol: ``X-Amz-Target: AmazonSQS.<Operation>``) over
``platform.queues``."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from .lambda_api import LambdaContext


def sqs_app(context: Callable[[], LambdaContext]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = json.dumps(
            {"__type": "com.amazonaws.sqs#UnsupportedOperation", "message": "not served yet"}
        ).encode()
        headers = [(b"content-type", b"application/x-amz-json-1.0")]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app
