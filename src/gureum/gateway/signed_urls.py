"""Presigned URLs for the links a response hands out, such as GetFunction's ``Code.Location``.

On AWS that link is a presigned S3 URL: whoever holds it may GET it with no credentials of their
own until it expires. gureum's are the same: SigV4 query-string signatures, which
``auth.RequireSignature`` checks like those of any other presigned request.

The middleware, once it has verified a request, sets ``current_signer`` for the rest of that
request to a signer holding the caller's own key. So gureum keeps no signing secret of its own, a
link grants only what its requester's key could do anyway, and deleting the key revokes its
links. A context variable, not the ASGI scope, because operations see only their parameters
(as they see ``endpoint_url``), and each request runs in its own task, so concurrent requests
never see each other's signer. Without auth there is no signer: links stay plain URLs.
"""

from __future__ import annotations

import datetime
from contextvars import ContextVar
from dataclasses import dataclass, field

from botocore.auth import SIGV4_TIMESTAMP, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ..clock import Clock


@dataclass(frozen=True, slots=True)
class UrlSigner:
    """Signs GET URLs with one access key, at the time ``clock`` tells."""

    key_id: str
    secret: str = field(repr=False)
    region: str
    service: str
    clock: Clock

    def sign(self, url: str, expires_s: int) -> str:
        """``url`` with SigV4 query parameters that let a plain GET through for ``expires_s``."""
        now = datetime.datetime.fromtimestamp(self.clock.time(), datetime.UTC)
        request = AWSRequest(method="GET", url=url)
        request.context["timestamp"] = now.strftime(SIGV4_TIMESTAMP)
        signer = _QueryAuthAt(
            Credentials(self.key_id, self.secret), self.service, self.region, expires=expires_s
        )
        signer.add_auth(request)
        signed: str = request.url
        return signed


class _QueryAuthAt(SigV4QueryAuth):  # type: ignore[misc]  # botocore is untyped
    """botocore's presigner, at the time already in the request (its own reads the real clock)."""

    def add_auth(self, request: AWSRequest) -> None:
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        signature = self.signature(self.string_to_sign(request, canonical), request)
        self._inject_signature_to_request(request, signature)


current_signer: ContextVar[UrlSigner | None] = ContextVar("current_signer", default=None)


def presign(url: str, expires_s: int) -> str:
    """``url`` signed for ``expires_s`` seconds with the current request's key; as it is if the
    request was not signed (auth off)."""
    signer = current_signer.get()
    return url if signer is None else signer.sign(url, expires_s)
