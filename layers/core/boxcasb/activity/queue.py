"""The backfill work queue on SQS."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from boxcasb.activity.backfill import BackfillMessage
from boxcasb.jobs import JobNotStarted

_BATCH = 10


class SqsBackfillQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, messages: list[BackfillMessage], delay_seconds: int = 0) -> None:
        for start in range(0, len(messages), _BATCH):
            entries = [
                {"Id": str(i), "MessageBody": m.model_dump_json(), "DelaySeconds": delay_seconds}
                for i, m in enumerate(messages[start : start + _BATCH])
            ]
            try:
                answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                raise JobNotStarted(f"the backfill queue is unreachable ({type(exc).__name__})") from exc
            if answer.get("Failed"):
                raise JobNotStarted(f"the backfill queue refused {len(answer['Failed'])} messages")
