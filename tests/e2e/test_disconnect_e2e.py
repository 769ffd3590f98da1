"""Disconnecting a connection through the local stack: Box loses our webhooks and tokens, DynamoDB
keeps only the tombstone, and nothing runs for the connection afterwards."""

from __future__ import annotations

import io
import re
from typing import Any

import boto3
import pytest
import requests

from boxcasb.cli.api_client import ApiError
from boxcasb.cli.main import main as boxcasb
from boxcasb.disconnect import DisconnectService
from boxcasb.models import TokenSet
from boxcasb.wiring import services
from tests.e2e.test_sample_events import close_started, invoke
from tests.e2e.test_scan_e2e import connect, run_scan, scanning  # noqa: F401 (a fixture)
from tests.support.flows import get_connection, start_connection

PER_TABLE = ("TABLE_NAME", "ACTIVITY_TABLE_NAME", "INVENTORY_TABLE_NAME", "ALERTS_TABLE_NAME")
# Items that name a connection only by an attribute, hold no data, and expire by TTL within a day:
# a used OAuth state (10 minutes) and a processed webhook delivery (1 day).
EXPIRING_SORT_KEYS = {"OAUTH_STATE", "WEBHOOK_DELIVERY"}


def items_of(stack: Any, cid: str) -> list[tuple[str, str, str]]:
    """(table, pk, sk) of every item, in every table, that mentions the connection."""
    found = []
    for variable in PER_TABLE:
        table = boto3.resource("dynamodb").Table(stack.env[variable])
        kwargs: dict[str, Any] = {}
        while True:
            page = table.scan(**kwargs)
            for item in page["Items"]:
                if cid in repr(item) and item.get("sk") not in EXPIRING_SORT_KEYS:
                    found.append((variable, str(item["pk"]), str(item["sk"])))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found


def refused_by_box(fake_box: Any, tokens: TokenSet) -> bool:
    """Both tokens dead at the fake: the access token gets 401, the refresh grant invalid_grant."""
    me = requests.get(
        f"{fake_box.url}/2.0/users/me",
        headers={"authorization": f"Bearer {tokens.access_token.get_secret_value()}"},
        timeout=10,
    )
    grant = requests.post(
        f"{fake_box.url}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token.get_secret_value(),
            "client_id": fake_box.client_id,
            "client_secret": "fake-client-secret",
        },
        timeout=10,
    )
    return me.status_code == 401 and grant.json().get("error") == "invalid_grant"


def our_webhooks_in_box(fake_box: Any, ids: set[str]) -> set[str]:
    tenant = fake_box.tenant
    with tenant.lock:
        return ids & set(tenant.webhooks)


def synced(stack: Any, api: Any, cid: str) -> set[str]:
    api.request("POST", f"/connections/{cid}/webhooks/sync", {})
    stack.wait_for_async(timeout=300)
    webhooks = {w["webhook_id"] for w in api.request("GET", f"/connections/{cid}/webhooks")["webhooks"]}
    assert webhooks
    return webhooks


@pytest.fixture
def connected(stack: Any, scanning: None) -> tuple[Any, str]:  # noqa: F811 (the fixture)
    return connect(stack)


def test_disconnect_revokes_deletes_and_leaves_a_tombstone(
    stack: Any, fake_box: Any, connected: tuple[Any, str]
) -> None:
    api, cid = connected
    assert get_connection(api, cid)["activity"]["backfill"]["status"] == "finished"
    assert run_scan(stack, api, cid)["status"] == "complete"
    webhooks = synced(stack, api, cid)
    tokens = services().tokens.load(cid).tokens
    assert items_of(stack, cid)  # activity, inventory, scans, webhooks, tokens...

    answer = api.request("DELETE", f"/connections/{cid}")
    assert answer["connection"]["status"] == "disconnecting"
    stack.wait_for_async(timeout=300)

    shown = get_connection(api, cid)
    record = shown["disconnect"]
    assert shown["status"] == "disconnected"
    assert record["requested_by"]
    assert record["disconnected_at"]
    assert record["removed"]["tokens"] == 1
    assert record["removed"]["webhooks"] == len(webhooks)
    assert record["removed"]["activity"] > 0
    assert record["removed"]["inventory"] > 0
    assert record["removed"]["scans"] > 0
    assert refused_by_box(fake_box, tokens)
    assert {r.token_type for r in fake_box.token_revocations} >= {"refresh"}
    assert not our_webhooks_in_box(fake_box, webhooks)
    assert items_of(stack, cid) == [("TABLE_NAME", f"CONN#{cid}", "CONNECTION")]
    assert cid in {c["connection_id"] for c in api.request("GET", "/connections")["connections"]}

    # Nothing runs for it any more, a second DELETE changes nothing, and it can't be reconnected.
    scheduled = invoke(stack, "scan_scheduler.json")
    close_started(scheduled)
    assert cid not in scheduled["connections"]
    invoke(stack, "activity_poller.json")
    assert invoke(stack, "webhook_sync_daily.json")["status"] == "done"
    stack.wait_for_async(timeout=120)
    assert items_of(stack, cid) == [("TABLE_NAME", f"CONN#{cid}", "CONNECTION")]
    again = api.request("DELETE", f"/connections/{cid}")
    assert again["connection"]["disconnect"] == record
    with pytest.raises(ApiError) as refused:
        start_connection(api, {"reconnect": cid})
    assert refused.value.status == 409
    assert "start a new connection" in refused.value.message
    with pytest.raises(ApiError) as no_scan:
        api.request("POST", f"/connections/{cid}/scans", {})
    assert no_scan.value.status == 409


def test_a_crash_after_the_webhooks_is_resumed_by_the_redelivery(
    stack: Any, fake_box: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, cid = connect(stack)
    webhooks = synced(stack, api, cid)
    tokens = services().tokens.load(cid).tokens

    def crash(self: DisconnectService, connection_id: str, ports: object) -> None:
        raise RuntimeError("the Lambda died here")

    services().disconnects().request(cid, "arn:aws:iam::123456789012:user/tester")
    with monkeypatch.context() as patch:
        patch.setattr(DisconnectService, "_revoke_tokens", crash)
        with pytest.raises(RuntimeError):
            stack.invoke("DisconnectFunction", {"connection_id": cid})
    assert not our_webhooks_in_box(fake_box, webhooks)  # the step before the crash was done
    assert get_connection(api, cid)["status"] == "disconnecting"
    assert not refused_by_box(fake_box, tokens)

    answer = stack.invoke("DisconnectFunction", {"connection_id": cid})  # the redelivery
    assert answer["status"] == "disconnected"
    assert answer["removed"]["webhooks"] == len(webhooks)
    assert answer["removed"]["tokens"] == 1
    assert refused_by_box(fake_box, tokens)
    assert items_of(stack, cid) == [("TABLE_NAME", f"CONN#{cid}", "CONNECTION")]
    assert stack.invoke("DisconnectFunction", {"connection_id": cid}) == answer


def test_the_disconnect_worker_refuses_a_connection_nobody_asked_to_disconnect(stack: Any) -> None:
    assert invoke(stack, "disconnect.json") == {"status": "rejected", "reason": "unknown connection"}
    api, cid = connect(stack)
    answer = stack.invoke("DisconnectFunction", {"connection_id": cid})
    assert answer["status"] == "rejected"
    assert "no disconnect was asked" in answer["reason"]
    assert get_connection(api, cid)["status"] == "connected"


def test_the_cli_asks_first_then_waits_and_prints_what_was_removed(
    stack: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, cid = connect(stack)
    cli = ["--api-url", stack.api_url, "--region", "us-east-1", "disconnect", cid, "--timeout", "120"]
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal: nobody to confirm
    assert boxcasb(cli) == 1
    assert get_connection(api, cid)["status"] == "connected"
    assert boxcasb([*cli, "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"Disconnected {cid} at " in out
    assert re.search(r"tokens +1 removed", out)
    assert re.search(r"activity +[1-9][0-9]* removed", out)
