"""Links a signed request's response hands out, checked by the real middleware on a manual clock.

In-process: ``RequireSignature`` around a small app that, like GetFunction, hands out a link to
``/_gureum/code/...`` and serves it. The same links through a real server: test_auth.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from gureum.clock import ManualClock
from gureum.gateway.auth import SIGNATURE_MISMATCH, RequireSignature
from gureum.gateway.signed_urls import UrlSigner, current_signer, presign

KEY_ID, SECRET = "GKIATESTTESTTESTTEST", "s" * 40
CODE = b"PK\x05\x06" + b"\x00" * 18  # an empty zip
BASE = "http://testserver"


async def handing_out_links(scope: Scope, receive: Receive, send: Send) -> None:
    """GET /link answers a link to the code, valid 600 s; GET /_gureum/code/... is the code."""
    link = scope["path"] == "/link"
    body = presign(f"{BASE}/_gureum/code/abc", 600).encode() if link else CODE
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def client(clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    secrets = {KEY_ID: SECRET}
    app = RequireSignature(handing_out_links, secrets.get, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE) as running:
        yield running


async def link_from(client: httpx.AsyncClient, clock: ManualClock) -> str:
    # The request asking for the link is itself presigned: any SigV4 request would do.
    ask = UrlSigner(KEY_ID, SECRET, "us-east-1", "lambda", clock).sign(f"{BASE}/link", 60)
    response = await client.get(ask)
    assert response.status_code == 200, response.text
    return response.text


async def test_a_link_is_signed_with_the_callers_key_for_600_seconds(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    link = await link_from(client, clock)
    query = parse_qs(urlsplit(link).query)
    assert query["X-Amz-Expires"] == ["600"]
    assert query["X-Amz-Credential"][0].startswith(f"{KEY_ID}/")
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert (await client.get(link)).content == CODE


async def test_a_link_works_for_600_seconds_and_not_one_more(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    link = await link_from(client, clock)
    clock.advance(600)
    assert (await client.get(link)).content == CODE
    clock.advance(1)
    refused = await client.get(link)
    assert refused.status_code == 403
    assert refused.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert refused.json()["message"].startswith("Signature expired: ")


@pytest.mark.parametrize(
    ("old", "new"),
    [("/_gureum/code/abc", "/_gureum/code/abd"), ("X-Amz-Expires=600", "X-Amz-Expires=6000")],
)
async def test_a_tampered_link_is_refused(
    client: httpx.AsyncClient, clock: ManualClock, old: str, new: str
) -> None:
    link = await link_from(client, clock)
    assert old in link
    refused = await client.get(link.replace(old, new))
    assert refused.status_code == 403
    assert refused.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert refused.json()["message"] == SIGNATURE_MISMATCH


def test_outside_a_signed_request_a_link_stays_plain() -> None:
    assert current_signer.get() is None
    assert presign(f"{BASE}/_gureum/code/abc", 600) == f"{BASE}/_gureum/code/abc"


def test_the_signer_does_not_show_its_secret(clock: ManualClock) -> None:
    assert SECRET not in repr(UrlSigner(KEY_ID, SECRET, "us-east-1", "lambda", clock))
