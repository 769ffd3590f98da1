"""The Test API under Box faults: short waits are absorbed, long ones reported, nothing crashes."""

from __future__ import annotations

from typing import Any

from devstack.browser import consent
from tests.support.flows import admin_api, get_connection, start_connection


def connected(stack: Any) -> str:
    api = admin_api(stack.api_url)
    started = start_connection(api)
    consent(started["authorize_url"], "admin@acme.example")
    stack.wait_for_async(timeout=30)
    return str(started["connection_id"])


def run_test(stack: Any, connection_id: str) -> dict[str, Any]:
    api = admin_api(stack.api_url)
    api.request("POST", f"/connections/{connection_id}/test")
    stack.wait_for_async(timeout=60)
    return dict(get_connection(api, connection_id)["last_test"])


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


def test_short_retry_after_is_waited_out(stack: Any, fake_box: Any) -> None:
    cid = connected(stack)
    fake_box.faults.add(path_regex=r"^/2\.0/events", status=429, retry_after=1, times=2)
    report = run_test(stack, cid)
    assert report["outcome"] == "passed"
    assert report["box_calls"] == 6  # 4 calls + 2 answered 429


def test_long_retry_after_fails_the_check_with_a_retry_hint(stack: Any, fake_box: Any) -> None:
    cid = connected(stack)
    fake_box.faults.add(path_regex=r"^/2\.0/events", status=429, retry_after=120, times=1)
    report = run_test(stack, cid)
    events = by_name(report)["enterprise_events"]
    assert events["status"] == "fail"
    assert "again in a few minutes" in events["fix_hint"]
    assert by_name(report)["users_listable"]["status"] == "pass"  # the other checks still ran


def test_5xx_is_retried(stack: Any, fake_box: Any) -> None:
    cid = connected(stack)
    fake_box.faults.add(path_regex=r"^/2\.0/users$", status=503, times=2)
    report = run_test(stack, cid)
    assert report["outcome"] == "passed"


def test_persistent_5xx_fails_only_that_check(stack: Any, fake_box: Any) -> None:
    cid = connected(stack)
    fake_box.faults.add(path_regex=r"^/2\.0/users$", status=500, times=10)
    report = run_test(stack, cid)
    checks = by_name(report)
    assert checks["users_listable"]["status"] == "fail"
    assert checks["as_user_access"]["status"] == "skipped"
    assert checks["enterprise_events"]["status"] == "pass"


def test_slow_box_within_the_timeout_still_passes(stack: Any, fake_box: Any) -> None:
    cid = connected(stack)
    fake_box.faults.add(path_regex=r"^/2\.0/users/me", delay_seconds=1.5, times=1)
    assert run_test(stack, cid)["outcome"] == "passed"


def test_expired_access_token_is_refreshed_transparently(stack: Any, fake_box: Any) -> None:
    cid = connected(stack)
    fake_box.expire_access_tokens()
    report = run_test(stack, cid)
    assert report["outcome"] == "passed"
    assert report["box_calls"] == 6  # 401, refresh grant, then the 4 calls
