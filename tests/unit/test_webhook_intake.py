"""WebhookIntake on in-memory state: each refusal is the right 4xx and leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boxcasb.activity.classify import ScanRequest
from boxcasb.activity.model import ActivityEvent
from boxcasb.webhooks.intake import WebhookIntake
from boxcasb.webhooks.keys import WebhookKeysNotConfigured
from boxcasb.webhooks.model import WebhookRegistration, WebhookStatus
from boxcasb.webhooks.signature import WebhookKeys, sign

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PRIMARY, SECONDARY = "primary-key-0123456789", "secondary-key-9876543210"
WEBHOOK_ID, CONNECTION_ID = "800001", "c0ffee00-0000-4000-8000-000000000001"


class Keys:
    def __init__(self, current: WebhookKeys, after_miss: WebhookKeys | None = None) -> None:
        self.current, self.after_miss, self.refetches = current, after_miss, 0

    def get(self) -> WebhookKeys:
        return self.current

    def refetch_after_miss(self) -> WebhookKeys | None:
        self.refetches += 1
        if self.after_miss is None:
            return None
        self.current = self.after_miss
        return self.current


class State:
    def __init__(self) -> None:
        self.registrations = {
            WEBHOOK_ID: WebhookRegistration(
                webhook_id=WEBHOOK_ID,
                connection_id=CONNECTION_ID,
                owner_user_id="20000001",
                target_type="folder",
                target_id="100",
                triggers=("FILE.UPLOADED",),
                address="https://example.test/webhooks/box",
                created_at=NOW - timedelta(days=1),
            )
        }
        self.processed: dict[str, str] = {}
        self.marked: list[tuple[str, str]] = []

    def find_webhook(self, webhook_id: str) -> WebhookRegistration | None:
        return self.registrations.get(webhook_id)

    def delivery_processed(self, delivery_id: str) -> bool:
        return delivery_id in self.processed

    def remember_delivery(self, delivery_id: str, connection_id: str, expires_at: datetime) -> None:
        assert expires_at > NOW + timedelta(hours=2)  # longer than Box retries
        self.processed[delivery_id] = connection_id

    def mark_webhook_for_recreation(self, registration: WebhookRegistration, reason: str) -> None:
        self.marked.append((registration.webhook_id, reason))
        self.registrations[registration.webhook_id] = registration.model_copy(
            update={"status": WebhookStatus.RECREATE, "reason": reason}
        )


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, ActivityEvent]] = []
        self.scans: list[tuple[str, ScanRequest, str]] = []

    def put_events(self, connection_id: str, events: Sequence[ActivityEvent]) -> int:
        self.events.extend((connection_id, e) for e in events)
        return len(events)

    def enqueue(self, connection_id: str, requests: Sequence[ScanRequest], origin: str) -> int:
        self.scans.extend((connection_id, r, origin) for r in requests)
        return len(requests)


class Harness:
    def __init__(self, keys: Keys | None = None) -> None:
        self.keys = keys or Keys(WebhookKeys(PRIMARY, SECONDARY))
        self.state, self.sink = State(), Sink()
        self.intake = WebhookIntake(
            self.keys,
            self.state,
            lambda: self.sink,
            lambda: self.sink,
            clock=lambda: NOW,
            max_body_bytes=4096,
        )

    def untouched(self) -> bool:
        return not (self.state.processed or self.state.marked or self.sink.events or self.sink.scans)


def payload(trigger: str = "FILE.UPLOADED", delivery_id: str = "d-1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "webhook_event",
        "id": delivery_id,
        "created_at": "2026-11-27T03:59:30-08:00",
        "trigger": trigger,
        "webhook": {"id": WEBHOOK_ID, "type": "webhook"},
        "created_by": {"type": "user", "id": "20000002", "login": "bob@acme.example"},
        "source": {"type": "file", "id": "3000001", "name": "plan – ü.xlsx"},
        "additional_info": [],
        **extra,
    }


def signed(
    body: bytes, *, at: datetime = NOW, primary: str | None = PRIMARY, secondary: str | None = SECONDARY
) -> dict[str, str]:
    timestamp = at.astimezone(timezone_minus_8()).isoformat()
    headers = {
        "BOX-DELIVERY-ID": "attempt-1",
        "Box-Delivery-Timestamp": timestamp,
        "box-signature-version": "1",
        "BOX-SIGNATURE-ALGORITHM": "HmacSHA256",
    }
    if primary:
        headers["BOX-SIGNATURE-PRIMARY"] = sign(body, timestamp, primary)
    if secondary:
        headers["box-signature-SECONDARY"] = sign(body, timestamp, secondary)
    return headers


def timezone_minus_8() -> timezone:
    return timezone(timedelta(hours=-8))


def encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def test_a_valid_delivery_is_recorded_and_queued_once() -> None:
    h = Harness()
    body = encode(payload())
    first = h.intake.receive(signed(body), body)
    assert (first.status, first.outcome, first.connection_id) == (200, "accepted", CONNECTION_ID)
    [(connection, event)] = h.sink.events
    assert connection == CONNECTION_ID
    assert (event.event_id, event.event_type, event.item_id) == ("webhook:d-1", "FILE.UPLOADED", "3000001")
    assert event.raw["source"]["name"] == "plan – ü.xlsx"
    assert event.raw["event_type"] == "FILE.UPLOADED"
    assert [(c, r.item_type, r.item_id, r.reason, o) for c, r, o in h.sink.scans] == [
        (CONNECTION_ID, "file", "3000001", "FILE.UPLOADED", "webhook")
    ]
    # Box's retry of the same delivery (new delivery id header, new timestamp): acknowledged, no effect.
    retry = h.intake.receive(signed(body, at=NOW - timedelta(seconds=30)), body)
    assert (retry.status, retry.outcome) == (200, "replay")
    assert len(h.sink.events) == 1
    assert len(h.sink.scans) == 1


def test_view_only_triggers_are_recorded_not_queued() -> None:
    h = Harness()
    body = encode(payload("FILE.PREVIEWED"))
    assert h.intake.receive(signed(body), body).status == 200
    assert len(h.sink.events) == 1
    assert h.sink.scans == []


@pytest.mark.parametrize("trigger", ["WEBHOOK.DELETED", "NO_ACTIVE_SESSION"])
def test_lifecycle_deliveries_mark_the_webhook_for_recreation(trigger: str) -> None:
    h = Harness()
    body = encode(payload(trigger))
    assert h.intake.receive(signed(body), body).status == 200
    assert h.state.marked == [(WEBHOOK_ID, f"Box sent {trigger}")]
    assert h.sink.events == []
    assert h.sink.scans == []


@pytest.mark.parametrize(
    ("headers_of", "status", "outcome"),
    [
        (lambda b: {}, 401, "rejected: missing_signature_headers"),
        (lambda b: signed(b, primary="wrong", secondary="wrong-too"), 401, "rejected: signature_mismatch"),
        (lambda b: signed(b, at=NOW - timedelta(minutes=11)), 401, "rejected: stale_timestamp"),
        (lambda b: signed(b, at=NOW + timedelta(minutes=5)), 401, "rejected: future_timestamp"),
        (
            lambda b: {**signed(b), "box-signature-version": "2"},
            400,
            "rejected: unsupported_signature_version",
        ),
        (
            lambda b: {**signed(b), "BOX-SIGNATURE-ALGORITHM": "HmacSHA1"},
            400,
            "rejected: unsupported_signature_algorithm",
        ),
        (
            lambda b: {**signed(b), "Box-Delivery-Timestamp": "yesterday"},
            400,
            "rejected: unparseable_timestamp",
        ),
    ],
)
def test_each_refusal_has_its_status_and_changes_nothing(headers_of: Any, status: int, outcome: str) -> None:
    h = Harness()
    body = encode(payload())
    answer = h.intake.receive(headers_of(body), body)
    assert (answer.status, answer.outcome) == (status, outcome)
    assert h.untouched()


def test_an_oversized_body_is_refused_before_anything_else() -> None:
    h = Harness()
    body = encode(payload(padding="x" * 5000))
    assert h.intake.receive(signed(body), body).status == 413
    assert h.untouched()
    assert h.keys.refetches == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        encode({**payload(), "type": "event"}),
        encode({k: v for k, v in payload().items() if k != "webhook"}),
        encode({**payload(), "id": ""}),
        b"[" * 1500 + b"]" * 1500,  # deeper than the JSON parser goes
    ],
)
def test_signed_but_malformed_deliveries_are_400(body: bytes) -> None:
    h = Harness()
    answer = h.intake.receive(signed(body), body)
    assert (answer.status, answer.outcome) == (400, "rejected: not a webhook delivery")
    assert h.untouched()


def test_an_unknown_webhook_is_404_and_changes_nothing() -> None:
    h = Harness()
    body = encode({**payload(), "webhook": {"id": "999", "type": "webhook"}})
    assert h.intake.receive(signed(body), body).status == 404
    assert h.untouched()


def test_a_rotated_key_works_at_once_after_one_refetch() -> None:
    rotated = "rotated-primary-key-000"
    h = Harness(Keys(WebhookKeys(PRIMARY, None), after_miss=WebhookKeys(rotated, PRIMARY)))
    body = encode(payload())
    answer = h.intake.receive(signed(body, primary=rotated, secondary=None), body)
    assert answer.status == 200
    assert h.keys.refetches == 1
    # Signed with the old primary, now the secondary: still accepted, no further secret read.
    body2 = encode(payload(delivery_id="d-2"))
    assert h.intake.receive(signed(body2, primary=None, secondary=PRIMARY), body2).status == 200
    assert h.keys.refetches == 1


def test_without_configured_keys_the_intake_answers_503() -> None:
    class NoKeys(Keys):
        def get(self) -> WebhookKeys:
            raise WebhookKeysNotConfigured("the webhook keys secret sets neither key")

    h = Harness(NoKeys(WebhookKeys(PRIMARY, None)))
    body = encode(payload())
    assert h.intake.receive(signed(body), body).status == 503
    assert h.untouched()


header_names = st.sampled_from(
    [
        "BOX-DELIVERY-TIMESTAMP",
        "box-delivery-timestamp",
        "BOX-SIGNATURE-PRIMARY",
        "box-signature-secondary",
        "BOX-SIGNATURE-VERSION",
        "box-signature-algorithm",
        "Content-Type",
        "X-Other",
    ]
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    headers=st.dictionaries(header_names, st.text(max_size=80), max_size=8),
    body=st.one_of(
        st.binary(max_size=600), st.builds(encode, st.dictionaries(st.text(max_size=10), st.text()))
    ),
)
def test_no_unsigned_input_raises_or_has_an_effect(headers: dict[str, str], body: bytes) -> None:
    h = Harness()
    answer = h.intake.receive(headers, body)
    assert 400 <= answer.status < 500
    assert h.untouched()


@settings(max_examples=150, deadline=None)
@given(
    delivery_id=st.text(min_size=1, max_size=40),
    trigger=st.sampled_from(["FILE.UPLOADED", "SHARED_LINK.CREATED", "FILE.DOWNLOADED", "COMMENT.CREATED"]),
    name=st.text(max_size=30),
    flip=st.integers(min_value=0, max_value=10_000),
)
def test_only_the_exact_signed_bytes_are_accepted(
    delivery_id: str, trigger: str, name: str, flip: int
) -> None:
    body = encode(payload(trigger, delivery_id, source={"type": "file", "id": "42", "name": name}))
    headers = signed(body)
    tampered = bytearray(body)
    tampered[flip % len(body)] ^= 0x01
    h = Harness()
    assert h.intake.receive(headers, bytes(tampered)).status in (400, 401)
    assert h.untouched()
    assert h.intake.receive(headers, body).status == 200
    assert len(h.sink.events) == 1
