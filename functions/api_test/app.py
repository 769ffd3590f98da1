"""Test API worker: invoked asynchronously after connect and on demand."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from boxcasb.errors import NotFound
from boxcasb.jobs import ApiTestRequest
from boxcasb.observability import logger, metrics
from boxcasb.wiring import services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = ApiTestRequest.model_validate(event)
    except ValidationError as exc:
        # Retrying a malformed event cannot help: reject it without side effects.
        logger.error("rejected api test event", extra={"errors": exc.error_count()})
        return {"status": "rejected", "reason": "invalid event"}
    logger.append_keys(connection_id=request.connection_id)
    try:
        report = services().api_tests().run(request.connection_id)
    except NotFound:
        logger.error("api test for an unknown connection")
        return {"status": "rejected", "reason": "unknown connection"}
    return {"status": "done", "outcome": report.outcome.value, "box_calls": report.box_calls}
