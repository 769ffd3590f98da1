"""Alert notifications a publish failed to send, sent again (EventBridge Scheduler, every 15 min).

A scan skips unchanged files, so an alert whose SNS publish failed may never be seen by another
inspection: this sweep is what makes "one notification per opening" hold after an SNS outage.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from boxcasb.observability import logger, metrics
from boxcasb.wiring import services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    svc = services()
    sent = {
        c.connection_id: svc.alerts.retry_notifications(c.connection_id) for c in svc.store.list_connections()
    }
    total = sum(sent.values())
    logger.info("alert notifications retried", extra={"sent": total})
    metrics.add_metric(name="AlertNotificationsRetried", unit="Count", value=total)
    return {"status": "done", "sent": sent}
