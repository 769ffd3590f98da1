"""Webhooks at our edge: the deliveries Box sends, the webhooks we registered, and a sync's report."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from boxcasb.activity.classify import CONTENT_OR_EXPOSURE_TRIGGERS

# What we ask Box to send: every trigger that changes content or exposure, and the lifecycle one
# that tells us a webhook is gone. Views and downloads are left to the event stream: a delivery
# for each would cost an invocation and change nothing to scan.
REGISTERED_TRIGGERS = (*sorted(CONTENT_OR_EXPOSURE_TRIGGERS), "WEBHOOK.DELETED")
# Deliveries that say the webhook no longer works: it must be created again.
LIFECYCLE_TRIGGERS = frozenset({"WEBHOOK.DELETED", "NO_ACTIVE_SESSION"})


class WebhookStatus(StrEnum):
    ACTIVE = "active"
    RECREATE = "recreate"  # Box deleted it or its creator's session died: the next sync re-creates it


class WebhookRegistration(BaseModel):
    """One webhook we created in Box, on a folder, as the folder's owner."""

    model_config = ConfigDict(frozen=True)

    webhook_id: str = Field(min_length=1, max_length=64)
    connection_id: str
    owner_user_id: str  # the As-User it was created as (Box counts 1000 per app per user)
    target_type: str = Field(pattern=r"^(file|folder)$")
    target_id: str
    target_name: str | None = None
    triggers: tuple[str, ...]
    address: str
    created_at: datetime
    status: WebhookStatus = WebhookStatus.ACTIVE
    reason: str | None = None  # why it must be re-created


class SyncOutcome(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class UncoveredTarget(BaseModel):
    """Something a webhook should cover and does not, and why (the event poller still does)."""

    model_config = ConfigDict(frozen=True)

    user_id: str | None = None
    user_login: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    reason: str


class WebhookSyncReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: SyncOutcome
    started_at: datetime
    finished_at: datetime | None = None
    created: int = 0
    adopted: int = 0  # existed in Box already (409): recorded as ours
    kept: int = 0
    recreated: int = 0
    removed: int = 0
    uncovered: list[UncoveredTarget] = Field(default_factory=list)
    error: str | None = None


class WebhookSource(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    type: str


class WebhookRef(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1, max_length=64)


class WebhookDelivery(BaseModel):
    """The JSON body of a V2 webhook delivery (only what we rely on is required)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(pattern=r"^webhook_event$")
    id: str = Field(min_length=1, max_length=128)  # the same across Box's retries
    created_at: datetime | None = None
    trigger: str = Field(min_length=1, max_length=100)
    webhook: WebhookRef
    created_by: dict[str, Any] | None = None
    source: WebhookSource | None = None
