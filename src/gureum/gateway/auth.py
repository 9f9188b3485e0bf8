"""AWS Signature V4 on every request: an ASGI wrapper around the app it protects.

The signature is recomputed by botocore's own signer (``SigV4Auth``) on a request rebuilt from the
ASGI one (method, path and query exactly as sent, the headers the client signed, the body), so
gureum agrees with every AWS SDK on canonicalisation without a second implementation of it.
Both forms are accepted: the ``Authorization`` header, and presigned URLs (``X-Amz-Signature`` in
the query string). A verified request's own key signs the links its response hands out
(``signed_urls``).

Failures answer 403 as AWS does (``x-amzn-ErrorType`` and a JSON ``message``), so botocore raises
a ``ClientError`` with the same code as against AWS. Everything that needs no body (the header's
shape, the key, the clock) is checked before the body is read, so an unsigned client cannot make
the server buffer a large body.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..clock import Clock, SystemClock
from ..errors import GureumError
from .app import MAX_BODY_BYTES, is_s3_request
from .bodies import ClientDisconnected, read_body
from .signed_urls import UrlSigner, current_signer

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
# How far a request's time may be from the server's, either way (AWS's figure).
MAX_SKEW_S = 15 * 60
# The longest a presigned URL may live (AWS's figure: 7 days).
MAX_EXPIRES_S = 7 * 24 * 3600

SecretLookup = Callable[[str], str | None]


class AuthError(GureumError):
    status = 403


class MissingAuthenticationTokenException(AuthError):
    error_type = "MissingAuthenticationTokenException"


class IncompleteSignatureException(AuthError):
    error_type = "IncompleteSignatureException"


class UnrecognizedClientException(AuthError):
    error_type = "UnrecognizedClientException"


class InvalidSignatureException(AuthError):
    error_type = "InvalidSignatureException"


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@dataclass(frozen=True, slots=True)
class Claim:
    """What a request says about its signature, before anything is checked against a secret."""

    key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # as signed: 20240101T000000Z
    expires_s: int | None  # presigned URLs only
    query_string: str  # without X-Amz-Signature: what was signed


def _require(found: Mapping[str, str], names: Iterable[str], where: str) -> None:
    missing = [name for name in names if not found.get(name)]
    if missing:
        raise IncompleteSignatureException(
            " ".join(f"{where} requires '{name}' parameter." for name in missing)
        )


def _parse_credential(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise IncompleteSignatureException(
            f"Credential should be ID/date/region/service/aws4_request, not {credential!r}."
        )
    return parts[0], parts[1], parts[2], parts[3]


def _parse_timestamp(text: str) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=datetime.UTC)
    except ValueError:
        raise IncompleteSignatureException(
            f"Date must be in ISO-8601 'basic format' (YYYYMMDD'T'HHMMSS'Z'), not {text!r}."
        ) from None


def read_claim(headers: Mapping[str, str], query_string: str) -> Claim:
    """The signature a request carries, from its ``Authorization`` header or its query string.

    ``headers`` has lower-case names. Raises MissingAuthenticationTokenException without either,
    IncompleteSignatureException if the one present is malformed."""
    authorization = headers.get("authorization")
    pairs = [pair.partition("=") for pair in query_string.split("&") if pair]
    query = {unquote(k): unquote(v) for k, _, v in pairs}
    if authorization is None and "X-Amz-Signature" not in query:
        raise MissingAuthenticationTokenException("Missing Authentication Token")

    if authorization is not None:
        algorithm, _, rest = authorization.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise IncompleteSignatureException(
                f"Authorization header requires the {ALGORITHM} algorithm, not {algorithm!r}."
            )
        fields = {}
        for part in rest.split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
        _require(fields, ("Credential", "SignedHeaders", "Signature"), "Authorization header")
        timestamp = headers.get("x-amz-date")
        if timestamp is None and "date" in headers:
            # The spec allows the Date header instead; it is signed in SigV4's own format.
            try:
                parsed = datetime.datetime.strptime(headers["date"], "%a, %d %b %Y %H:%M:%S GMT")
            except ValueError:
                raise IncompleteSignatureException("Date header is not an HTTP date.") from None
            timestamp = parsed.strftime(TIMESTAMP_FORMAT)
        if timestamp is None:
            raise IncompleteSignatureException(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header."
            )
        credential, signed, signature = (
            fields["Credential"],
            fields["SignedHeaders"],
            fields["Signature"],
        )
        expires_s = None
        signed_query = query_string
    else:
        _require(
            query,
            (
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Date",
                "X-Amz-Expires",
                "X-Amz-SignedHeaders",
            ),
            "AWS query-string parameters",
        )
        if query["X-Amz-Algorithm"] != ALGORITHM:
            raise IncompleteSignatureException(f"X-Amz-Algorithm must be {ALGORITHM}.")
        try:
            expires_s = int(query["X-Amz-Expires"])
        except ValueError:
            expires_s = -1
        if not 0 < expires_s <= MAX_EXPIRES_S:
            raise IncompleteSignatureException(
                f"X-Amz-Expires must be between 1 and {MAX_EXPIRES_S} seconds."
            )
        credential = query["X-Amz-Credential"]
        signed = query["X-Amz-SignedHeaders"]
        signature = query["X-Amz-Signature"]
        timestamp = query["X-Amz-Date"]
        # The canonical query string is every parameter but the signature, as sent.
        signed_query = "&".join(
            f"{k}{sep}{v}" for k, sep, v in pairs if unquote(k) != "X-Amz-Signature"
        )

    _parse_timestamp(timestamp)
    key_id, scope_date, region, service = _parse_credential(credential)
    signed_headers = tuple(signed.split(";"))
    if "host" not in signed_headers:
        raise IncompleteSignatureException("'Host' must be a 'SignedHeader' in the request.")
    return Claim(
        key_id=key_id,
        scope_date=scope_date,
        region=region,
        service=service,
        signed_headers=signed_headers,
        signature=signature,
        timestamp=timestamp,
        expires_s=expires_s,
        query_string=signed_query,
    )


def check_time(claim: Claim, now: float) -> None:
    """InvalidSignatureException if the request is too old (or too far in the future)."""
    signed_at = _parse_timestamp(claim.timestamp)
    current = datetime.datetime.fromtimestamp(now, datetime.UTC)
    lifetime = datetime.timedelta(seconds=claim.expires_s or MAX_SKEW_S)
    skew = datetime.timedelta(seconds=MAX_SKEW_S)

    def fmt(moment: datetime.datetime) -> str:
        return moment.strftime(TIMESTAMP_FORMAT)

    if signed_at < current - lifetime:
        allowed = "X-Amz-Expires" if claim.expires_s else "15 min."
        raise InvalidSignatureException(
            f"Signature expired: {claim.timestamp} is now earlier than "
            f"{fmt(current - lifetime)} ({fmt(current)} - {allowed})"
        )
    if signed_at > current + skew:
        raise InvalidSignatureException(
            f"Signature not yet current: {claim.timestamp} is still later than "
            f"{fmt(current + skew)} ({fmt(current)} + 15 min.)"
        )


class _Recomputation(SigV4Auth):  # type: ignore[misc]  # botocore is untyped
    """botocore's signer, told which headers the client signed instead of choosing them (and,
    for S3, the payload hash the client claimed instead of hashing a body)."""

    def __init__(
        self, claim: Claim, secret: str, signed: HTTPHeaders, payload_hash: str | None = None
    ) -> None:
        super().__init__(Credentials(claim.key_id, secret), claim.service, claim.region)
        self._signed = signed
        self._payload_hash = payload_hash

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed

    def payload(self, request: AWSRequest) -> str:
        if self._payload_hash is not None:
            return self._payload_hash
        result: str = super().payload(request)
        return result


def expected_signature(
    claim: Claim,
    secret: str,
    method: str,
    raw_path: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    payload_hash: str | None = None,
) -> str:
    """The signature botocore computes for this request with ``secret`` (over ``payload_hash``
    in place of the body's hash when given)."""
    signed = HTTPHeaders()
    wanted = set(claim.signed_headers)
    for name, value in headers:
        if name in wanted:
            signed[name] = value  # repeated headers stay repeated, in order
    query = f"?{claim.query_string}" if claim.query_string else ""
    request = AWSRequest(method=method, url=f"http://{signed.get('host', '')}{raw_path}{query}")
    request.headers = signed  # so a signed x-amz-content-sha256 is used as the payload hash
    request.data = body
    request.context["timestamp"] = claim.timestamp
    signer = _Recomputation(claim, secret, signed, payload_hash)
    canonical = signer.canonical_request(request)
    result: str = signer.signature(signer.string_to_sign(request, canonical), request)
    return result


def verify(
    claim: Claim,
    secret: str,
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    """InvalidSignatureException unless the request was signed with ``secret``, body included."""
    content_sha256 = next((v for k, v in headers if k == "x-amz-content-sha256"), None)
    if content_sha256 is not None and content_sha256 != hashlib.sha256(body).hexdigest():
        # botocore signs this header's value in place of the body: it must be the body's hash.
        raise InvalidSignatureException(
            "The provided 'x-amz-content-sha256' header does not match what was computed "
            "(gureum accepts only signed payloads)."
        )
    expected = expected_signature(claim, secret, method, raw_path, headers, body)
    if not hmac.compare_digest(expected.encode(), claim.signature.encode("latin-1")):
        raise InvalidSignatureException(SIGNATURE_MISMATCH)


# What S3 clients may sign in place of the payload's hash (the body is then checked, or framed
# and signed chunk by chunk, by the S3 API itself).
S3_PAYLOAD_MARKERS = frozenset(
    {
        "UNSIGNED-PAYLOAD",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    }
)


def s3_payload_hash(claim: Claim, headers: list[tuple[str, str]]) -> str:
    """The payload hash an S3 request was signed over: its ``x-amz-content-sha256`` (a hex
    SHA-256, which the S3 API checks against the body as it streams, or one of S3's markers);
    a presigned URL's is UNSIGNED-PAYLOAD."""
    value = next((v for k, v in headers if k == "x-amz-content-sha256"), None)
    if value is None:
        if claim.expires_s is not None:
            return "UNSIGNED-PAYLOAD"
        raise IncompleteSignatureException(
            "Missing required header for this request: x-amz-content-sha256"
        )
    if value in S3_PAYLOAD_MARKERS or (
        len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    ):
        return value
    raise IncompleteSignatureException(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a "
        "hex SHA-256."
    )


class RequireSignature:
    """Answers 403 to any HTTP request not signed (SigV4) with a key ``secret_for`` knows.

    ``open_paths`` are (method, path) pairs served without a signature. The body is read once,
    checked, and handed to ``app`` unchanged; a body over ``max_body_bytes`` gets 413. An S3
    request's body is not read here: its signature covers ``x-amz-content-sha256``, and the
    body streams on to the S3 API, which checks it against that hash."""

    def __init__(
        self,
        app: ASGIApp,
        secret_for: SecretLookup,
        *,
        clock: Clock | None = None,
        open_paths: frozenset[tuple[str, str]] = frozenset({("GET", "/health")}),
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.secret_for = secret_for
        self.clock = clock or SystemClock()
        self.open_paths = open_paths
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # Nothing is served over websockets; a browser cannot sign the handshake anyway.
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http" or (scope["method"], scope["path"]) in self.open_paths:
            await self.app(scope, receive, send)
            return

        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        try:
            claim = read_claim(dict(headers), scope["query_string"].decode("latin-1"))
            secret = self.secret_for(claim.key_id)
            if secret is None:
                raise UnrecognizedClientException(
                    "The security token included in the request is invalid."
                )
            check_time(claim, self.clock.time())
            if claim.service == "s3":
                payload_hash = s3_payload_hash(claim, headers)
                expected = expected_signature(
                    claim, secret, scope["method"], raw_path, headers, b"", payload_hash
                )
                if not hmac.compare_digest(expected.encode(), claim.signature.encode("latin-1")):
                    raise InvalidSignatureException(SIGNATURE_MISMATCH)
                body = None
            else:
                body = await read_body(receive, self.max_body_bytes)
                verify(claim, secret, scope["method"], raw_path, headers, body)
        except ClientDisconnected:
            return  # nobody to answer
        except GureumError as error:
            await _reply(send, error, s3=is_s3_request(scope))
            return
        signer = UrlSigner(claim.key_id, secret, claim.region, claim.service, self.clock)
        token = current_signer.set(signer)
        try:
            await self.app(scope, receive if body is None else _replay(body, receive), send)
        finally:
            current_signer.reset(token)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands out ``body`` once, then whatever the client sends (a disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


# S3 names the same refusals otherwise, and answers them in XML (boto3's s3 client reads only that).
S3_CODES = {
    "MissingAuthenticationTokenException": "AccessDenied",
    "IncompleteSignatureException": "AuthorizationHeaderMalformed",
    "UnrecognizedClientException": "InvalidAccessKeyId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
}


async def _reply(send: Send, error: GureumError, s3: bool = False) -> None:
    if s3:
        code = S3_CODES.get(error.error_type, error.error_type)
        if error.message.startswith("Signature expired") or "not yet current" in error.message:
            code = "RequestTimeTooSkewed"
        element = ET.Element("Error")
        ET.SubElement(element, "Code").text = code
        ET.SubElement(element, "Message").text = error.message
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element)
        content_type = b"application/xml"
    else:
        body = json.dumps(error.to_dict()).encode()
        content_type = b"application/json"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if not s3:
        headers.append((b"x-amzn-errortype", error.error_type.encode()))
    if s3:  # the body was not read (and, after `Expect: 100-continue`, never sent): close
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
