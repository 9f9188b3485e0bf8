"""Tags on functions: TagResource, UntagResource, ListTags, and Tags on create and get."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.gateway.conftest import create, unique


def test_tags_round_trip(lam: Any) -> None:
    name = unique()
    arn = create(lam, name, Tags={"team": "cloud"})["FunctionArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "cloud"}
    lam.tag_resource(Resource=arn, Tags={"stage": "dev", "team": "sky"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"stage": "dev", "team": "sky"}
    assert lam.get_function(FunctionName=name)["Tags"] == {"stage": "dev", "team": "sky"}
    lam.untag_resource(Resource=arn, TagKeys=["team"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"stage": "dev"}


def test_tags_of_a_missing_function_or_a_reserved_key(lam: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        lam.list_tags(Resource="arn:aws:lambda:us-east-1:000000000000:function:nothing")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"
    arn = create(lam, unique())["FunctionArn"]
    with pytest.raises(ClientError) as excinfo:
        lam.tag_resource(Resource=arn, Tags={"aws:reserved": "x"})
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValueException"
