"""Connect + Test API over real HTTP: signed admin API, fake Box consent, public callback, async test."""

from __future__ import annotations

import html
import secrets
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
from boto3.dynamodb.conditions import Attr

from boxcasb.cli.api_client import ApiError
from boxcasb.jobs import AsyncInvoker
from boxcasb.wiring import services
from devstack.browser import CallbackPage, consent
from tests.support.flows import admin_api, get_connection, start_connection

ADMIN, COADMIN, PLAIN = "admin@acme.example", "coadmin@acme.example", "alice@acme.example"


def connect(stack: Any, login: str, decision: str = "allow") -> tuple[dict[str, Any], CallbackPage]:
    api = admin_api(stack.api_url)
    started = start_connection(api)
    page = consent(started["authorize_url"], login, decision)
    stack.wait_for_async(timeout=30)
    return get_connection(api, started["connection_id"]), page


def checks_of(connection: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in connection["last_test"]["checks"]}


def items_for(table: Any, connection_id: str) -> list[dict[str, Any]]:
    return table.scan(FilterExpression=Attr("pk").eq(f"CONN#{connection_id}"))["Items"]


def test_authorize_url_carries_a_single_use_state_and_our_callback(stack: Any, fake_box: Any) -> None:
    started = start_connection(admin_api(stack.api_url))
    url = urlparse(started["authorize_url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.geturl().startswith(fake_box.url + "/api/oauth2/authorize?")
    assert query["response_type"] == "code"
    assert query["client_id"] == "fake-client-id"
    assert query["redirect_uri"] == stack.api_url + "/oauth/box/callback"
    assert len(query["state"]) >= 43


def test_admin_connects_and_every_check_passes(stack: Any) -> None:
    connection, page = connect(stack, ADMIN)
    assert page.status == 200
    assert "Box was successfully connected" in page.html
    assert "Acme Corp" in page.html
    assert ADMIN in page.html
    assert connection["status"] == "connected"
    assert connection["role"] == "admin"
    assert connection["enterprise_name"] == "Acme Corp"
    assert connection["authorization"]["state"] == "completed"
    assert connection["last_test"]["outcome"] == "passed"
    assert set(checks_of(connection).values()) == {"pass"}
    # users/me, events, users, folder items as-user: one call each.
    assert connection["last_test"]["box_calls"] == 4


def test_coadmin_connects_with_a_warning(stack: Any) -> None:
    connection, page = connect(stack, COADMIN)
    assert page.status == 200
    assert "co-admin" in page.html
    assert connection["last_test"]["outcome"] == "warning"
    assert checks_of(connection) == {
        "token_valid": "pass",
        "admin_role": "warn",
        "enterprise_events": "pass",
        "users_listable": "pass",
        "as_user_access": "pass",
    }


def test_plain_user_fails_the_test_with_fix_hints(stack: Any) -> None:
    connection, page = connect(stack, PLAIN)
    assert "plain user" in page.html
    assert connection["last_test"]["outcome"] == "failed"
    assert checks_of(connection) == {
        "token_valid": "pass",
        "admin_role": "fail",
        "enterprise_events": "fail",
        "users_listable": "fail",
        "as_user_access": "skipped",
    }
    failed = [c for c in connection["last_test"]["checks"] if c["status"] == "fail"]
    assert all(c["fix_hint"] for c in failed)


def test_access_denied_stores_nothing_but_the_outcome(stack: Any, table: Any) -> None:
    connection, page = connect(stack, ADMIN, decision="deny")
    assert page.status == 200
    assert "Box was not connected" in page.html
    assert "denied" in page.html
    assert connection["status"] == "pending"
    assert connection["authorization"]["state"] == "denied"
    assert connection["last_test"] is None
    assert [i["sk"] for i in items_for(table, connection["connection_id"])] == ["CONNECTION"]


@pytest.mark.parametrize(
    "state",
    [
        secrets.token_urlsafe(32),  # well formed, never issued
        "short",
        "a" * 500,
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "",
    ],
)
def test_forged_state_is_refused_and_changes_nothing(stack: Any, table: Any, state: str) -> None:
    before = table.scan()["Items"]
    page = requests.get(
        stack.api_url + "/oauth/box/callback", params={"state": state, "code": "abc"}, timeout=10
    )
    assert page.status_code == 400
    assert "can't be used" in html.unescape(page.text)
    assert "<script>alert" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert table.scan()["Items"] == before


def test_replayed_callback_is_refused_and_the_connection_kept(stack: Any, table: Any) -> None:
    connection, page = connect(stack, ADMIN)
    tokens_before = [i for i in items_for(table, connection["connection_id"]) if i["sk"] == "TOKENS"]
    replay = requests.get(page.callback_url, timeout=10)
    assert replay.status_code == 400
    assert "already used" in replay.text
    tokens_after = [i for i in items_for(table, connection["connection_id"]) if i["sk"] == "TOKENS"]
    assert tokens_after == tokens_before
    assert get_connection(admin_api(stack.api_url), connection["connection_id"])["status"] == "connected"


def test_expired_state_is_refused(stack: Any, table: Any, fake_box: Any) -> None:
    api = admin_api(stack.api_url)
    started = start_connection(api)
    # Age every unused state past its TTL, as ten minutes of waiting would.
    for item in table.scan(FilterExpression=Attr("sk").eq("OAUTH_STATE") & Attr("consumed_at").not_exists())[
        "Items"
    ]:
        table.update_item(
            Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression="SET expires_at = :past",
            ExpressionAttributeValues={":past": 1},
        )
    page = consent(started["authorize_url"], ADMIN)
    assert page.status == 400
    assert "expired" in page.html
    assert get_connection(api, started["connection_id"])["status"] == "pending"


def test_code_exchange_failure_is_reported_and_stores_no_tokens(stack: Any, table: Any) -> None:
    api = admin_api(stack.api_url)
    _, first = connect(stack, ADMIN)
    used_code = first.query["code"]
    second = start_connection(api)
    state = dict(parse_qs(urlparse(second["authorize_url"]).query))["state"][0]
    page = requests.get(
        stack.api_url + "/oauth/box/callback", params={"state": state, "code": used_code}, timeout=10
    )
    assert page.status_code == 502
    assert "refused the authorization code" in page.text
    connection = get_connection(api, second["connection_id"])
    assert connection["authorization"]["state"] == "failed"
    assert [i["sk"] for i in items_for(table, second["connection_id"])] == ["CONNECTION"]


def test_unsigned_and_forged_admin_requests_are_forbidden(stack: Any) -> None:
    unsigned = requests.post(stack.api_url + "/connections", json={}, timeout=10)
    assert unsigned.status_code == 403
    forged = requests.post(
        stack.api_url + "/connections",
        json={},
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=testing/x, Signature=00"},
        timeout=10,
    )
    assert forged.status_code == 403


def test_bad_admin_input_is_a_clear_error_and_changes_nothing(stack: Any, table: Any) -> None:
    api = admin_api(stack.api_url)
    before = len(table.scan()["Items"])
    with pytest.raises(ApiError) as unknown:
        api.request("GET", "/connections/00000000-0000-4000-8000-000000000000")
    assert unknown.value.status == 404
    with pytest.raises(ApiError) as malformed_id:
        api.request("GET", "/connections/not-a-uuid")
    assert malformed_id.value.status == 400
    with pytest.raises(ApiError) as extra_field:
        api.request("POST", "/connections", {"surprise": True})
    assert extra_field.value.status == 400
    assert "surprise" in extra_field.value.message
    with pytest.raises(ApiError) as not_connected:
        api.request("POST", "/connections/00000000-0000-4000-8000-000000000000/test")
    assert not_connected.value.status == 404
    assert len(table.scan()["Items"]) == before


def test_list_and_show_connections(stack: Any) -> None:
    connection, _ = connect(stack, ADMIN)
    api = admin_api(stack.api_url)
    listed = api.request("GET", "/connections")["connections"]
    assert connection["connection_id"] in [c["connection_id"] for c in listed]
    shown = get_connection(api, connection["connection_id"])
    assert shown["admin_login"] == ADMIN
    assert shown["created_at"] <= shown["connected_at"] <= shown["updated_at"]
    assert "tokens" not in str(shown).lower()


def test_connect_succeeds_even_if_the_test_api_cannot_be_started(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services(), "invoker", AsyncInvoker(boto3.client("lambda"), "NoSuchFunction"))
    connection, page = connect(stack, ADMIN)
    assert page.status == 200
    assert "Box was successfully connected" in page.html
    assert f"boxcasb test {connection['connection_id']}" in page.html
    assert connection["status"] == "connected"
    assert connection["last_test"] is None
