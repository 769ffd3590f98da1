"""Our own functions dying mid-way: an invocation killed right after one of its AWS writes took effect.

A botocore hook on the session the handlers' clients come from. For each invocation of a
chosen function it decides once, from a seeded generator, whether this invocation dies and
after which of its writes (1st to `max_writes`th); when that write has succeeded, the hook
raises instead of returning. The write stays done and the caller never learns it: what a
Lambda killed by its timeout or an out-of-memory leaves behind. Recovery is then the
platform's (SQS redelivery, an async retry, the next scheduled run) plus our idempotence.

Conditional-write conflicts are counted, not forged: they arise when a retried or
redelivered invocation repeats a write the dead one made. A forged conflict (one no writer
caused) would model nothing DynamoDB does.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from devstack.handlers import current_invocation

# The calls after which dying leaves state behind.
WRITES = frozenset(
    {
        "dynamodb.PutItem",
        "dynamodb.UpdateItem",
        "dynamodb.DeleteItem",
        "dynamodb.BatchWriteItem",
        "dynamodb.TransactWriteItems",
        "sqs.SendMessage",
        "sqs.SendMessageBatch",
        "sqs.DeleteMessage",
        "sns.Publish",
    }
)
CONFLICTS = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})


class InjectedCrash(RuntimeError):
    """The chaos run killed this invocation after a write took effect."""


class FunctionCrashes:
    def __init__(self, functions: frozenset[str], rate: float, seed: int, *, max_writes: int = 6) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError("rate must be at least 0 and below 1")
        if max_writes < 1:
            raise ValueError("max_writes must be at least 1")
        self._functions = functions
        self._rate = rate
        self._max_writes = max_writes
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._plans: dict[str, int | None] = {}  # request id -> the write it dies after (None: lives)
        self._writes: Counter[str] = Counter()  # request id -> writes done so far
        self.crashes: Counter[str] = Counter()  # function -> invocations killed
        self.conflicts: Counter[str] = Counter()  # function -> conditional writes refused

    def attach(self, session: Any) -> None:
        """Hook a boto3 session; clients made from it afterwards carry the hook."""
        session.events.register("after-call", self._after_call)

    def stop(self) -> None:
        """No more crashes from now on (the counts stay)."""
        with self._lock:
            self._rate = 0.0
            self._plans.clear()

    def _after_call(self, http_response: Any, parsed: dict[str, Any], event_name: str, **_: Any) -> None:
        running = current_invocation()
        if running is None or running[0] not in self._functions:
            return
        function, request_id = running
        operation = event_name.removeprefix("after-call.")
        with self._lock:
            if parsed.get("Error", {}).get("Code") in CONFLICTS:
                self.conflicts[function] += 1
                return
            if operation not in WRITES or not 200 <= http_response.status_code < 300:
                return
            if request_id not in self._plans:
                dies = self._rate > 0 and self._random.random() < self._rate
                self._plans[request_id] = self._random.randint(1, self._max_writes) if dies else None
            self._writes[request_id] += 1
            if self._plans[request_id] != self._writes[request_id]:
                return
            self.crashes[function] += 1
        raise InjectedCrash(f"{function} killed after write {self._writes[request_id]} ({operation})")
