"""The webhook intake's own composition root: what a delivery needs and nothing more.

The public intake's cold start is on Box's clock (it wants an answer within 30 s, and a slow
first answer delays every delivery queued behind it). `boxcasb.wiring` imports every service
(backfill, Test API, tokens, KMS, ...); this module imports the verifier, the state and activity
stores and the scan queue only: about 75 ms less per cold start (docs/performance.md).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from boxcasb import aws_clients
from boxcasb.activity.store import ActivityStore
from boxcasb.scan_queue import PriorityScanQueue
from boxcasb.settings import SettingsError, get_settings
from boxcasb.state_store import StateStore
from boxcasb.webhooks.intake import WebhookIntake
from boxcasb.webhooks.keys import WebhookKeyProvider


@cache
def webhook_intake() -> WebhookIntake:
    """No token key, no Box app secret, no boxsdk: the intake's IAM role can't reach them either."""
    settings = get_settings()
    if not settings.webhook_keys_secret_arn:
        raise SettingsError("invalid or missing environment variables: WEBHOOK_KEYS_SECRET_ARN")
    return WebhookIntake(
        WebhookKeyProvider(aws_clients.client("secretsmanager"), settings.webhook_keys_secret_arn),
        StateStore(aws_clients.table(settings.table_name)),
        lambda: ActivityStore(
            aws_clients.table(settings.activity_table_name),
            timedelta(days=settings.activity_retention_days),
        ),
        lambda: PriorityScanQueue(aws_clients.client("sqs"), settings.priority_scan_queue_url),
        max_body_bytes=settings.webhook_max_body_bytes,
    )
