"""The `boxcasb` CLI against the local stack: connect (with a scripted browser), status, test."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest

from boxcasb.cli.main import main as boxcasb
from devstack.browser import LinkWatcher, consent_when_linked


def run_connect(stack: Any, login: str, decision: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    watcher = LinkWatcher(sys.stdout)
    browser = consent_when_linked(watcher, login, decision)
    real, sys.stdout = sys.stdout, watcher
    try:
        code = boxcasb(["--api-url", stack.api_url, "--region", "us-east-1", "connect", "--timeout", "30"])
    finally:
        sys.stdout = real
    browser.join(timeout=10)
    return code, capsys.readouterr().out


def test_connect_prints_the_link_then_the_outcome_and_each_check(
    stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_connect(stack, "admin@acme.example", "allow", capsys)
    assert code == 0
    assert "Follow this link" in out
    assert "Box was successfully connected: Acme Corp as admin@acme.example (role: admin)" in out
    assert "Test API: PASSED" in out
    for title in (
        "Token valid",
        "Connected as a Box admin",
        "Enterprise event log readable",
        "Enterprise users listable",
        "Act as another user (As-User)",
    ):
        assert f"[PASS] {title}" in out


def test_connect_reports_a_denial_with_a_nonzero_exit(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_connect(stack, "admin@acme.example", "deny", capsys)
    assert code == 1
    assert "clicked Deny" in out
    assert "Box was not connected" in capsys.readouterr().err or "Box was not connected" in out


def test_plain_user_fails_with_fix_hints(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_connect(stack, "alice@acme.example", "allow", capsys)
    assert code == 1
    assert "Test API: FAILED" in out
    assert "[FAIL] Connected as a Box admin" in out
    assert "fix: Run `boxcasb connect` and sign in with a Box admin account." in out


def test_status_and_test_commands(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_connect(stack, "coadmin@acme.example", "allow", capsys)
    assert code == 0
    cid = re.search(r"^Connection (\S+)$", out, re.M).group(1)  # type: ignore[union-attr]
    assert boxcasb(["--api-url", stack.api_url, "--json", "status"]) == 0
    listed = {c["connection_id"]: c for c in json.loads(capsys.readouterr().out)}
    assert listed[cid]["admin_login"] == "coadmin@acme.example"
    assert boxcasb(["--api-url", stack.api_url, "status", cid]) == 0
    shown = capsys.readouterr().out
    assert "Test API: WARNING" in shown
    assert "[WARN] Connected as a Box admin" in shown
    assert boxcasb(["--api-url", stack.api_url, "test", cid, "--timeout", "30"]) == 0
    assert "Test API: WARNING" in capsys.readouterr().out


def test_unknown_connection_is_a_clear_error(stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = boxcasb(["--api-url", stack.api_url, "status", "00000000-0000-4000-8000-000000000000"])
    assert code == 2
    assert "no connection" in capsys.readouterr().err


def test_webhooks_sync_and_list_print_the_report(
    stack: Any, fake_box: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_connect(stack, "admin@acme.example", "allow", capsys)
    assert code == 0
    cid = re.search(r"Connection ([0-9a-f-]{36})", out)
    assert cid is not None
    fake_box.tenant.webhooks.clear()  # other tests' webhooks would be adopted, not created
    try:
        base = ["--api-url", stack.api_url, "--region", "us-east-1", "webhooks"]
        assert boxcasb([*base, "sync", cid.group(1), "--timeout", "60"]) == 0
        report = capsys.readouterr().out
        created = int(re.search(r"finished: created (\d+),", report).group(1))  # type: ignore[union-attr]
        assert created == len(fake_box.tenant.webhooks) > 0
        assert "files in the root folder" in report
        assert boxcasb([*base, "list", cid.group(1)]) == 0
        listed = capsys.readouterr().out
        assert sum(1 for line in listed.splitlines() if "(owner " in line) == created
        assert "Last sync: finished" in listed
    finally:
        fake_box.tenant.webhooks.clear()


def test_webhook_keys_are_stored_without_echo(
    stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import io

    import boto3

    arn = stack.env["WEBHOOK_KEYS_SECRET_ARN"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("new-primary-key\n\n"))
    args = ["--region", "us-east-1", "webhooks", "keys", "--stdin", "--secret-arn", arn]
    try:
        assert boxcasb(args) == 0
        stored = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
        assert stored == {"primary": "new-primary-key", "secondary": None}
        assert "new-primary-key" not in capsys.readouterr().out
        monkeypatch.setattr(sys, "stdin", io.StringIO("\n\n"))
        assert boxcasb(args) == 2  # both empty: refused, nothing changed
        again = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
        assert again == stored
    finally:
        from devstack.fake_box.deliveries import DEFAULT_WEBHOOK_KEYS

        stack.set_webhook_keys(*DEFAULT_WEBHOOK_KEYS)
