"""Webhook intake: warm latency per delivery and AWS requests per delivery, through the local stack.

Deliveries are signed API Gateway events handed to the handler in-process (as Lambda would,
minus the network), against moto. A mix like Box's: content changes (queued for a scan),
previews (recorded only), Box's retries of processed deliveries (replays), and forgeries
(refused before any AWS call). Latency here includes moto's round trips on loopback, which
are slower than DynamoDB's within a region but of the same count.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import emit
from bench.activity_ingest import _count_handlers_calls
from devstack.fake_box.deliveries import DEFAULT_WEBHOOK_KEYS
from devstack.stack import LocalStack

if TYPE_CHECKING:
    from boxcasb.webhooks.model import WebhookRegistration

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DELIVERIES = 2000
CONNECTION_ID = "0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
WEBHOOK_ID = "900001"
MIX = (("upload", 0.6), ("preview", 0.2), ("replay", 0.1), ("forged", 0.1))


def _delivery(kind: str, sent: list[bytes], rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
    """A delivery of `kind`: its body and the signature headers Box would send with it."""
    from boxcasb.webhooks.signature import sign

    if kind == "replay" and sent:
        body = rng.choice(sent)
    else:
        trigger = "FILE.PREVIEWED" if kind == "preview" else "FILE.UPLOADED"
        body = json.dumps(
            {
                "type": "webhook_event",
                "id": str(uuid.uuid4()),
                "created_at": datetime.now(UTC).isoformat(),
                "trigger": trigger,
                "webhook": {"id": WEBHOOK_ID, "type": "webhook"},
                "created_by": {"type": "user", "id": "20000002", "login": "bob@acme.example"},
                "source": {"type": "file", "id": str(rng.randint(1, 10**9)), "name": "report.xlsx"},
                "additional_info": [],
            }
        ).encode()
        if kind != "forged":  # Box only ever retries what it sent
            sent.append(body)
    timestamp = datetime.now(UTC).isoformat()
    key = "not-the-key" if kind == "forged" else DEFAULT_WEBHOOK_KEYS[0]
    return (
        kind,
        body,
        {
            "box-delivery-timestamp": timestamp,
            "box-signature-primary": sign(body, timestamp, key),
            "box-signature-version": "1",
            "box-signature-algorithm": "HmacSHA256",
        },
    )


def _event(template: dict[str, Any], body: bytes, signed: dict[str, str]) -> dict[str, Any]:
    """The API Gateway event for a delivery: the sample event's headers, this delivery's signature."""
    headers = {
        **template["headers"],
        **signed,
        "box-delivery-id": str(uuid.uuid4()),
        "box-signature-secondary": "unused",
        "content-length": str(len(body)),
    }
    return {**template, "headers": headers, "body": body.decode(), "isBase64Encoded": False}


def _registration(address: str) -> WebhookRegistration:
    from boxcasb.webhooks.model import REGISTERED_TRIGGERS, WebhookRegistration

    return WebhookRegistration(
        webhook_id=WEBHOOK_ID,
        connection_id=CONNECTION_ID,
        owner_user_id="20000002",
        target_type="folder",
        target_id="100",
        triggers=REGISTERED_TRIGGERS,
        address=address,
        created_at=datetime.now(UTC),
    )


def run(deliveries: int = DEFAULT_DELIVERIES, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    template = json.loads((ROOT / "events/webhook_intake_delivery.json").read_text())
    overrides = {"LogLevel": "WARNING"}
    with LocalStack(ROOT / "template.yaml", poll_queues=False, parameter_overrides=overrides) as stack:
        from boxcasb.wiring import services

        calls = _count_handlers_calls(stack)
        services().store.put_webhook(_registration(stack.webhook_url))
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        sent: list[bytes] = []
        warm = _event(template, *_delivery("upload", sent, rng)[1:])
        stack.invoke("WebhookIntakeFunction", warm)  # the cold start is import_time's business
        calls.calls.clear()
        latencies: dict[str, list[float]] = {k: [] for k in kinds}
        outcomes: Counter[str] = Counter()
        by_kind_calls: dict[str, Counter[str]] = {k: Counter() for k in kinds}
        for _ in range(deliveries):
            kind, body, signed = _delivery(rng.choices(kinds, weights)[0], sent, rng)
            event = _event(template, body, signed)
            before = Counter(calls.calls)
            started = time.perf_counter()
            answer = stack.invoke("WebhookIntakeFunction", event)
            latencies[kind].append((time.perf_counter() - started) * 1000)
            outcomes[f"{kind}: {answer['statusCode']} {json.loads(answer['body'])['outcome']}"] += 1
            by_kind_calls[kind].update(Counter(calls.calls) - before)
    everything = [ms for values in latencies.values() for ms in values]
    domain = _domain_only(deliveries, rng)
    return {
        "deliveries": deliveries,
        "mix": dict(MIX),
        "outcomes": dict(outcomes),
        "warm_latency_ms": {
            "all": _percentiles(everything),
            **{kind: _percentiles(values) for kind, values in latencies.items() if values},
        },
        "aws_requests_per_delivery": {
            kind: {op: round(n / len(latencies[kind]), 3) for op, n in sorted(counted.items())}
            for kind, counted in by_kind_calls.items()
            if latencies[kind]
        },
        "domain_only_latency_ms": domain,
        "note": "warm_latency: in-process handler against moto on loopback (moto's latency included; "
        "it grows with the tables it holds). domain_only: the same deliveries through WebhookIntake "
        "with in-memory state, queue and log: verification, parsing, classification, our code only.",
    }


class _Memory:
    """In-memory stand-ins for the state table, the activity table and the queue."""

    def __init__(self, registration: Any) -> None:
        self._registration = registration
        self.processed: set[str] = set()

    def find_webhook(self, webhook_id: str) -> Any:
        return self._registration if webhook_id == WEBHOOK_ID else None

    def delivery_processed(self, delivery_id: str) -> bool:
        return delivery_id in self.processed

    def remember_delivery(self, delivery_id: str, connection_id: str, expires_at: datetime) -> None:
        self.processed.add(delivery_id)

    def mark_webhook_for_recreation(self, registration: Any, reason: str) -> None:
        raise AssertionError("no lifecycle deliveries in this mix")

    def put_events(self, connection_id: str, events: Any) -> int:
        return len(events)

    def enqueue(self, connection_id: str, requests: Any, origin: str) -> int:
        return len(requests)


class _Keys:
    def get(self) -> Any:
        from boxcasb.webhooks.signature import WebhookKeys

        return WebhookKeys(*DEFAULT_WEBHOOK_KEYS)

    def refetch_after_miss(self) -> None:
        return None


def _domain_only(deliveries: int, rng: random.Random) -> dict[str, dict[str, float]]:
    from boxcasb.webhooks.intake import WebhookIntake

    memory = _Memory(_registration("https://example.test/webhooks/box"))
    intake = WebhookIntake(_Keys(), memory, lambda: memory, lambda: memory)
    kinds, weights = [k for k, _ in MIX], [w for _, w in MIX]
    sent: list[bytes] = []
    latencies: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(deliveries):
        kind, body, signed = _delivery(rng.choices(kinds, weights)[0], sent, rng)
        started = time.perf_counter()
        intake.receive(signed, body)
        latencies[kind].append((time.perf_counter() - started) * 1000)
    everything = [ms for values in latencies.values() for ms in values]
    return {
        "all": _percentiles(everything, 3),
        **{kind: _percentiles(values, 3) for kind, values in latencies.items() if values},
    }


def _percentiles(values: list[float], digits: int = 2) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), digits),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], digits),
        "max": round(ordered[-1], digits),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--deliveries", type=int, default=DEFAULT_DELIVERIES)
    return run(parser.parse_args(argv).deliveries)


if __name__ == "__main__":
    emit(main)
