"""The bulk scan queue on SQS (standard): generation work, one job per message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from boxcasb.scan.model import BulkJob, BulkMessage

_BATCH = 10  # SendMessageBatch's limit
MAX_DELAY_SECONDS = 900  # SQS's limit on DelaySeconds


class BulkScanQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, jobs: Sequence[BulkJob]) -> None:
        self.send_messages([BulkMessage(job=job) for job in jobs])

    def send_messages(self, messages: Sequence[BulkMessage], delay_seconds: int = 0) -> None:
        delay = max(0, min(MAX_DELAY_SECONDS, delay_seconds))
        for start in range(0, len(messages), _BATCH):
            entries = [
                {"Id": str(i), "MessageBody": m.model_dump_json(), "DelaySeconds": delay}
                for i, m in enumerate(messages[start : start + _BATCH])
            ]
            answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            if answer.get("Failed"):
                codes = sorted({f.get("Code", "?") for f in answer["Failed"]})
                raise RuntimeError(f"the bulk scan queue refused {len(answer['Failed'])} messages: {codes}")
