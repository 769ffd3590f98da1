"""The Lambda Invoke API emulator, called through boto3 exactly as production code calls Lambda."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from devstack.stack import LocalStack


@pytest.fixture
def lambda_client(tiny_stack: LocalStack) -> Any:
    # No endpoint given: AWS_ENDPOINT_URL_LAMBDA, set by the stack, routes it to the emulator.
    return boto3.session.Session().client("lambda")


def test_request_response_returns_the_result(lambda_client: Any, probe: Any) -> None:
    response = lambda_client.invoke(
        FunctionName="WorkerFunction", Payload=json.dumps({"key": "sync"}).encode()
    )

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read())["key"] == "sync"


def test_function_arn_is_accepted_as_name(lambda_client: Any, probe: Any) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:WorkerFunction"

    response = lambda_client.invoke(FunctionName=arn, Payload=b'{"key": "by-arn"}')

    assert json.loads(response["Payload"].read())["key"] == "by-arn"


def test_handler_error_is_reported_like_lambda(lambda_client: Any, probe: Any) -> None:
    response = lambda_client.invoke(FunctionName="WorkerFunction", Payload=b'{"key": "e", "fail_first": 9}')

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "attempt 1 of e fails on purpose")


def test_unknown_function_is_resource_not_found(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lambda_client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")

    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_event_invocation_is_accepted_then_run(
    tiny_stack: LocalStack, lambda_client: Any, probe: Any
) -> None:
    response = lambda_client.invoke(
        FunctionName="WorkerFunction", InvocationType="Event", Payload=b'{"key": "later"}'
    )
    assert response["StatusCode"] == 202

    tiny_stack.wait_for_async(timeout=10)

    assert [e["key"] for e in probe.calls_of("WorkerFunction")] == ["later"]


def test_async_failure_is_retried_per_event_invoke_config(tiny_stack: LocalStack, probe: Any) -> None:
    # WorkerFunction has MaximumRetryAttempts: 1, so two attempts in all.
    recovered = tiny_stack.invoke_async("WorkerFunction", {"key": "flaky", "fail_first": 1})
    doomed = tiny_stack.invoke_async("WorkerFunction", {"key": "doomed", "fail_first": 5})

    tiny_stack.wait_for_async(timeout=10)

    outcomes = {o.request_id: o for o in tiny_stack.async_outcomes}
    assert (outcomes[recovered].attempts, outcomes[recovered].error) == (2, None)
    assert outcomes[recovered].result["attempt"] == 2
    assert outcomes[recovered].result["request_id"] == recovered  # same request id across retries
    assert outcomes[doomed].attempts == 2
    assert outcomes[doomed].error == "RuntimeError: attempt 2 of doomed fails on purpose"
    assert probe.ATTEMPTS == {"flaky": 2, "doomed": 2}


def test_handler_invokes_another_function_through_the_emulator(tiny_stack: LocalStack, probe: Any) -> None:
    # The echo handler calls boto3.client("lambda").invoke(InvocationType="Event") with no endpoint:
    # AWS_ENDPOINT_URL_LAMBDA sends it here.
    response = requests.get(f"{tiny_stack.api_url}/public?mode=async", timeout=10)
    assert response.status_code == 200

    tiny_stack.wait_for_async(timeout=10)

    assert [e["key"] for e in probe.calls_of("WorkerFunction")] == ["from-echo"]
