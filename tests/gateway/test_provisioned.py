"""Provisioned concurrency: instances initialised before the first invoke, kept warm."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.gateway.conftest import code, create, start_server, unique

COUNTED = code(
    """
    import time
    time.sleep(0.2)  # an init worth skipping
    def handler(event, context):
        return "ok"
    """
)


def report_of(response: dict[str, Any]) -> str:
    response["Payload"].read()
    log = base64.b64decode(response["LogResult"]).decode()
    (line,) = [line for line in log.splitlines() if line.startswith("REPORT")]
    return line


def test_provisioned_instances_are_warm_before_the_first_invoke(lam: Any) -> None:
    name = unique()
    create(lam, name, COUNTED, Publish=True)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    put = lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    assert put["Status"] == "READY"
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["AvailableProvisionedConcurrentExecutions"] == 2
    got = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert got["Status"] == "READY"
    # The first invoke finds an initialised instance: no Init Duration in its REPORT line.
    first = lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}", LogType="Tail")
    assert "Init Duration" not in report_of(first)
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    assert [
        c["FunctionArn"].rsplit(":", 1)[1] for c in listed["ProvisionedConcurrencyConfigs"]
    ] == ["live"]

    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    with pytest.raises(ClientError) as excinfo:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert (
        excinfo.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
    )


def test_latest_cannot_be_provisioned(lam: Any) -> None:
    name = unique()
    create(lam, name)
    with pytest.raises(ClientError) as excinfo:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_a_failing_init_reports_failed(lam: Any) -> None:
    name = unique()
    create(lam, name, code("raise RuntimeError('no')\n"), Publish=True)
    put = lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    assert put["Status"] == "FAILED"
    assert "no" in put["StatusReason"]


def test_provisioned_instances_come_back_after_a_restart(tmp_path: Any) -> None:
    first = start_server(tmp_path / "data")
    try:
        lam = first.client()
        create(lam, "kept", COUNTED, Publish=True)
        lam.put_provisioned_concurrency_config(
            FunctionName="kept", Qualifier="1", ProvisionedConcurrentExecutions=1
        )
    finally:
        first.stop()
    second = start_server(tmp_path / "data")
    try:
        lam = second.client()
        waiter_ready = lam.get_provisioned_concurrency_config(FunctionName="kept", Qualifier="1")
        assert waiter_ready["RequestedProvisionedConcurrentExecutions"] == 1
    finally:
        second.stop()
