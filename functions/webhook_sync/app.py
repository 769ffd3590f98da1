"""Webhook sync worker: invoked asynchronously by `POST /connections/{id}/webhooks/sync`, and daily."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from boxcasb.errors import NotFound
from boxcasb.jobs import WebhookSyncRequest
from boxcasb.observability import logger, metrics
from boxcasb.wiring import services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("source") == "aws.scheduler":
        reports = services().webhook_sync().run_due()
        outcomes = {cid: report.outcome.value for cid, report in reports.items()}
        logger.info("daily webhook sync finished", extra={"connections": len(outcomes)})
        return {"status": "done", "outcomes": outcomes}
    try:
        request = WebhookSyncRequest.model_validate(event)
    except ValidationError as exc:
        logger.error("rejected webhook sync event", extra={"errors": exc.error_count()})
        return {"status": "rejected", "reason": "invalid event"}
    logger.append_keys(connection_id=request.connection_id)
    try:
        report = services().webhook_sync().run(request.connection_id)
    except NotFound:
        logger.error("webhook sync for an unknown connection")
        return {"status": "rejected", "reason": "unknown connection"}
    return {"status": "done", "outcome": report.outcome.value}
