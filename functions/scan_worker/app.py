"""Bulk scan worker: one SQS message = a generation's start, one folder, or one batch of files."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from boxcasb.observability import logger, metrics
from boxcasb.scan.model import BulkMessage
from boxcasb.sqs_batch import SqsBatchProcessor
from boxcasb.wiring import services


class BulkRecord(SqsRecordModel):
    body: Json[BulkMessage]


processor = SqsBatchProcessor(model=BulkRecord)


def handle(record: BulkRecord) -> None:
    logger.append_keys(connection_id=record.body.job.connection_id, generation=record.body.job.generation)
    services().bulk_scan_worker().handle_message(record.body)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
