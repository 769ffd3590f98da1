"""Public OAuth 2.0 redirect target: Box sends the admin's browser here after Allow or Deny."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from boxcasb.observability import logger, metrics
from boxcasb.pages import render_outcome
from boxcasb.wiring import services

# The page shows who connected: nobody may frame it, cache it, or learn the URL it came from.
_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    params = event.get("queryStringParameters") or {}
    outcome = (
        services()
        .connect()
        .complete(
            state=params.get("state"),
            code=params.get("code"),
            error=params.get("error"),
            error_description=params.get("error_description"),
        )
    )
    metrics.add_metric(name=f"OAuthCallback_{outcome.result.value}", unit="Count", value=1)
    status, html = render_outcome(outcome)
    return {"statusCode": status, "headers": _HEADERS, "body": html}
