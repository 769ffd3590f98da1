"""Webhook intake end to end: the fake Box POSTs signed deliveries to the local stack's public route."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boxcasb import intake_wiring
from boxcasb.scan.priority import PriorityScanner
from boxcasb.scan_queue import PriorityScanMessage
from boxcasb.webhooks.model import REGISTERED_TRIGGERS, WebhookRegistration, WebhookStatus
from boxcasb.webhooks.signature import sign
from boxcasb.wiring import services
from devstack.fake_box.deliveries import DEFAULT_WEBHOOK_KEYS
from tests.e2e.test_activity_e2e import activities, connect

ROOT = Path(__file__).resolve().parents[2]
OWNER = "bob@acme.example"


def registered_folder_webhook(stack: Any, fake_box: Any, cid: str) -> tuple[Any, Any, Any]:
    """A folder of OWNER with a file in it, and a webhook of ours on the folder (as a sync would make)."""
    tenant = fake_box.tenant
    owner = tenant.user_by_login(OWNER)
    folder = tenant.add_folder(tenant.root_of(owner), f"Projects {uuid.uuid4().hex[:6]}")
    file = tenant.add_file(tenant.add_folder(folder, "deep"), "plan.xlsx", b"q3 numbers")
    webhook = tenant.add_webhook(
        folder, stack.webhook_url, list(REGISTERED_TRIGGERS), created_by=owner, client_id=fake_box.client_id
    )
    services().store.put_webhook(
        WebhookRegistration(
            webhook_id=webhook.id,
            connection_id=cid,
            owner_user_id=owner.id,
            target_type="folder",
            target_id=folder.id,
            triggers=REGISTERED_TRIGGERS,
            address=stack.webhook_url,
            created_at=datetime.now(UTC),
        )
    )
    return owner, file, webhook


def test_a_change_by_webhook_and_by_stream_is_recorded_and_scanned_once(
    stack: Any, fake_box: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, cid = connect(stack)
    # Every connection of this session's stack polls the same fake enterprise: count this one's rescans.
    rescans: list[tuple[str, str]] = []
    handle = PriorityScanner.handle

    def counted(self: PriorityScanner, message: PriorityScanMessage) -> str:
        if message.connection_id == cid:
            rescans.append((message.item_type, message.item_id))
        return handle(self, message)

    monkeypatch.setattr(PriorityScanner, "handle", counted)
    owner, file, webhook = registered_folder_webhook(stack, fake_box, cid)
    fake_box.clear_webhook_deliveries()

    tenant_event = fake_box.tenant.add_event("UPLOAD", owner, source=file)
    assert fake_box.wait_for_deliveries(timeout=30)
    [attempt] = [a for a in fake_box.webhook_deliveries if a.webhook_id == webhook.id]
    assert (attempt.status, attempt.trigger) == (200, "FILE.UPLOADED")

    # The enterprise event stream brings the same change a little later.
    assert stack.invoke(
        "ActivityPollerFunction", json.loads((ROOT / "events/activity_poller.json").read_text())
    )
    logged = activities(api, cid, file=file.id)
    assert {e["event_id"] for e in logged} == {f"webhook:{attempt.event_id}", tenant_event.event_id}
    stack.wait_for_async(timeout=60)
    # One change, two ways in, one rescan, and the file is in the inventory.
    assert rescans.count(("file", file.id)) == 1
    record = services().inventory.get(cid, file.parent_id, file.id)
    assert record is not None
    assert record.sha1 == file.sha1

    # Box retries the same delivery: acknowledged, nothing new.
    answer = post_delivery(stack.webhook_url, attempt.body, primary=fake_box.webhook_keys[0])
    assert (answer.status_code, answer.json()) == (200, {"outcome": "replay"})
    assert len(activities(api, cid, file=file.id)) == 2


def post_delivery(url: str, body: bytes, *, primary: str) -> requests.Response:
    timestamp = datetime.now(UTC).isoformat()
    headers = {
        "content-type": "application/json",
        "box-delivery-id": str(uuid.uuid4()),
        "box-delivery-timestamp": timestamp,
        "box-signature-primary": sign(body, timestamp, primary),
        "box-signature-version": "1",
        "box-signature-algorithm": "HmacSHA256",
    }
    return requests.post(url, data=body, headers=headers, timeout=30)


def test_a_rotated_key_is_used_at_once_and_the_old_one_still_works(stack: Any, fake_box: Any) -> None:
    _, cid = connect(stack)
    owner, file, webhook = registered_folder_webhook(stack, fake_box, cid)
    old_primary = fake_box.webhook_keys[0]
    try:
        # Step 1 of the documented rotation: the new key becomes primary, the old one secondary.
        stack.set_webhook_keys("rotated-primary-key", old_primary)
        fake_box.webhook_keys = ("rotated-primary-key", None)
        fake_box.clear_webhook_deliveries()
        fake_box.tenant.add_event("SHARE", owner, source=file)
        assert fake_box.wait_for_deliveries(timeout=30)
        assert [a.status for a in fake_box.webhook_deliveries if a.webhook_id == webhook.id] == [200]
        body = json.dumps(
            {**json.loads(fake_box.webhook_deliveries[0].body), "id": str(uuid.uuid4())}
        ).encode()
        assert post_delivery(stack.webhook_url, body, primary=old_primary).status_code == 401
        signed_old = {"box-signature-secondary": sign(body, ts := datetime.now(UTC).isoformat(), old_primary)}
        headers = {
            "box-delivery-timestamp": ts,
            "box-signature-version": "1",
            "box-signature-algorithm": "HmacSHA256",
            **signed_old,
        }
        assert requests.post(stack.webhook_url, data=body, headers=headers, timeout=30).status_code == 200
    finally:
        fake_box.webhook_keys = DEFAULT_WEBHOOK_KEYS
        stack.set_webhook_keys(*DEFAULT_WEBHOOK_KEYS)
        intake_wiring.webhook_intake.cache_clear()  # a new container: the restored keys from the start


def test_box_deleting_a_webhook_marks_it_for_recreation(stack: Any, fake_box: Any) -> None:
    _, cid = connect(stack)
    _, _, webhook = registered_folder_webhook(stack, fake_box, cid)
    fake_box.clear_webhook_deliveries()
    fake_box.delete_webhook(webhook.id)
    assert fake_box.wait_for_deliveries(timeout=30)
    assert [a.status for a in fake_box.webhook_deliveries] == [200]
    [registration] = [w for w in services().store.list_webhooks(cid) if w.webhook_id == webhook.id]
    assert registration.status is WebhookStatus.RECREATE
    assert registration.reason == "Box sent WEBHOOK.DELETED"


def test_base64_bodies_are_verified_on_the_bytes_box_signed(stack: Any, fake_box: Any) -> None:
    _, cid = connect(stack)
    _owner, file, webhook = registered_folder_webhook(stack, fake_box, cid)
    body = json.dumps(
        {
            "type": "webhook_event",
            "id": str(uuid.uuid4()),
            "trigger": "FILE.RENAMED",
            "webhook": {"id": webhook.id},
            "source": {"type": "file", "id": file.id, "name": "ünïcode ✓.xlsx"},
        },
        ensure_ascii=False,
    ).encode()
    timestamp = datetime.now(UTC).isoformat()
    event = json.loads((ROOT / "events/webhook_intake_delivery.json").read_text())
    event["body"] = base64.b64encode(body).decode()
    event["isBase64Encoded"] = True
    event["headers"].update(
        {
            "box-delivery-timestamp": timestamp,
            "box-signature-primary": sign(body, timestamp, fake_box.webhook_keys[0]),
            "box-signature-secondary": "not-it",
        }
    )
    answer = stack.invoke("WebhookIntakeFunction", event)
    assert (answer["statusCode"], json.loads(answer["body"])) == (200, {"outcome": "accepted"})
    event["body"] = "***not base64***"
    assert stack.invoke("WebhookIntakeFunction", event)["statusCode"] == 400


def test_the_intake_never_loads_boxsdk(stack: Any) -> None:
    script = f"""
import json, sys
sys.path[:0] = [{str(ROOT / "layers/core")!r}, {str(ROOT / "functions/webhook_intake")!r}]
import app
event = json.load(open({str(ROOT / "events/webhook_intake_delivery.json")!r}))
answer = app.lambda_handler(event, type("Context", (), {{"function_name": "intake", "memory_limit_in_mb": 512,
    "invoked_function_arn": "arn", "aws_request_id": "r"}})())
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("box_sdk_gen", "boxsdk")
    or m in ("boxcasb.wiring", "boxcasb.token_store", "boxcasb.activity.backfill"))
print(json.dumps({{"status": answer["statusCode"], "boxsdk": loaded}}))
"""
    env = {**os.environ, **stack.env, "POWERTOOLS_METRICS_DISABLED": "true"}
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)  # noqa: S603
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The sample's signature is stale: refused. Neither boxsdk nor the other services were loaded.
    assert result == {"status": 401, "boxsdk": []}


@pytest.mark.parametrize("size", [2 * 1024 * 1024])
def test_oversized_bodies_are_refused_by_the_route(stack: Any, size: int) -> None:
    answer = requests.post(stack.webhook_url, data=b"x" * size, timeout=30)
    assert answer.status_code == 413


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "box-delivery-timestamp",
                "BOX-SIGNATURE-PRIMARY",
                "box-signature-secondary",
                "box-signature-version",
                "Box-Signature-Algorithm",
                "content-type",
                "Transfer-Encoding",
            ]
        ),
        st.text(max_size=60),
        max_size=7,
    ),
    body=st.one_of(
        st.text(max_size=300), st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())
    ),
    encoded=st.booleans(),
)
def test_hostile_events_never_raise_past_the_handler(
    stack: Any, headers: dict[str, str], body: str, encoded: bool
) -> None:
    event = json.loads((ROOT / "events/webhook_intake_delivery.json").read_text())
    event.update({"headers": headers, "body": body, "isBase64Encoded": encoded})
    answer = stack.invoke("WebhookIntakeFunction", event)
    assert 400 <= answer["statusCode"] < 500
    assert set(json.loads(answer["body"])) == {"outcome"}
