"""Governance on request: puts a quarantined file back (invoked asynchronously by the admin API).

The admin API holds no Box token (it can't decrypt one), so a restore an admin asks for runs here,
with the same Governor, audit and alerts as the scan's enforcement.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from boxcasb.errors import NotFound
from boxcasb.jobs import RestoreRequest
from boxcasb.observability import logger, metrics
from boxcasb.wiring import services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = RestoreRequest.model_validate(event)
    except ValidationError as exc:
        logger.error("rejected governance event", extra={"errors": exc.error_count()})
        return {"status": "rejected", "reason": "invalid event"}
    logger.append_keys(connection_id=request.connection_id, file_id=request.file_id)
    try:
        outcome = services().restorer().restore(request.connection_id, request.file_id, request.requested_by)
    except NotFound:
        logger.error("restore for an unknown connection")
        return {"status": "rejected", "reason": "unknown connection"}
    if outcome is None:
        return {"status": "rejected", "reason": "no quarantine of this file is on record"}
    logger.info("restore", extra={"result": outcome.result, "reason": outcome.reason})
    return {"status": "done", "result": outcome.result, "reason": outcome.reason}
