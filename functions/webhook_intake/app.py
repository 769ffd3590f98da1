"""Public Box webhook intake: verifies each delivery and records it; never imports boxsdk."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from boxcasb.intake_wiring import webhook_intake
from boxcasb.observability import logger, metrics

_HEADERS = {"content-type": "application/json", "cache-control": "no-store"}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    body = _raw_body(event)
    if body is None:
        answer_status, outcome = 400, "rejected: body is not valid base64"
        extra: dict[str, Any] = {}
    else:
        answer = webhook_intake().receive(_headers(event), body)
        answer_status, outcome = answer.status, answer.outcome
        extra = {
            k: v
            for k, v in {
                "webhook_id": answer.webhook_id,
                "connection_id": answer.connection_id,
                "trigger": answer.trigger,
            }.items()
            if v
        }
    # The outcome names the reason only: never the body, a signature or a key.
    logger.info("webhook delivery", extra={"status": answer_status, "outcome": outcome, **extra})
    metrics.add_metric(
        name="WebhookAccepted" if answer_status == 200 else "WebhookRejected", unit="Count", value=1
    )
    return {"statusCode": answer_status, "headers": _HEADERS, "body": json.dumps({"outcome": outcome})}


def _raw_body(event: dict[str, Any]) -> bytes | None:
    """The bytes Box signed: API Gateway base64-encodes bodies it does not treat as text."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        return None
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
    try:
        return body.encode()
    except UnicodeEncodeError:  # a lone surrogate: no bytes Box could have signed
        return None


def _headers(event: dict[str, Any]) -> dict[str, str]:
    headers = event.get("headers") or {}
    return {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}
