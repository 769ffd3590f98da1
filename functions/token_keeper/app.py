"""Daily: refresh Box tokens that have been idle long enough to risk expiring."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from boxcasb.observability import logger, metrics
from boxcasb.wiring import services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = services().token_keeper().run()
    metrics.add_metric(name="TokensRefreshed", unit="Count", value=report.refreshed)
    logger.info("token keeper finished", extra=asdict(report))
    return asdict(report)
