"""The priority scan queue (SQS FIFO): one message per item, duplicates dropped by SQS for 5 minutes."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from boxcasb.activity.classify import ScanRequest
from boxcasb.fan_out import side_by_side

_BATCH = 10  # SendMessageBatch's limit


class PriorityScanMessage(BaseModel):
    """What the scan worker receives for an item whose content or exposure changed."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    item_type: str = Field(pattern=r"^(file|folder)$")
    item_id: str = Field(min_length=1, max_length=64)
    reason: str  # the Box event type or webhook trigger
    origin: str = Field(pattern=r"^(event_stream|backfill|webhook|scan)$")
    owner_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")  # act as them; None: the admin


def _change_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


class PriorityScanQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def enqueue(self, connection_id: str, requests: Sequence[ScanRequest], origin: str) -> int:
        now = datetime.now(UTC)
        changes = [_change_key(r.changed_at or now) for r in requests]
        messages = [
            PriorityScanMessage(
                connection_id=connection_id,
                item_type=r.item_type,
                item_id=r.item_id,
                reason=r.reason,
                origin=origin,
                owner_id=r.owner_id,
            )
            for r in requests
        ]
        batches = []
        for start in range(0, len(messages), _BATCH):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": m.model_dump_json(),
                    # One group per item: items scan in parallel, one item's changes in order.
                    "MessageGroupId": f"{connection_id}:{m.item_type}:{m.item_id}",
                    # One change, however many ways it arrives (the stream's repeats, a webhook):
                    # one scan. SQS drops a repeated id for 5 minutes even after the first was
                    # processed, so the change's time is in it: a later change is scanned again.
                    "MessageDeduplicationId": f"{connection_id}:{m.item_type}:{m.item_id}:{change}",
                }
                for i, (m, change) in enumerate(
                    zip(messages[start : start + _BATCH], changes[start : start + _BATCH], strict=True)
                )
            ]
            batches.append(functools.partial(self._send_batch, entries))
        # Side by side: each message is its own item's group, so no order holds between batches.
        side_by_side(batches)
        return len(messages)

    def _send_batch(self, entries: list[dict[str, str]]) -> None:
        answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
        if answer.get("Failed"):
            codes = sorted({f.get("Code", "?") for f in answer["Failed"]})
            raise RuntimeError(f"priority queue refused {len(answer['Failed'])} messages: {codes}")

    def delay(self, receipt_handle: str, seconds: float) -> None:
        """Hide a received message for `seconds` (a 429's Retry-After): FIFO queues take no DelaySeconds."""
        timeout = max(0, min(43_200, math.ceil(seconds)))
        self._sqs.change_message_visibility(
            QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=timeout
        )
