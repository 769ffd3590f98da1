"""Scheduled scans: a new generation for every connected connection (EventBridge Scheduler)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from boxcasb.observability import logger, metrics
from boxcasb.wiring import services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcomes = services().scans().start_scheduled()
    logger.info("scheduled scans", extra={"outcomes": outcomes})
    return {"status": "done", "connections": outcomes}
