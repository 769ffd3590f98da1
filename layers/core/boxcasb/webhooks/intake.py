"""One webhook delivery in: verified, then recorded and classified once, whatever Box retries.

Order of checks, cheapest and least trusting first: size, signature and timestamp (with a
fresh read of the keys after a miss, so a just-rotated key works at once), JSON shape, a
webhook we registered, a delivery not processed yet. Nothing is written before all pass.

The effects (activity item, priority scan message) are idempotent, and the delivery is marked
processed only after them: a crash in between lets Box's retry redo them; a replay of a
processed delivery is acknowledged and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from boxcasb.activity.classify import ScanRequest, impact_of_trigger, scan_request
from boxcasb.activity.model import ActivityEvent, webhook_activity
from boxcasb.clock import Clock, utc_now
from boxcasb.webhooks.keys import WebhookKeysNotConfigured
from boxcasb.webhooks.model import LIFECYCLE_TRIGGERS, WebhookDelivery, WebhookRegistration
from boxcasb.webhooks.signature import DEFAULT_MAX_BODY_BYTES, Rejection, WebhookKeys, verify_delivery

# Box retries a delivery for about 2 hours; remember processed ones well past that.
PROCESSED_MEMORY = timedelta(days=1)

# The answer for each refusal. 401: we can't tell it came from Box (or it is no longer fresh);
# 400: it says it is something we don't speak; 413: too big to look at.
_STATUS: dict[Rejection, int] = {
    Rejection.BODY_TOO_LARGE: 413,
    Rejection.MISSING_HEADERS: 401,
    Rejection.SIGNATURE_MISMATCH: 401,
    Rejection.STALE_TIMESTAMP: 401,
    Rejection.FUTURE_TIMESTAMP: 401,
    Rejection.CONFLICTING_HEADERS: 400,
    Rejection.UNSUPPORTED_VERSION: 400,
    Rejection.UNSUPPORTED_ALGORITHM: 400,
    Rejection.UNPARSEABLE_TIMESTAMP: 400,
}


class KeySource(Protocol):
    def get(self) -> WebhookKeys: ...

    def refetch_after_miss(self) -> WebhookKeys | None: ...


class WebhookState(Protocol):
    def find_webhook(self, webhook_id: str) -> WebhookRegistration | None: ...

    def delivery_processed(self, delivery_id: str) -> bool: ...

    def remember_delivery(self, delivery_id: str, connection_id: str, expires_at: datetime) -> None: ...

    def mark_webhook_for_recreation(self, registration: WebhookRegistration, reason: str) -> None: ...


class ActivitySink(Protocol):
    def put_events(self, connection_id: str, events: Sequence[ActivityEvent]) -> int: ...


class ScanQueue(Protocol):
    def enqueue(self, connection_id: str, requests: Sequence[ScanRequest], origin: str) -> int: ...


@dataclass(frozen=True)
class IntakeAnswer:
    status: int
    outcome: str  # safe to log and to return: never holds body, keys or signatures
    webhook_id: str | None = None
    connection_id: str | None = None
    trigger: str | None = None


class WebhookIntake:
    def __init__(
        self,
        keys: KeySource,
        state: WebhookState,
        activity: Callable[[], ActivitySink],
        scans: Callable[[], ScanQueue],
        clock: Clock = utc_now,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._keys = keys
        self._state = state
        self._activity = activity  # built on first use: a forged delivery never pays for them
        self._scans = scans
        self._clock = clock
        self._max_body_bytes = max_body_bytes

    def receive(self, headers: Mapping[str, str], body: bytes) -> IntakeAnswer:
        now = self._clock()
        try:
            rejection = self._verify(headers, body, now)
        except WebhookKeysNotConfigured:
            # A deployment step is missing, not a bad delivery: Box retries, nothing is lost meanwhile.
            return IntakeAnswer(
                503, "rejected: webhook keys not configured (boxcasb configure --webhook-keys)"
            )
        if rejection is not None:
            return IntakeAnswer(_STATUS[rejection], f"rejected: {rejection.value}")
        parsed = _parse(body)
        if parsed is None:
            return IntakeAnswer(400, "rejected: not a webhook delivery")
        delivery, payload = parsed
        registration = self._state.find_webhook(delivery.webhook.id)
        if registration is None:
            return IntakeAnswer(404, "rejected: unknown webhook", webhook_id=delivery.webhook.id)
        answer = IntakeAnswer(
            200,
            "accepted",
            webhook_id=registration.webhook_id,
            connection_id=registration.connection_id,
            trigger=delivery.trigger,
        )
        if self._state.delivery_processed(delivery.id):
            return IntakeAnswer(200, "replay", answer.webhook_id, answer.connection_id, answer.trigger)
        if delivery.trigger in LIFECYCLE_TRIGGERS:
            self._state.mark_webhook_for_recreation(registration, f"Box sent {delivery.trigger}")
        else:
            self._record(registration.connection_id, payload, now)
        self._state.remember_delivery(delivery.id, registration.connection_id, now + PROCESSED_MEMORY)
        return answer

    def _verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Rejection | None:
        limit = self._max_body_bytes
        rejection = verify_delivery(headers, body, self._keys.get(), now, max_body_bytes=limit)
        if rejection is Rejection.SIGNATURE_MISMATCH:
            fresh = self._keys.refetch_after_miss()
            if fresh is not None:
                rejection = verify_delivery(headers, body, fresh, now, max_body_bytes=limit)
        return rejection

    def _record(self, connection_id: str, payload: dict[str, Any], now: datetime) -> None:
        event = webhook_activity(payload, now)
        self._activity().put_events(connection_id, [event])
        request = scan_request(
            impact_of_trigger(event.event_type),
            event.event_type,
            event.item_type,
            event.item_id,
            event.item_owner_id,
            event.created_at,
        )
        if request is not None:
            self._scans().enqueue(connection_id, [request], "webhook")


def _parse(body: bytes) -> tuple[WebhookDelivery, dict[str, Any]] | None:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's depth
        return None
    if not isinstance(payload, dict):
        return None
    try:
        return WebhookDelivery.model_validate(payload), payload
    except ValidationError:
        return None
