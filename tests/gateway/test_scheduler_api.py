"""Schedules through boto3's EventBridge Scheduler client and gureum's own endpoint, on a real
server: the lifecycle, the errors in the Scheduler API's shape, and a tick that really fires."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.gateway.conftest import Server, code, create, error_of, unique

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
PRINTER = code(
    """
    import json
    def handler(event, context):
        print("EVENT " + json.dumps(event))
    """
)


@pytest.fixture(scope="module")
def scheduler(server: Server) -> Any:
    return server.client("scheduler")


def test_schedule_lifecycle(lam: Any, scheduler: Any) -> None:
    name = unique()
    create(lam, name)
    created = scheduler.create_schedule(
        Name="nightly",
        ScheduleExpression="cron(0 3 * * ? *)",
        ScheduleExpressionTimezone="Asia/Seoul",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": ARN + name, "RoleArn": "arn:aws:iam::000000000000:role/s", "Input": "{}"},
    )
    assert created["ScheduleArn"] == (
        "arn:aws:scheduler:us-east-1:000000000000:schedule/default/nightly"
    )

    got = scheduler.get_schedule(Name="nightly")
    assert got["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert got["ScheduleExpressionTimezone"] == "Asia/Seoul"
    assert got["State"] == "ENABLED"
    assert got["Target"] == {
        "Arn": ARN + name,
        "RoleArn": "arn:aws:iam::000000000000:role/s",
        "Input": "{}",
    }

    scheduler.update_schedule(
        Name="nightly",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": ARN + name, "RoleArn": "arn:aws:iam::000000000000:role/s"},
        State="DISABLED",
    )
    got = scheduler.get_schedule(Name="nightly")
    assert (got["ScheduleExpression"], got["State"]) == ("rate(5 minutes)", "DISABLED")
    assert "Input" not in got["Target"]

    listed = scheduler.list_schedules()["Schedules"]
    assert [(s["Name"], s["GroupName"], s["State"]) for s in listed] == [
        ("nightly", "default", "DISABLED")
    ]
    scheduler.delete_schedule(Name="nightly")
    assert scheduler.list_schedules()["Schedules"] == []


def test_groups_and_pagination(lam: Any, scheduler: Any) -> None:
    name = unique()
    create(lam, name)
    for n in range(5):
        scheduler.create_schedule(
            Name=f"every-{n}",
            GroupName="reports",
            ScheduleExpression=f"rate({n + 2} hours)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": ARN + name, "RoleArn": "arn:aws:iam::000000000000:role/s"},
        )
    try:
        groups = scheduler.list_schedule_groups()["ScheduleGroups"]
        assert [g["Name"] for g in groups] == ["default", "reports"]
        paginator = scheduler.get_paginator("list_schedules")
        pages = list(paginator.paginate(GroupName="reports", PaginationConfig={"PageSize": 2}))
        assert [len(p["Schedules"]) for p in pages] == [2, 2, 1]
        names = [s["Name"] for p in pages for s in p["Schedules"]]
        assert names == [f"every-{n}" for n in range(5)]
        assert scheduler.get_schedule(Name="every-3", GroupName="reports")["GroupName"] == (
            "reports"
        )
    finally:
        for n in range(5):
            scheduler.delete_schedule(Name=f"every-{n}", GroupName="reports")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(0 minutes)", "rate"),
        ("cron(0 12 * * * *)", "?"),
        ("cron(61 * * * ? *)", "minute"),
        ("every tuesday", "rate("),
    ],
)
def test_bad_expressions_are_validation_errors(
    lam: Any, scheduler: Any, expression: str, message: str
) -> None:
    name = unique()
    create(lam, name)
    with pytest.raises(ClientError) as excinfo:
        scheduler.create_schedule(
            Name=unique("bad"),
            ScheduleExpression=expression,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": ARN + name, "RoleArn": "arn:aws:iam::000000000000:role/s"},
        )
    code_, status, text = error_of(excinfo)
    assert (code_, status) == ("ValidationException", 400)
    assert message in text


def test_errors_have_the_scheduler_api_shape(lam: Any, scheduler: Any) -> None:
    name = unique()
    create(lam, name)
    target = {"Arn": ARN + name, "RoleArn": "arn:aws:iam::000000000000:role/s"}
    with pytest.raises(ClientError) as excinfo:
        scheduler.get_schedule(Name="never-made")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        scheduler.delete_schedule(Name="never-made")
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        scheduler.update_schedule(
            Name="never-made",
            ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
        )
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)

    scheduler.create_schedule(
        Name="twice",
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
    )
    try:
        with pytest.raises(ClientError) as excinfo:
            scheduler.create_schedule(
                Name="twice",
                ScheduleExpression="rate(1 hour)",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target=target,
            )
        assert error_of(excinfo)[:2] == ("ConflictException", 409)
    finally:
        scheduler.delete_schedule(Name="twice")

    with pytest.raises(ClientError) as excinfo:
        scheduler.create_schedule(
            Name="nowhere",
            ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={**target, "Arn": ARN + "no-such-function"},
        )
    assert error_of(excinfo)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as excinfo:
        scheduler.create_schedule(
            Name="to-sns",
            ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={**target, "Arn": "arn:aws:sns:us-east-1:000000000000:topic"},
        )
    assert error_of(excinfo)[:2] == ("ValidationException", 400)


def test_a_one_time_schedule_fires_the_scheduled_event(
    lam: Any, scheduler: Any, server: Server
) -> None:
    name = unique()
    create(lam, name, PRINTER)
    # The nearest whole second at least a second away: `at()` has a resolution of seconds.
    when = datetime.fromtimestamp(int(time.time()) + 2, UTC)
    scheduler.create_schedule(
        Name="soon",
        ScheduleExpression=f"at({when:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": ARN + name, "RoleArn": "arn:aws:iam::000000000000:role/s"},
    )
    event = _await_event(server, name)
    assert event["source"] == "aws.scheduler"
    assert event["detail-type"] == "Scheduled Event"
    assert event["time"] == f"{when:%Y-%m-%dT%H:%M:%SZ}"
    assert event["resources"] == ["arn:aws:scheduler:us-east-1:000000000000:schedule/default/soon"]
    # Fired once and done: nothing more is due.
    listed = httpx.get(f"{server.url}/_gureum/schedules").json()["schedules"]
    assert [s["nextFire"] for s in listed if s["name"] == "soon"] == [None]
    scheduler.delete_schedule(Name="soon")


def _await_event(server: Server, function: str) -> dict[str, Any]:
    """The first event the function printed; polls its logs, bounded by a deadline."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply = httpx.get(f"{server.url}/_gureum/functions/{function}/logs").json()
        for line in reply["events"]:
            if line["message"].startswith("EVENT "):
                event: dict[str, Any] = json.loads(line["message"].removeprefix("EVENT "))
                return event
        time.sleep(0.05)  # polling the logs for a condition, not waiting for a time
    raise AssertionError(f"{function} was never invoked by its schedule")


# -- gureum's own endpoint: catch-up policy and next fire times -------------------------------


def test_own_endpoint_puts_lists_and_deletes(lam: Any, server: Server) -> None:
    name = unique()
    create(lam, name)
    url = f"{server.url}/_gureum/schedules/ops/{name}-hourly"
    put = httpx.put(
        url,
        json={"expression": "cron(0 * * * ? *)", "function": name, "catchUp": "skip"},
    )
    assert put.status_code == 201, put.text
    body = put.json()
    assert body["catchUp"] == "skip"
    assert body["target"] == ARN + name
    now = time.time()
    assert now < body["nextFire"] <= now + 3600 and body["nextFire"] % 3600 == 0

    again = httpx.put(url, json={"expression": "rate(1 day)", "function": f"{name}:$LATEST"})
    assert again.status_code == 200
    assert again.json()["target"] == f"{ARN}{name}:$LATEST"
    listed = httpx.get(f"{server.url}/_gureum/schedules", params={"group": "ops"}).json()
    assert [s["name"] for s in listed["schedules"]] == [f"{name}-hourly"]

    assert httpx.delete(url).status_code == 204
    assert httpx.delete(url).status_code == 404
    assert httpx.get(f"{server.url}/_gureum/schedules", params={"group": "ops"}).json() == {
        "schedules": []
    }


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"function": "x"}, "expression"),
        ({"expression": "rate(1 hour)", "function": "x", "catchUp": "always"}, "catch"),
        ({"expression": "rate(1 hour)", "function": "x", "timezone": "Mars/Olympus"}, "zone"),
    ],
)
def test_own_endpoint_rejects_bad_documents(
    lam: Any, server: Server, document: dict[str, Any], message: str
) -> None:
    if "x" not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}:
        create(lam, "x")
    reply = httpx.put(f"{server.url}/_gureum/schedules/default/bad", json=document)
    assert reply.status_code == 400
    assert message in reply.json()["message"].lower()
