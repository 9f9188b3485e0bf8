"""The S3 API (REST-XML, path-style addressing: ``/bucket/key``) over ``platform.objects``.

Each request is routed by method, path and query to one handler (``s3_buckets``,
``s3_objects``, ``s3_listing``, ``s3_multipart``); anything else answers S3's NotImplemented
(501), naming what was asked. Errors are S3's XML ``<Error>`` with S3's codes and statuses.
Object bodies stream both ways (``s3_body``, ``s3_http``); nothing reads a whole object.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import GureumError
from ..services.objects import Requester
from ..services.objects.errors import InternalError, MethodNotAllowed, Unsupported
from . import s3_buckets, s3_listing, s3_multipart, s3_objects, s3_xml
from .lambda_api import LambdaContext
from .s3_body import ClientGone
from .s3_http import Reply, S3Request, send_reply

log = logging.getLogger("gureum.gateway.s3")

Handler = Callable[[S3Request], Awaitable[Reply]]

# Query parameters any request may carry: botocore's operation marker, presigned URLs' signing.
_ANY = frozenset(
    {
        "x-id",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        # boto3 presigns S3 URLs with SigV2 unless told s3v4 (accepted where auth is off)
        "AWSAccessKeyId",
        "Signature",
        "Expires",
    }
)
_LIST = frozenset({"prefix", "delimiter", "max-keys", "encoding-type"})
_OVERRIDES = frozenset(s3_objects.OVERRIDES)

# (method, on an object?, the sub-resource parameter that names the operation or "") ->
# (operation, handler, the other query parameters it takes).
_ROUTES: dict[tuple[str, bool, str], tuple[str, Handler, frozenset[str]]] = {
    ("GET", False, ""): ("ListObjects", s3_listing.list_objects, _LIST | {"marker"}),
    ("GET", False, "list-type"): (
        "ListObjectsV2",
        s3_listing.list_objects_v2,
        _LIST | {"continuation-token", "start-after", "fetch-owner"},
    ),
    ("GET", False, "location"): ("GetBucketLocation", s3_buckets.get_bucket_location, frozenset()),
    ("GET", False, "notification"): (
        "GetBucketNotificationConfiguration",
        s3_buckets.get_notification,
        frozenset(),
    ),
    ("PUT", False, ""): ("CreateBucket", s3_buckets.create_bucket, frozenset()),
    ("PUT", False, "notification"): (
        "PutBucketNotificationConfiguration",
        s3_buckets.put_notification,
        frozenset(),
    ),
    ("HEAD", False, ""): ("HeadBucket", s3_buckets.head_bucket, frozenset()),
    ("DELETE", False, ""): ("DeleteBucket", s3_buckets.delete_bucket, frozenset()),
    ("POST", False, "delete"): ("DeleteObjects", s3_objects.delete_objects, frozenset()),
    ("PUT", True, ""): ("PutObject", s3_objects.put_object, frozenset()),
    ("PUT", True, "uploadId"): ("UploadPart", s3_multipart.upload_part, frozenset({"partNumber"})),
    ("GET", True, ""): ("GetObject", s3_objects.get_object, _OVERRIDES | {"partNumber"}),
    ("GET", True, "uploadId"): (
        "ListParts",
        s3_multipart.list_parts,
        frozenset({"max-parts", "part-number-marker"}),
    ),
    ("HEAD", True, ""): ("HeadObject", s3_objects.head_object, _OVERRIDES | {"partNumber"}),
    ("DELETE", True, ""): ("DeleteObject", s3_objects.delete_object, frozenset()),
    ("DELETE", True, "uploadId"): ("AbortMultipartUpload", s3_multipart.abort_upload, frozenset()),
    ("POST", True, "uploads"): ("CreateMultipartUpload", s3_multipart.create_upload, frozenset()),
    ("POST", True, "uploadId"): (
        "CompleteMultipartUpload",
        s3_multipart.complete_upload,
        frozenset(),
    ),
}
_SUBRESOURCES = frozenset(sub for _, _, sub in _ROUTES if sub)


def route(method: str, bucket: str, key: str, query: Mapping[str, str], copy: bool) -> Handler:
    """The handler of a request; S3's NotImplemented for an operation gureum does not serve."""
    if not bucket:
        if method == "GET":
            return s3_buckets.list_buckets
        raise MethodNotAllowed("The specified method is not allowed against this resource.")
    named = [name for name in query if name in _SUBRESOURCES]
    sub = named[0] if named else ""
    found = _ROUTES.get((method, bool(key), sub))
    if found is None:
        raise Unsupported(
            f"{method} {'an object' if key else 'a bucket'}"
            + (f" with ?{sub}" if sub else "")
            + " is not an operation gureum serves."
        )
    operation, handler, takes = found
    unknown = [name for name in query if name not in takes and name != sub and name not in _ANY]
    if unknown:
        raise Unsupported(
            f"{method} {'an object' if key else 'a bucket'} with ?{unknown[0]} is not an "
            f"operation gureum serves (it serves {operation} without it)."
        )
    if copy and operation == "PutObject":
        return s3_objects.copy_object
    if copy:
        raise Unsupported(f"{operation} with x-amz-copy-source is not supported by gureum.")
    return handler


def s3_app(context: Callable[[], LambdaContext]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = _BodyTracker(receive)
        receive = body.receive
        request_id = os.urandom(8).hex().upper()
        host_id = base64.b64encode(os.urandom(24)).decode()
        method = scope["method"]
        path = scope["path"]
        bucket, _, key = path.removeprefix("/").partition("/")
        query: dict[str, str] = {}
        if scope["query_string"]:
            for name, value in parse_qsl(scope["query_string"].decode("latin-1"), True):
                query.setdefault(name, value)
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        host = headers.get("host") or "{}:{}".format(*scope.get("server") or ("127.0.0.1", 80))
        client = scope.get("client") or ("127.0.0.1", 0)
        request = S3Request(
            method=method,
            bucket=bucket,
            key=key,
            query=query,
            headers=headers,
            receive=receive,
            requester=Requester(client[0], request_id, host_id),
            endpoint=f"{scope.get('scheme', 'http')}://{host}",
            objects=context().platform.objects,
        )
        try:
            handler = route(method, bucket, key, query, "x-amz-copy-source" in headers)
            reply = await handler(request)
        except ClientGone:
            return
        except GureumError as error:
            reply = _error_reply(error, path, request_id, method)
        except Exception:
            log.exception("unexpected error in S3 %s %s", method, path)
            internal = InternalError("We encountered an internal error. Please try again.")
            reply = _error_reply(internal, path, request_id, method)
        reply.headers += [("x-amz-request-id", request_id), ("x-amz-id-2", host_id)]
        if not body.consumed and _has_body(headers):
            # Answered before its body arrived (an error): the body's bytes must not be read as
            # the next request on this connection, so it ends after this reply.
            reply.headers.append(("Connection", "close"))
        await send_reply(send, receive, reply, head=method == "HEAD")

    return app


def _error_reply(error: GureumError, path: str, request_id: str, method: str) -> Reply:
    # A HEAD reply, and a 304, carry no body: clients see the status alone.
    if method == "HEAD" or error.status == 304:
        return Reply(status=error.status, length=0)
    return Reply(status=error.status, body=s3_xml.error(error, path, request_id))


class _BodyTracker:
    """Knows whether the app received the whole request body."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.consumed = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self.consumed = True
        return message


def _has_body(headers: Mapping[str, str]) -> bool:
    return headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
