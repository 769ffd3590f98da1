"""The SQS workers' batch processors: a failed record is logged with why, never with what it held.

Powertools records a failure only at DEBUG; its own warning (when given a logger) carries the
exception text, which for a validation error includes the record's content. Here each failure
is one WARNING with the message id, the exception's type and the line that raised it: enough
to find the cause, nothing from the body. A batch made only of failures is answered with their
ids rather than raised, for the same reason: the raised error would carry every record's content.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.base import FailureResponse
from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel

from boxcasb.observability import logger, metrics

RECORD_FAILED = "record failed: SQS delivers it again"  # the log message, for whoever reads the logs


def _message_id(record: Any) -> str | None:
    for name in ("messageId", "message_id"):
        value = getattr(record, name, None)
        if isinstance(value, str):
            return value
    return record.get("messageId") if isinstance(record, dict) else None


def log_record_failure(record: Any, exception: ExceptionInfo) -> None:
    kind, _value, tb = exception
    frames = traceback.extract_tb(tb) if tb is not None else []
    where = f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else None
    logger.warning(
        RECORD_FAILED,
        extra={
            "message_id": _message_id(record),
            "error": kind.__name__ if kind else None,
            "raised_at": where,
        },
    )
    metrics.add_metric(name="RecordsFailed", unit="Count", value=1)


class SqsBatchProcessor(BatchProcessor):
    def __init__(self, model: type[SqsRecordModel] | None = None) -> None:
        super().__init__(event_type=EventType.SQS, model=model, raise_on_entire_batch_failure=False)

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        log_record_failure(record, exception)
        return super().failure_handler(record, exception)


class SqsFifoProcessor(SqsFifoPartialProcessor):
    """One message group per item: a failing item holds back only its own later messages."""

    def __init__(self) -> None:
        super().__init__(skip_group_on_error=True)
        self.raise_on_entire_batch_failure = False

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        log_record_failure(record, exception)
        return super().failure_handler(record, exception)
