"""SQS event source: real batches from moto, partial batch failures, redelivery and the DLQ."""

from __future__ import annotations

import time
from typing import Any

from devstack.stack import LocalStack


def test_partial_batch_failure_deletes_only_successes(tiny_stack: LocalStack, probe: Any) -> None:
    sqs = tiny_stack.client("sqs")
    queue_url = tiny_stack.env["QUEUE_URL"]
    dlq_url = tiny_stack.resources["Dlq"].ref
    for body in ("ok-1", "bad", "ok-2"):
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": body}},
        )

    # "bad" is reported failed each time: back after VisibilityTimeout (1 s), then to the DLQ
    # on the receive after maxReceiveCount (2), which is moto's doing, as it would be SQS's.
    tiny_stack.wait_for_async(timeout=15)

    records = probe.calls_of("ConsumerFunction")
    bodies = [r["body"] for r in records]
    assert sorted(bodies) == ["bad", "bad", "ok-1", "ok-2"]
    record = next(r for r in records if r["body"] == "ok-1")
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == tiny_stack.resources["Queue"].attributes["Arn"]
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "ok-1"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    assert [m["Body"] for m in dead] == ["bad"]


def test_whole_batch_is_retried_when_the_handler_raises(tiny_stack: LocalStack, probe: Any) -> None:
    sqs = tiny_stack.client("sqs")
    queue_url = tiny_stack.env["QUEUE_URL"]
    original = probe.record
    failures = {"left": 1}

    def fail_once(function_name: str, event: Any) -> None:
        if function_name == "ConsumerFunction" and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("consumer crashed")
        original(function_name, event)

    probe.record = fail_once
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody="retry-me")
        deadline = time.monotonic() + 10
        while not probe.calls_of("ConsumerFunction") and time.monotonic() < deadline:
            time.sleep(0.05)
        tiny_stack.wait_for_async(timeout=10)
    finally:
        probe.record = original

    (record,) = probe.calls_of("ConsumerFunction")
    assert record["body"] == "retry-me"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
