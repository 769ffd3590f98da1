"""Disconnect: deletes a connection's webhooks in Box, revokes its tokens and deletes its data
(invoked asynchronously by the admin API's `DELETE /connections/{id}`; safe to run again)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from boxcasb.errors import Conflict, NotFound
from boxcasb.jobs import DisconnectRequest
from boxcasb.observability import logger, metrics
from boxcasb.wiring import services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = DisconnectRequest.model_validate(event)
    except ValidationError as exc:
        logger.error("rejected disconnect event", extra={"errors": exc.error_count()})
        return {"status": "rejected", "reason": "invalid event"}
    logger.append_keys(connection_id=request.connection_id)
    try:
        connection = services().disconnects().run(request.connection_id)
    except NotFound:
        logger.error("disconnect of an unknown connection")
        return {"status": "rejected", "reason": "unknown connection"}
    except Conflict as exc:
        logger.error("disconnect not requested", extra={"reason": str(exc)})
        return {"status": "rejected", "reason": str(exc)}
    removed = connection.disconnect.removed if connection.disconnect else {}
    return {"status": connection.status.value, "removed": removed}
