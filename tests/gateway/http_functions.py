"""Functions and helpers the user-facing listener's tests share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Server, code

# Answers with the event it got, as a JSON body: what the function sees of a request.
EVENT_ECHO = code(
    """
    import json
    def handler(event, context):
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": json.dumps(event),
        }
    """
)

# Answers with whatever the request's JSON body says: any proxy response (or none) on demand.
RESPONDER = code(
    """
    import base64, json
    def handler(event, context):
        body = event.get("body") or "null"
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body)
        return json.loads(body)
    """
)

SLEEPER = code(
    """
    import time
    def handler(event, context):
        time.sleep(30)
    """
)


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client for the server's user-facing listener."""
    with httpx.Client(base_url=server.http_url, timeout=60) as client:
        yield client


def json_of(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()
