"""Tokens: encrypted at rest, never logged, refreshed once under a race, revocation detected."""

from __future__ import annotations

import io
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr

from boxcasb.errors import ReconnectRequired
from boxcasb.observability import logger
from boxcasb.token_cipher import TokenCipher
from boxcasb.wiring import services
from devstack.browser import consent
from tests.support.flows import admin_api, get_connection, start_connection

ADMIN = "admin@acme.example"


def connected(stack: Any, login: str = ADMIN) -> str:
    api = admin_api(stack.api_url)
    started = start_connection(api)
    consent(started["authorize_url"], login)
    stack.wait_for_async(timeout=30)
    assert get_connection(api, started["connection_id"])["status"] == "connected"
    return str(started["connection_id"])


def tokens_item(table: Any, connection_id: str) -> dict[str, Any]:
    return table.get_item(Key={"pk": f"CONN#{connection_id}", "sk": "TOKENS"})["Item"]


def refresh_grants(fake_box: Any) -> list[Any]:
    return [g for g in fake_box.token_grants if g.grant_type == "refresh_token"]


def test_tokens_are_kms_ciphertext_bound_to_their_connection(stack: Any, table: Any) -> None:
    first, second = connected(stack), connected(stack)
    cipher = TokenCipher(boto3.client("kms"), stack.env["TOKEN_KEY_ARN"])
    item = tokens_item(table, first)
    tokens = cipher.decrypt(first, item["ciphertext"].value)
    secrets_in_clear = [tokens.access_token.get_secret_value(), tokens.refresh_token.get_secret_value()]
    everything = str(table.scan()["Items"])
    assert not any(s in everything for s in secrets_in_clear)
    # The same ciphertext moved onto another connection does not decrypt.
    with pytest.raises(Exception, match="InvalidCiphertext"):
        cipher.decrypt(second, item["ciphertext"].value)


def test_no_token_or_secret_reaches_the_logs(
    stack: Any, table: Any, fake_box: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Everything our package logs, as the Powertools formatter renders it (extras included),
    # plus every other library's INFO and above.
    rendered = io.StringIO()
    handler = logging.StreamHandler(rendered)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    caplog.set_level(logging.INFO)
    level = logger.log_level
    logger.setLevel(logging.INFO)
    try:
        connection_id = connected(stack)
        fake_box.expire_access_tokens()  # forces a refresh, the riskiest path for a leak
        admin_api(stack.api_url).request("POST", f"/connections/{connection_id}/test")
        stack.wait_for_async(timeout=30)
    finally:
        logging.getLogger(logger.name).removeHandler(handler)
        logger.setLevel(level)
    cipher = TokenCipher(boto3.client("kms"), stack.env["TOKEN_KEY_ARN"])
    tokens = cipher.decrypt(connection_id, tokens_item(table, connection_id)["ciphertext"].value)
    output = rendered.getvalue() + caplog.text
    assert "api test finished" in output  # the logs were captured at all
    assert connection_id in output
    for secret in (
        tokens.access_token.get_secret_value(),
        tokens.refresh_token.get_secret_value(),
        "fake-client-secret",
    ):
        assert secret not in output


def test_concurrent_refreshes_spend_the_refresh_token_once(stack: Any, table: Any, fake_box: Any) -> None:
    connection_id = connected(stack)
    version_before = int(tokens_item(table, connection_id)["version"])
    fake_box.expire_access_tokens()
    grants_before = len(refresh_grants(fake_box))
    workers = 8
    barrier = threading.Barrier(workers)

    def worker(_: int) -> str:
        gateway = services().gateways.for_connection(connection_id)  # each its own cache, like a Lambda
        barrier.wait()
        return gateway.current_user().login or ""

    with ThreadPoolExecutor(workers) as pool:
        logins = list(pool.map(worker, range(workers)))
    assert logins == [ADMIN] * workers
    # One refresh for this connection (other connections' background work may refresh their own).
    assert int(tokens_item(table, connection_id)["version"]) == version_before + 1
    new_grants = refresh_grants(fake_box)[grants_before:]
    assert new_grants
    assert all(g.ok for g in new_grants)  # nobody spent a dead refresh token
    connection = get_connection(admin_api(stack.api_url), connection_id)
    assert connection["status"] == "connected"


def test_revoked_refresh_token_marks_reconnect_required(stack: Any, fake_box: Any) -> None:
    connection_id = connected(stack)
    fake_box.revoke_refresh_tokens(login=ADMIN)
    fake_box.expire_access_tokens()
    api = admin_api(stack.api_url)
    api.request("POST", f"/connections/{connection_id}/test")
    stack.wait_for_async(timeout=30)
    connection = get_connection(api, connection_id)
    assert connection["status"] == "reconnect_required"
    assert "invalid_grant" in connection["status_reason"]
    assert connection["last_test"]["outcome"] == "failed"
    token_check = connection["last_test"]["checks"][0]
    assert token_check["name"] == "token_valid"
    assert token_check["status"] == "fail"
    assert "boxcasb connect" in token_check["fix_hint"]


def test_reconnect_restores_a_revoked_connection(stack: Any, fake_box: Any) -> None:
    connection_id = connected(stack)
    fake_box.revoke_refresh_tokens(login=ADMIN)
    fake_box.expire_access_tokens()
    with pytest.raises(ReconnectRequired):
        services().gateways.for_connection(connection_id).current_user()
    api = admin_api(stack.api_url)
    again = start_connection(api, {"reconnect": connection_id})
    assert again["connection_id"] == connection_id
    consent(again["authorize_url"], ADMIN)
    stack.wait_for_async(timeout=30)
    connection = get_connection(api, connection_id)
    assert connection["status"] == "connected"
    assert connection["status_reason"] is None
    assert connection["last_test"]["outcome"] == "passed"


def test_token_keeper_refreshes_idle_tokens_only(stack: Any, table: Any, fake_box: Any) -> None:
    idle, fresh = connected(stack), connected(stack)
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    table.update_item(
        Key={"pk": f"CONN#{idle}", "sk": "TOKENS"},
        UpdateExpression="SET refreshed_at = :old",
        ExpressionAttributeValues={":old": old},
    )
    idle_version = int(tokens_item(table, idle)["version"])
    fresh_version = int(tokens_item(table, fresh)["version"])
    report = stack.run_schedule("TokenKeeperFunction")
    assert report["refreshed"] >= 1
    assert int(tokens_item(table, idle)["version"]) == idle_version + 1
    assert int(tokens_item(table, fresh)["version"]) == fresh_version
    assert tokens_item(table, idle)["refreshed_at"] > old


def test_token_keeper_marks_dead_tokens_and_carries_on(stack: Any, table: Any, fake_box: Any) -> None:
    dead = connected(stack, "coadmin@acme.example")
    table.update_item(
        Key={"pk": f"CONN#{dead}", "sk": "TOKENS"},
        UpdateExpression="SET refreshed_at = :old",
        ExpressionAttributeValues={":old": "2020-01-01T00:00:00+00:00"},
    )
    fake_box.revoke_refresh_tokens(login="coadmin@acme.example")
    report = stack.run_schedule("TokenKeeperFunction")
    assert report["reconnect_required"] >= 1
    assert get_connection(admin_api(stack.api_url), dead)["status"] == "reconnect_required"
    still_connected = table.scan(FilterExpression=Attr("sk").eq("CONNECTION"))["Items"]
    assert any('"status":"connected"' in str(i["doc"]) for i in still_connected)
