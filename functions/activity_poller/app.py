"""Every minute: read admin_logs_streaming for each connected enterprise from its stored position."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from boxcasb.observability import logger, metrics
from boxcasb.wiring import services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = services().stream_poller().poll_all(lambda: context.get_remaining_time_in_millis() / 1000)
    logger.info("event stream polled", extra=asdict(report))
    return asdict(report)
