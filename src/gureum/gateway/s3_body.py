"""S3 request bodies as they arrive: plain, or in AWS's ``aws-chunked`` framing.

Over plain http, botocore 1.43 signs the payload (``x-amz-content-sha256`` is the body's hex
SHA-256) and sends a flexible checksum as a header (``x-amz-checksum-crc32``). Over https it
sends ``Content-Encoding: aws-chunked`` with ``x-amz-content-sha256:
STREAMING-UNSIGNED-PAYLOAD-TRAILER``: the body is ``<hex size>\\r\\n<bytes>\\r\\n`` chunks, a
``0\\r\\n`` chunk, then trailer lines (``x-amz-checksum-crc32:<base64>``) and an empty line.
Other SDKs sign each chunk (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``,
``<hex>;chunk-signature=<sig>``): the signatures are checked when the request was
authenticated (``signed_urls.current_signer``). Everything is decoded as it streams; the
stored object is the decoded bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Mapping

from starlette.types import Receive

from ..services.objects import Body
from ..services.objects.checksums import ALGORITHMS
from ..services.objects.digests import Digests
from ..services.objects.errors import (
    IncompleteBody,
    InvalidArgument,
    InvalidRequest,
    MalformedXML,
    S3Error,
    Unsupported,
)
from .signed_urls import current_signer

STREAMING_SIGNED = (
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_MAX_LINE = 4096
_UNSUPPORTED_ALGORITHMS = ("XXHASH64", "XXHASH3", "XXHASH128")


class SignatureDoesNotMatch(S3Error):
    error_type = "SignatureDoesNotMatch"
    status = 403


class ClientGone(Exception):
    """The client disconnected before its body arrived: nobody hears the answer."""


async def raw_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The request body's bytes as the server receives them."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def request_body(headers: Mapping[str, str], receive: Receive) -> Body:
    """The body of a PutObject or UploadPart, with the digests its sender claims."""
    algorithm = _checksum_algorithm(headers)
    content_sha256 = headers.get("x-amz-content-sha256", "")
    chunked = "aws-chunked" in headers.get("content-encoding", "") or content_sha256.startswith(
        "STREAMING-"
    )
    body = Body(
        raw_chunks(receive),
        content_md5=headers.get("content-md5"),
        checksum_algorithm=algorithm,
        checksum=headers.get(f"x-amz-checksum-{algorithm.lower()}") if algorithm else None,
        content_sha256=content_sha256 if _is_sha256(content_sha256) else None,
    )
    if chunked:
        decoded = headers.get("x-amz-decoded-content-length")
        if decoded is not None and not decoded.isdigit():
            raise InvalidArgument("x-amz-decoded-content-length must be a number")
        signatures = None
        if content_sha256 in STREAMING_SIGNED:
            signatures = ChunkSignatures.of_request(headers)
        decoder = AwsChunked(body, int(decoded) if decoded else None, signatures)
        body.chunks = decoder.chunks(raw_chunks(receive))
    return body


async def read_small(headers: Mapping[str, str], receive: Receive, limit: int) -> bytes:
    """A whole request body of an XML operation, its digests checked; MalformedXML past
    ``limit`` bytes."""
    body = request_body(headers, receive)
    digests = Digests(body)
    chunks = []
    async for chunk in body.chunks:
        digests.update(chunk)
        if digests.size > limit:
            raise MalformedXML(f"The XML you provided was larger than {limit} bytes.")
        chunks.append(chunk)
    digests.verify()
    return b"".join(chunks)


def _checksum_algorithm(headers: Mapping[str, str]) -> str | None:
    """The flexible checksum the sender computed: named by x-amz-sdk-checksum-algorithm, an
    x-amz-checksum-* header, or the x-amz-trailer it announces."""
    named = headers.get("x-amz-sdk-checksum-algorithm", "").upper()
    if not named:
        trailer = headers.get("x-amz-trailer", "").lower()
        if trailer.startswith("x-amz-checksum-"):
            named = trailer.removeprefix("x-amz-checksum-").upper()
    if not named:
        for name in headers:
            if name.startswith("x-amz-checksum-") and name not in (
                "x-amz-checksum-type",
                "x-amz-checksum-algorithm",
                "x-amz-checksum-mode",
            ):
                named = name.removeprefix("x-amz-checksum-").upper()
                break
    if not named:
        return None
    if named in _UNSUPPORTED_ALGORITHMS:
        raise Unsupported(f"gureum does not compute {named} checksums; use CRC32 or SHA256.")
    if named not in ALGORITHMS:
        raise InvalidRequest(f"Value for x-amz-sdk-checksum-algorithm header is invalid: {named}")
    return named


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


class ChunkSignatures:
    """SigV4's per-chunk signatures: each chains on the one before, from the request's own."""

    def __init__(self, signing_key: bytes, timestamp: str, scope: str, seed: str) -> None:
        self._key = signing_key
        self._prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{timestamp}\n{scope}\n"
        self._previous = seed
        self._claimed = ""
        self._hash = hashlib.sha256()

    @classmethod
    def of_request(cls, headers: Mapping[str, str]) -> ChunkSignatures | None:
        """The signatures to check, or None when the request was not authenticated (auth is
        off: any credentials are accepted, so there is no secret to check against)."""
        signer = current_signer.get()
        authorization = headers.get("authorization", "")
        if signer is None or not authorization:
            return None
        fields = dict(
            part.strip().partition("=")[::2] for part in authorization.partition(" ")[2].split(",")
        )
        _, date, region, service, terminal = fields.get("Credential", "").split("/")
        key = hmac.digest(f"AWS4{signer.secret}".encode(), date.encode(), "sha256")
        for part in (region, service, terminal):
            key = hmac.digest(key, part.encode(), "sha256")
        scope = f"{date}/{region}/{service}/{terminal}"
        return cls(key, headers.get("x-amz-date", ""), scope, fields.get("Signature", ""))

    def start(self, claimed: str) -> None:
        self._claimed = claimed
        self._hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def end(self) -> None:
        to_sign = f"{self._prefix}{self._previous}\n{EMPTY_SHA256}\n{self._hash.hexdigest()}"
        expected = hmac.new(self._key, to_sign.encode(), "sha256").hexdigest()
        if not hmac.compare_digest(expected, self._claimed):
            raise SignatureDoesNotMatch(
                "The request signature we calculated does not match the signature you provided."
            )
        self._previous = expected


class AwsChunked:
    """Decodes aws-chunked framing incrementally; sets the body's claimed checksum from the
    trailer. IncompleteBody if the framing is broken or the decoded length is not the one the
    sender announced."""

    def __init__(
        self, body: Body, decoded_length: int | None, signatures: ChunkSignatures | None
    ) -> None:
        self._body = body
        self._decoded_length = decoded_length
        self._signatures = signatures
        self._buffer = b""
        self._left = 0  # bytes of the current chunk still to come
        self._state = "size"
        self._size = 0
        self.trailers: dict[str, str] = {}

    async def chunks(self, raw: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for data in raw:
            for piece in self._feed(data):
                yield piece
        if self._state != "done":
            raise IncompleteBody("The request body ended before its last aws-chunked chunk.")
        if self._decoded_length is not None and self._size != self._decoded_length:
            raise IncompleteBody(
                "You did not provide the number of bytes specified by the "
                "x-amz-decoded-content-length header."
            )
        algorithm = self._body.checksum_algorithm
        if algorithm is not None:
            self._body.checksum = self.trailers.get(
                f"x-amz-checksum-{algorithm.lower()}", self._body.checksum
            )

    def _feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer + data if self._buffer else data
        at, out = 0, []
        while at < len(buffer):
            if self._state == "data":
                piece = buffer[at : at + self._left]
                at += len(piece)
                self._left -= len(piece)
                self._size += len(piece)
                if self._signatures is not None:
                    self._signatures.update(piece)
                out.append(piece)
                if self._left == 0:
                    self._state = "crlf"
                continue
            if self._state == "done":
                if buffer[at:].strip():
                    raise IncompleteBody("Bytes follow the end of the aws-chunked body.")
                at = len(buffer)
                break
            end = buffer.find(b"\r\n", at)
            if end < 0:
                if len(buffer) - at > _MAX_LINE:
                    raise IncompleteBody("An aws-chunked line is too long.")
                break
            line = buffer[at:end]
            at = end + 2
            self._line(line)
        self._buffer = buffer[at:]
        return out

    def _line(self, line: bytes) -> None:
        if self._state == "crlf":
            if line:
                raise IncompleteBody("An aws-chunked chunk is longer than its size.")
            if self._signatures is not None:
                self._signatures.end()
            self._state = "size"
        elif self._state == "size":
            size_text, _, extension = line.partition(b";")
            try:
                size = int(size_text, 16)
            except ValueError:
                raise IncompleteBody("An aws-chunked chunk size is not hexadecimal.") from None
            if self._signatures is not None:
                claimed = extension.partition(b"chunk-signature=")[2]
                self._signatures.start(claimed.decode("latin-1"))
            if size:
                self._left = size
                self._state = "data"
            else:
                if self._signatures is not None:
                    self._signatures.end()
                self._state = "trailer"
        elif self._state == "trailer":
            if not line:
                self._state = "done"
                return
            name, _, value = line.decode("latin-1").partition(":")
            self.trailers[name.strip().lower()] = value.strip()
