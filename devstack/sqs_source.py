"""SQS event source mappings: poll a moto queue, invoke with a real SQS batch, delete what succeeded.

Redelivery and dead-lettering are left to the queue itself (VisibilityTimeout,
RedrivePolicy on moto), exactly as with Lambda's poller: a failed message is simply
not deleted, so it comes back after the visibility timeout and moves to the DLQ
after maxReceiveCount receives.
"""

from __future__ import annotations

import base64
import logging
import random
import sys
import threading
import traceback
from collections import deque
from collections.abc import Sequence
from typing import Any

from devstack.handlers import LocalFunction
from devstack.local_aws import REGION
from devstack.resources import aws_client
from devstack.template_model import SqsSource

log = logging.getLogger(__name__)

_RECEIVE_LIMIT = 10  # SQS hands out at most 10 messages per ReceiveMessage


class SqsPoller:
    def __init__(
        self,
        source: SqsSource,
        function: LocalFunction,
        queue_url: str,
        queue_arn: str,
        endpoint_url: str,
        *,
        wait_seconds: int = 1,
    ) -> None:
        self.source = source
        self._function = function
        self.queue_url = queue_url
        self._queue_arn = queue_arn
        self._client = aws_client("sqs", endpoint_url)
        self.wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._busy = threading.Lock()  # held while a received batch is handled (not while long-polling)
        # The last messages left on the queue, so a test that times out waiting can say which.
        self._kept: deque[str] = deque(maxlen=5)
        self._redeliver_rate = 0.0
        self._random = random.Random(0)
        self.redelivered = 0
        self._thread = threading.Thread(
            target=self._loop, name=f"devstack-sqs-{source.function_id}-{source.event_name}", daemon=True
        )

    def redeliver(self, rate: float, seed: int) -> None:
        """Chaos: put this share of successfully handled messages back instead of deleting them.

        What Lambda does when its delete fails or the invocation times out after the work:
        the same message (same id, receive count up) comes again, at once here.
        """
        if not 0.0 <= rate < 1.0:
            raise ValueError("rate must be at least 0 and below 1")
        self._redeliver_rate = rate
        self._random.seed(seed)

    def start(self) -> None:
        self._thread.start()

    def signal_stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join()

    def is_drained(self) -> bool:
        """No batch in hand and nothing visible, in flight or delayed on the queue."""
        if self._busy.locked():
            return False
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        counts = self._client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)[
            "Attributes"
        ]
        return all(int(counts.get(name, "0")) == 0 for name in names) and not self._busy.locked()

    def describe(self) -> str:
        """The queue's counts and the last messages a handler failed on: for a wait that timed out."""
        counts = self._client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["All"])[
            "Attributes"
        ]
        summary = ", ".join(
            f"{name.removeprefix('ApproximateNumberOf')}={counts.get(name, '0')}"
            for name in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )
        kept = "; ".join(self._kept) or "none"
        return f"{self.queue_url} ({summary}, handling={self._busy.locked()}, last failed: {kept})"

    def poll_once(self) -> int:
        """Receive one batch (up to BatchSize), invoke, delete the successes; returns the batch size."""
        messages = self._receive()
        if messages:
            # Until deleted, received messages count as "not visible" on the queue, so
            # is_drained() sees them even before this lock is taken.
            with self._busy:
                self._handle(messages)
        return len(messages)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("devstack: polling %s failed", self.queue_url)
                self._stop.wait(1.0)

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while len(messages) < self.source.batch_size:
            batch = self._client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(_RECEIVE_LIMIT, self.source.batch_size - len(messages)),
                # Long-poll only for the first message; then take what is there and go.
                WaitTimeSeconds=0 if messages else self.wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            messages.extend(batch)
        return messages

    def _handle(self, messages: Sequence[dict[str, Any]]) -> None:
        event = {"Records": [self._record(message) for message in messages]}
        try:
            result = self._function.invoke(event)
        except Exception:
            # The whole batch failed: nothing is deleted, every message comes back later.
            print(
                f"devstack: {self._function.name} failed on a batch from {self.queue_url}:", file=sys.stderr
            )
            traceback.print_exc()
            self._keep(messages, "the whole batch raised")
            return
        failed = self._failed_ids(result, messages)
        self._keep([m for m in messages if m["MessageId"] in failed], "reported as a batch item failure")
        done = [m for m in messages if m["MessageId"] not in failed]
        if self._redeliver_rate:
            again = [m for m in done if self._random.random() < self._redeliver_rate]
            for message in again:
                self._client.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            self.redelivered += len(again)
            done = [m for m in done if m not in again]
        for start in range(0, len(done), _RECEIVE_LIMIT):
            chunk = done[start : start + _RECEIVE_LIMIT]
            self._client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def _keep(self, messages: Sequence[dict[str, Any]], why: str) -> None:
        for message in messages:
            self._kept.append(f"{why}: {message.get('Body', '')[:300]}")

    def _failed_ids(self, result: Any, messages: Sequence[dict[str, Any]]) -> set[str]:
        """Message ids to keep, following Lambda's ReportBatchItemFailures rules."""
        if not self.source.report_batch_item_failures:
            return set()  # without the setting, a normal return means the whole batch succeeded
        if not isinstance(result, dict) or not result.get("batchItemFailures"):
            return set()
        all_ids = {m["MessageId"] for m in messages}
        failed: set[str] = set()
        for item in result["batchItemFailures"]:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in all_ids:
                # Lambda treats an unusable failure report as a failure of the whole batch.
                log.error("devstack: invalid batchItemFailures entry %r: the whole batch is retried", item)
                return all_ids
            failed.add(identifier)
        return failed

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: _message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": REGION,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute
