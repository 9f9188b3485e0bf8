"""The last step of `gureum deploy`: wire the deployed functions to what triggers them.

Each step makes the server hold exactly what the manifest says, so a redeploy is idempotent and
removes what was taken out of the file:

- routes: the deployment (its stack) owns a set of routes, replaced whole;
- schedules: the stack is a schedule group; schedules not in the file are deleted;
- a function URL and the async settings (EventInvokeConfig) belong to one function: those the
  deploy made are marked with a tag on the function, so a later deploy without them removes them,
  and URLs or settings made by hand (no tag) are left alone.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .client import Remote, error_code
from .manifest import Deployment, EventInvokeSpec, FunctionRef, FunctionSpec

# The qualifier ("" for none) of the URL / the EventInvokeConfig a deploy made.
URL_TAG = "gureum:deploy:url"
ASYNC_TAG = "gureum:deploy:async"


def wire(remote: Remote, deployment: Deployment, arns: dict[str, str]) -> dict[str, Any]:
    """Routes, schedules, URLs and async settings of ``deployment``, whose functions have
    these ``arns`` (by name); returns a summary."""
    client = remote.lambda_client()
    summary: dict[str, Any] = {"stack": deployment.stack}
    summary["routes"] = _routes(remote, deployment)
    summary["schedules"] = _schedules(remote, deployment)
    urls = {}
    for spec in deployment.functions:
        tags = client.list_tags(Resource=arns[spec.name])["Tags"]
        url = _url(client, spec, arns[spec.name], tags)
        if url is not None:
            urls[spec.name] = url
        _event_invoke(client, spec, arns, tags)
    summary["urls"] = urls
    return summary


def _routes(remote: Remote, deployment: Deployment) -> list[dict[str, str]]:
    wanted = [
        {"route": route.route, "function": spec.target, "payloadFormat": route.payload_format}
        for spec in deployment.functions
        for route in spec.routes
    ]
    # PUT with an empty list clears the stack's routes: those removed from the file go.
    remote.send_json("PUT", f"/_gureum/routes/{deployment.stack}", body={"routes": wanted})
    return wanted


def _schedules(remote: Remote, deployment: Deployment) -> list[dict[str, Any]]:
    group = deployment.stack
    current = remote.get_json("/_gureum/schedules", {"group": group})["schedules"]
    put = []
    for spec in deployment.functions:
        for schedule in spec.schedules:
            document = {
                "expression": schedule.expression,
                "function": spec.target,
                "timezone": schedule.timezone,
                "input": schedule.input,
                "catchUp": schedule.catch_up,
                "state": "ENABLED" if schedule.enabled else "DISABLED",
                "description": schedule.description,
            }
            put.append(
                remote.send_json(
                    "PUT", f"/_gureum/schedules/{group}/{schedule.name}", body=document
                )
            )
    wanted = {s["name"] for s in put}
    for schedule in current:
        if schedule["name"] not in wanted:
            remote.send_json("DELETE", f"/_gureum/schedules/{group}/{schedule['name']}")
    return [
        {"name": s["name"], "expression": s["expression"], "nextFire": s["nextFire"]} for s in put
    ]


def _url(client: Any, spec: FunctionSpec, arn: str, tags: dict[str, str]) -> str | None:
    made = tags.get(URL_TAG)  # the qualifier of the URL an earlier deploy made
    qualifier = spec.alias or ""
    if made is not None and (spec.url is None or made != qualifier):
        _ignoring_missing(client.delete_function_url_config, spec.name, made)
        client.untag_resource(Resource=arn, TagKeys=[URL_TAG])
    if spec.url is None:
        return None
    settings: dict[str, Any] = {"AuthType": spec.url.auth_type, "Cors": spec.url.cors or {}}
    where = {"FunctionName": spec.name, **({"Qualifier": qualifier} if qualifier else {})}
    try:
        config = client.update_function_url_config(**where, **settings)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        config = client.create_function_url_config(**where, **settings)
    client.tag_resource(Resource=arn, Tags={URL_TAG: qualifier})
    url: str = config["FunctionUrl"]
    return url


def _event_invoke(
    client: Any, spec: FunctionSpec, arns: dict[str, str], tags: dict[str, str]
) -> None:
    arn = arns[spec.name]
    made = tags.get(ASYNC_TAG)
    qualifier = spec.alias or "$LATEST"
    if made is not None and (spec.event_invoke is None or made != qualifier):
        _ignoring_missing(client.delete_function_event_invoke_config, spec.name, made)
        client.untag_resource(Resource=arn, TagKeys=[ASYNC_TAG])
    if spec.event_invoke is None:
        return
    client.put_function_event_invoke_config(
        FunctionName=spec.name,
        Qualifier=qualifier,
        **_event_invoke_settings(spec.event_invoke, arn, arns),
    )
    client.tag_resource(Resource=arn, Tags={ASYNC_TAG: qualifier})


def _event_invoke_settings(spec: EventInvokeSpec, arn: str, arns: dict[str, str]) -> dict[str, Any]:
    def destination(target: str | FunctionRef) -> dict[str, str]:
        if isinstance(target, str):
            return {"Destination": target}
        # A function of this deployment, or (by name) any other on the same server.
        prefix = arn.rsplit(":function:", 1)[0]
        return {"Destination": arns.get(target.name, f"{prefix}:function:{target.name}")}

    settings: dict[str, Any] = {}
    if spec.retries is not None:
        settings["MaximumRetryAttempts"] = spec.retries
    if spec.max_age_s is not None:
        settings["MaximumEventAgeInSeconds"] = spec.max_age_s
    targets = {}
    if spec.on_success is not None:
        targets["OnSuccess"] = destination(spec.on_success)
    if spec.on_failure is not None:
        targets["OnFailure"] = destination(spec.on_failure)
    if targets:
        settings["DestinationConfig"] = targets
    return settings


def _ignoring_missing(delete: Any, name: str, qualifier: str) -> None:
    """Delete what an earlier deploy made, unless someone already did."""
    try:
        delete(FunctionName=name, **({"Qualifier": qualifier} if qualifier else {}))
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
