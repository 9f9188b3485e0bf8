"""S3 bucket operations: create, list, head, delete, location, and notification configuration."""

from __future__ import annotations

from ..services.objects import Rule
from ..services.objects.errors import InvalidArgument, S3Error, Unsupported
from ..services.objects.types import OWNER_ID, OWNER_NAME, REGION
from . import s3_xml
from .s3_body import read_small
from .s3_http import Reply, S3Request, query_int

MAX_XML_BYTES = 4 * 1024 * 1024


class InvalidLocationConstraint(S3Error):
    error_type = "InvalidLocationConstraint"
    status = 400


async def list_buckets(request: S3Request) -> Reply:
    prefix = request.query.get("prefix", "")
    after = request.query.get("continuation-token", "")
    limit = query_int(request.query, "max-buckets", 10_000, 1, 10_000)
    buckets = [
        b
        for b in await request.objects.list_buckets()
        if b.name.startswith(prefix) and b.name > after
    ]
    page = buckets[:limit]
    doc = s3_xml.root("ListAllMyBucketsResult")
    owner = s3_xml.add(doc, "Owner")
    s3_xml.add(owner, "ID", OWNER_ID)
    s3_xml.add(owner, "DisplayName", OWNER_NAME)
    listed = s3_xml.add(doc, "Buckets")
    for bucket in page:
        entry = s3_xml.add(listed, "Bucket")
        s3_xml.add(entry, "Name", bucket.name)
        s3_xml.add(entry, "CreationDate", s3_xml.iso(bucket.created))
        s3_xml.add(entry, "BucketRegion", REGION)
    if len(buckets) > limit:
        s3_xml.add(doc, "ContinuationToken", page[-1].name)
    if prefix:
        s3_xml.add(doc, "Prefix", prefix)
    return Reply(body=s3_xml.serialize(doc))


async def create_bucket(request: S3Request) -> Reply:
    body = await read_small(request.headers, request.receive, MAX_XML_BYTES)
    if body.strip():
        config = s3_xml.parse(body, "CreateBucketConfiguration")
        location = s3_xml.text(config, "LocationConstraint")
        if location and location != REGION:
            raise InvalidLocationConstraint(
                f"gureum serves one region, {REGION}: the location constraint is invalid.",
                LocationConstraint=location,
            )
    await request.objects.create_bucket(request.bucket)
    return Reply(headers=[("Location", f"/{request.bucket}")])


async def head_bucket(request: S3Request) -> Reply:
    await request.objects.head_bucket(request.bucket)
    return Reply(headers=[("x-amz-bucket-region", REGION)])


async def delete_bucket(request: S3Request) -> Reply:
    await request.objects.delete_bucket(request.bucket)
    return Reply(status=204)


async def get_bucket_location(request: S3Request) -> Reply:
    await request.objects.head_bucket(request.bucket)
    # us-east-1 is S3's empty location constraint.
    return Reply(body=s3_xml.serialize(s3_xml.root("LocationConstraint")))


# botocore's names for the two kinds of destination gureum delivers to: (element, ARN element).
_KINDS = {
    "lambda": ("CloudFunctionConfiguration", "CloudFunction"),
    "queue": ("QueueConfiguration", "Queue"),
}


async def put_notification(request: S3Request) -> Reply:
    body = await read_small(request.headers, request.receive, MAX_XML_BYTES)
    config = s3_xml.parse(body, "NotificationConfiguration")
    rules = []
    for element in config:
        if element.tag in ("TopicConfiguration", "EventBridgeConfiguration"):
            raise Unsupported(
                f"gureum does not deliver to {element.tag.removesuffix('Configuration')}: "
                "use LambdaFunctionConfigurations or QueueConfigurations."
            )
        kind = next((k for k, (tag, _) in _KINDS.items() if tag == element.tag), None)
        if kind is None:
            raise InvalidArgument(f"Unknown notification configuration {element.tag}.")
        filter_rules = tuple(
            (s3_xml.text(rule, "Name"), s3_xml.text(rule, "Value"))
            for rule in element.iterfind("Filter/S3Key/FilterRule")
        )
        rules.append(
            Rule(
                id=s3_xml.text(element, "Id"),
                kind=kind,
                arn=s3_xml.text(element, _KINDS[kind][1]),
                events=tuple(event.text or "" for event in element.iterfind("Event")),
                filter_rules=filter_rules,
            )
        )
    await request.objects.put_notification(request.bucket, rules)
    return Reply()


async def get_notification(request: S3Request) -> Reply:
    rules = await request.objects.get_notification(request.bucket)
    doc = s3_xml.root("NotificationConfiguration")
    for kind in ("queue", "lambda"):
        tag, arn_tag = _KINDS[kind]
        for rule in rules:
            if rule.kind != kind:
                continue
            element = s3_xml.add(doc, tag)
            s3_xml.add(element, "Id", rule.id)
            s3_xml.add(element, arn_tag, rule.arn)
            for event in rule.events:
                s3_xml.add(element, "Event", event)
            if rule.filter_rules:
                key = s3_xml.add(s3_xml.add(element, "Filter"), "S3Key")
                for name, value in rule.filter_rules:
                    filter_rule = s3_xml.add(key, "FilterRule")
                    s3_xml.add(filter_rule, "Name", name)
                    s3_xml.add(filter_rule, "Value", value)
    return Reply(body=s3_xml.serialize(doc))
