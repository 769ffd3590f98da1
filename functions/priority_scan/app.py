"""Priority scan worker: files and folders whose content or exposure just changed (FIFO queue)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from boxcasb.errors import BoxRateLimited
from boxcasb.observability import logger, metrics
from boxcasb.scan_queue import PriorityScanMessage
from boxcasb.sqs_batch import SqsFifoProcessor
from boxcasb.wiring import services

# No `model=`: after a failure the FIFO processor validates the rest outside its try, so a
# second malformed record would escape and fail the batch. Parsed in `handle` instead.
processor = SqsFifoProcessor()


def handle(record: SQSRecord) -> str:
    message = PriorityScanMessage.model_validate_json(record.body)
    logger.append_keys(connection_id=message.connection_id)
    try:
        return services().priority_scanner().handle(message)
    except BoxRateLimited as exc:
        # Not a sleep: the message comes back after Box's Retry-After, then is retried.
        services().priority_queue().delay(record.receipt_handle, exc.retry_after_seconds)
        raise


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
