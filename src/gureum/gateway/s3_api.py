"""The S3 API (path-style addressing) over ``platform.objects``."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from .lambda_api import LambdaContext

NOT_IMPLEMENTED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NotImplemented</Code>'
    b"<Message>The S3 API is not served yet</Message></Error>"
)


def s3_app(context: Callable[[], LambdaContext]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/xml")]
        await send({"type": "http.response.start", "status": 501, "headers": headers})
        await send({"type": "http.response.body", "body": NOT_IMPLEMENTED})

    return app
