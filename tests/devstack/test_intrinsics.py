"""Intrinsic functions resolved against local values."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.intrinsics import Resolver, UnresolvableError


def resolver(**refs: Any) -> Resolver:
    return Resolver(
        parameters={"Stage": "dev", "Empty": ""},
        conditions={
            "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
            "HasEmpty": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Empty"}, ""]}]},
        },
        refs=refs,
        attributes={("Queue", "Arn"): "arn:aws:sqs:us-east-1:123456789012:q"},
        stack_name="s",
    )


def test_sub_resolves_parameters_pseudo_parameters_attributes_and_escapes() -> None:
    value = {"Fn::Sub": "${Stage}/${AWS::Region}/${AWS::AccountId}/${Queue.Arn}/${!Literal}"}

    assert (
        resolver().resolve(value)
        == "dev/us-east-1/123456789012/arn:aws:sqs:us-east-1:123456789012:q/${Literal}"
    )


def test_sub_with_variables_and_refs() -> None:
    value = {"Fn::Sub": ["${Name}-${Table}", {"Name": {"Ref": "Stage"}}]}

    assert resolver(Table="t-1").resolve(value) == "dev-t-1"


def test_if_with_no_value_drops_the_key_and_list_item() -> None:
    value = {
        "kept": {"Fn::If": ["IsDev", "yes", "no"]},
        "dropped": {"Fn::If": ["HasEmpty", "x", {"Ref": "AWS::NoValue"}]},
        "list": ["a", {"Fn::If": ["HasEmpty", "b", {"Ref": "AWS::NoValue"}]}],
    }

    assert resolver().resolve(value) == {"kept": "yes", "list": ["a"]}


def test_join_select_split() -> None:
    r = resolver()

    assert r.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-dev"
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}) == "y"


@pytest.mark.parametrize(
    "value",
    [{"Ref": "Nowhere"}, {"Fn::GetAtt": ["Queue", "QueueName"]}, {"Fn::ImportValue": "x"}],
    ids=["unknown-ref", "unknown-attribute", "unsupported-function"],
)
def test_unresolvable_values_raise(value: Any) -> None:
    with pytest.raises(UnresolvableError):
        resolver().resolve(value)
