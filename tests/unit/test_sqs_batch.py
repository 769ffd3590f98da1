"""The SQS workers' processors log why a record failed, and never what it held."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, Json

from boxcasb.sqs_batch import RECORD_FAILED, SqsBatchProcessor, SqsFifoProcessor
from tests.support.log_tap import LogTap

PLANTED = "BOXTOKEN-planted-7f3a9c"


class Body(BaseModel):
    n: int


class Record(SqsRecordModel):
    body: Json[Body]


def sqs_record(message_id: str, body: str, group: str = "g1") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": "rh-" + message_id,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1700000000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1700000000000",
            "MessageGroupId": group,
            "MessageDeduplicationId": message_id,
            "SequenceNumber": "1",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q.fifo",
        "awsRegion": "us-east-1",
    }


def failures(log_text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == RECORD_FAILED]


def test_a_failed_record_is_logged_with_its_id_error_and_line_but_not_its_content(log_tap: LogTap) -> None:
    def handle(record: Record) -> None:
        if record.body.n == 2:
            raise RuntimeError(f"refused {PLANTED}")

    event = {
        "Records": [
            sqs_record("m1", json.dumps({"n": 1})),
            sqs_record("m2", json.dumps({"n": 2})),
            sqs_record("m3", json.dumps({"n": PLANTED})),  # fails validation, quoting its input
        ]
    }
    log_tap.clear()
    result = process_partial_response(event=event, record_handler=handle, processor=SqsBatchProcessor(Record))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    logged = failures(log_tap.text())
    assert [(f["message_id"], f["error"]) for f in logged] == [
        ("m2", "RuntimeError"),
        ("m3", "ValidationError"),
    ]
    assert logged[0]["raised_at"].startswith("test_sqs_batch.py:")
    assert PLANTED not in log_tap.text()


def test_a_batch_of_only_failures_is_answered_not_raised(log_tap: LogTap) -> None:
    event = {"Records": [sqs_record("m1", PLANTED), sqs_record("m2", "{}")]}
    result = process_partial_response(
        event=event, record_handler=lambda r: None, processor=SqsBatchProcessor(Record)
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert PLANTED not in log_tap.text()


def test_the_fifo_processor_logs_the_failure_and_the_group_it_holds_back(log_tap: LogTap) -> None:
    def handle(record: SQSRecord) -> None:
        if record.body == "bad":
            raise ValueError(PLANTED)

    event = {
        "Records": [
            sqs_record("m1", "bad", group="a"),
            sqs_record("m2", "good", group="a"),
            sqs_record("m3", "good", group="b"),
        ]
    }
    log_tap.clear()
    result = process_partial_response(event=event, record_handler=handle, processor=SqsFifoProcessor())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert [(f["message_id"], f["error"]) for f in failures(log_tap.text())] == [
        ("m1", "ValueError"),
        ("m2", "SQSFifoMessageGroupCircuitBreakerError"),
    ]
    assert PLANTED not in log_tap.text()
