"""Backfill worker: one SQS message = plan, resume, or read one window of admin_logs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from boxcasb.activity.backfill import BackfillMessage
from boxcasb.observability import logger, metrics
from boxcasb.sqs_batch import SqsBatchProcessor
from boxcasb.wiring import services


class BackfillRecord(SqsRecordModel):
    body: Json[BackfillMessage]


processor = SqsBatchProcessor(model=BackfillRecord)


def handle(record: BackfillRecord, lambda_context: LambdaContext) -> str:
    message = record.body
    logger.append_keys(connection_id=message.connection_id)
    return services().backfill().handle(message, lambda: lambda_context.get_remaining_time_in_millis() / 1000)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
