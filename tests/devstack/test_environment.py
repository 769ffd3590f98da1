"""The handlers' environment: Globals + per-function variables resolved locally, one shared os.environ."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest

from devstack.environment import EnvironmentConflictError, union_environment
from devstack.stack import LocalStack
from tests.devstack.conftest import BOX_URL, write_app


def test_template_variables_resolve_to_local_resources(tiny_stack: LocalStack) -> None:
    env = tiny_stack.env

    assert env["TABLE_NAME"] == tiny_stack.resources["Table"].ref
    assert env["TABLE_NAME"].startswith("boxcasb-local-Table-")
    assert env["KEY_ARN"] == tiny_stack.resources["Key"].attributes["Arn"]
    assert env["KEY_ARN"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert env["BOX_APP_SECRET_ARN"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:")
    assert env["QUEUE_URL"] == tiny_stack.resources["Queue"].ref
    assert env["GREETING"] == "hello from us-east-1 in 123456789012"
    assert env["BOX_URL"] == BOX_URL
    assert env["REDIRECT"] == f"{tiny_stack.api_url}/oauth/box/callback"
    assert "DROPPED" not in env  # !If [..., !Ref AWS::NoValue]
    # Per-function Variables join the union: !Ref of a function is its name.
    assert (env["PEER"], env["ROLE"]) == ("WorkerFunction", "worker")
    assert env["AWS_ENDPOINT_URL"] == tiny_stack.moto_url
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == tiny_stack.lambda_url
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert all(os.environ[name] == value for name, value in env.items())


def test_box_app_secret_holds_the_app_credentials(tiny_stack: LocalStack) -> None:
    secret = tiny_stack.client("secretsmanager").get_secret_value(
        SecretId=tiny_stack.env["BOX_APP_SECRET_ARN"]
    )

    assert json.loads(secret["SecretString"]) == {
        "client_id": "fake-client-id",
        "client_secret": "fake-client-secret",
    }


def test_the_resources_exist_on_moto(tiny_stack: LocalStack) -> None:
    # boto3 with no endpoint and no credentials: the environment alone leads to moto.
    table = boto3.session.Session().client("dynamodb").describe_table(TableName=tiny_stack.env["TABLE_NAME"])
    queue = tiny_stack.client("sqs").get_queue_attributes(
        QueueUrl=tiny_stack.env["QUEUE_URL"], AttributeNames=["All"]
    )["Attributes"]

    assert table["Table"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert queue["VisibilityTimeout"] == "1"
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": tiny_stack.resources["Dlq"].attributes["Arn"],
        "maxReceiveCount": 2,
    }
    assert "EchoLogs" not in tiny_stack.resources  # Logs are skipped, not emulated


def test_union_refuses_two_values_for_one_variable() -> None:
    assert union_environment({"A": {"X": "1", "Y": "2"}, "B": {"X": "1", "Z": "3"}}) == {
        "X": "1",
        "Y": "2",
        "Z": "3",
    }
    with pytest.raises(EnvironmentConflictError, match="X is '1' for A but '2' for B"):
        union_environment({"A": {"X": "1"}, "B": {"X": "2"}})


CONFLICT = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Environment: {Variables: {SHARED: same}}
Resources:
  One:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: one/, Handler: app.handler, Environment: {Variables: {MODE: fast}}}
  Two:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: two/, Handler: app.handler, Environment: {Variables: {MODE: slow}}}
"""


def test_conflicting_function_environments_stop_the_start(tmp_path: Path) -> None:
    handler = "def handler(event, context):\n    return event\n"
    template = write_app(tmp_path, CONFLICT, {"one/app.py": handler, "two/app.py": handler})
    before = dict(os.environ)
    stack = LocalStack(template)

    with pytest.raises(EnvironmentConflictError, match="MODE"):
        stack.start()

    assert dict(os.environ) == before
    assert not stack.started


def test_stop_gives_the_environment_back(tmp_path: Path) -> None:
    template = write_app(
        tmp_path,
        CONFLICT.replace("slow", "fast"),
        {
            "one/app.py": "def handler(event, context):\n    return {'one': event}\n",
            "two/app.py": "def handler(event, context):\n    return {'two': event}\n",
        },
    )
    before = dict(os.environ)

    stack = LocalStack(template)
    with stack:
        assert os.environ["MODE"] == "fast"
        assert stack.invoke("One", {"a": 1}) == {"one": {"a": 1}}
        assert stack.invoke("Two", {"b": 2}) == {"two": {"b": 2}}  # two app.py modules side by side

    assert dict(os.environ) == before
    with stack:  # a stopped stack starts again
        assert stack.invoke("One", {}) == {"one": {}}
