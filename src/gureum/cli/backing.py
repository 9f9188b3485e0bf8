"""`gureum deploy`'s part for a template's buckets and queues, and the events they send.

Before the functions: every ``AWS::SQS::Queue`` is created (or its attributes set), dead-letter
queues first, and every ``AWS::S3::Bucket`` created if missing. After them: each bucket's
notification configuration becomes exactly what the template's ``S3`` events say (the template
owns its buckets), and each deployed function's event source mappings exactly its ``SQS``
events (the deploy owns a deployed function's mappings: ones made by hand on it are replaced).
Buckets and queues taken out of the template are left, with their contents: deleting data is
for `aws s3 rb` and `aws sqs delete-queue`.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .client import Remote, error_code
from .manifest import Deployment, FunctionSpec
from .manifest.specs import QueueSpec, SqsEventSpec


def create_buckets_and_queues(remote: Remote, deployment: Deployment) -> dict[str, Any]:
    """Returns ``{"buckets": [...], "queues": {name: arn}}``."""
    s3 = remote.service_client("s3")
    for bucket in deployment.buckets:
        try:
            s3.create_bucket(Bucket=bucket.name)
        except ClientError as exc:
            if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
    arns: dict[str, str] = {}
    for queue in deployment.queues:  # dead-letter queues come first
        arns[queue.name] = _create_queue(remote, queue, arns)
    return {"buckets": [b.name for b in deployment.buckets], "queues": arns}


def _create_queue(remote: Remote, queue: QueueSpec, arns: dict[str, str]) -> str:
    sqs = remote.service_client("sqs")
    attributes = dict(queue.attributes)
    if queue.dead_letter is not None:
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": arns[queue.dead_letter.name],
                "maxReceiveCount": queue.max_receives,
            }
        )
    try:
        url = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
    except ClientError as exc:
        if error_code(exc) not in ("QueueNameExists", "QueueAlreadyExists"):
            raise
        # It exists with other attributes: the template's win.
        url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arn: str = got["Attributes"]["QueueArn"]
    return arn


def wire_notifications(
    remote: Remote, deployment: Deployment, function_arns: dict[str, str]
) -> dict[str, list[str]]:
    """Each bucket of the template notifies exactly the functions whose S3 events name it."""
    s3 = remote.service_client("s3")
    wired: dict[str, list[str]] = {}
    for bucket in deployment.buckets:
        configurations = []
        for spec in deployment.functions:
            for n, event in enumerate(e for e in spec.s3_events if e.bucket == bucket.name):
                configuration: dict[str, Any] = {
                    "Id": f"{spec.name}-{n + 1}",
                    "LambdaFunctionArn": _target_arn(spec, function_arns),
                    "Events": list(event.events),
                }
                if event.filter_rules:
                    rules = [{"Name": k, "Value": v} for k, v in event.filter_rules]
                    configuration["Filter"] = {"Key": {"FilterRules": rules}}
                configurations.append(configuration)
        s3.put_bucket_notification_configuration(
            Bucket=bucket.name,
            NotificationConfiguration={"LambdaFunctionConfigurations": configurations},
        )
        wired[bucket.name] = [c["LambdaFunctionArn"] for c in configurations]
    return wired


def wire_mappings(
    remote: Remote,
    deployment: Deployment,
    function_arns: dict[str, str],
    queue_arns: dict[str, str],
) -> list[dict[str, Any]]:
    """Each deployed function's event source mappings become exactly its SQS events."""
    client = remote.lambda_client()
    wired = []
    for spec in deployment.functions:
        current = client.list_event_source_mappings(FunctionName=spec.name)["EventSourceMappings"]
        by_source = {m["EventSourceArn"]: m for m in current}
        wanted: set[str] = set()
        for event in spec.sqs_events:
            source = _queue_arn(event, queue_arns, function_arns[spec.name])
            wanted.add(source)
            settings = _mapping_settings(event)
            existing = by_source.get(source)
            if existing is None:
                made = client.create_event_source_mapping(
                    FunctionName=_qualified(spec), EventSourceArn=source, **settings
                )
            else:
                made = client.update_event_source_mapping(
                    UUID=existing["UUID"], FunctionName=_qualified(spec), **settings
                )
            wired.append({"function": spec.name, "queue": source, "uuid": made["UUID"]})
        for mapping in current:
            if mapping["EventSourceArn"] not in wanted:
                client.delete_event_source_mapping(UUID=mapping["UUID"])
    return wired


def _mapping_settings(event: SqsEventSpec) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "BatchSize": event.batch_size,
        "MaximumBatchingWindowInSeconds": event.window_s,
        "Enabled": event.enabled,
        "FunctionResponseTypes": list(event.response_types),
    }
    if event.max_concurrency is not None:
        settings["ScalingConfig"] = {"MaximumConcurrency": event.max_concurrency}
    return settings


def _queue_arn(event: SqsEventSpec, queue_arns: dict[str, str], function_arn: str) -> str:
    if isinstance(event.queue, str):
        return event.queue
    if event.queue.name in queue_arns:
        return queue_arns[event.queue.name]
    # A queue of the template is always in queue_arns; keep the shape for safety.
    region_account = function_arn.split(":")[3:5]
    return ":".join(["arn", "aws", "sqs", *region_account, event.queue.name])


def _qualified(spec: FunctionSpec) -> str:
    return spec.target  # the alias, when the deploy publishes one


def _target_arn(spec: FunctionSpec, function_arns: dict[str, str]) -> str:
    arn = function_arns[spec.name]
    return f"{arn}:{spec.alias}" if spec.alias else arn
