"""Fault injection, the /_fake control API, the request log, and the standalone server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack.fake_box import FakeBox
from tests.fake_box.helpers import BoxHttp, FakeClock, Tokens

ROOT = Path(__file__).resolve().parents[2]


def test_429_with_retry_after_n_times_then_success(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    box.faults.add(path_regex=r"^/2\.0/events", status=429, retry_after=2, times=3, method=None)
    for _ in range(3):
        limited = http.get("/2.0/events", admin, stream_type="admin_logs")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"
        assert limited.json()["code"] == "rate_limit_exceeded"
        assert limited.json()["status"] == 429
    assert http.get("/2.0/events", admin, stream_type="admin_logs").status_code == 200
    assert box.count(method="GET", path_regex=r"^/2\.0/events", status=429) == 3
    assert box.count(path_regex=r"^/2\.0/events") == 4


def test_a_429_always_says_when_to_retry(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    box.faults.add(path_regex=r"^/2\.0/users/me$", status=429)
    assert http.get("/2.0/users/me", admin).headers["Retry-After"] == "1"


def test_503_once(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    box.faults.add(path_regex=r"^/2\.0/users$", status=503, times=1)
    failed = http.get("/2.0/users", admin)
    assert (failed.status_code, failed.json()["code"]) == (503, "unavailable")
    assert http.get("/2.0/users/me", admin).status_code == 200  # the regex is anchored
    assert http.get("/2.0/users", admin).status_code == 200


def test_a_delay_slows_the_answer_but_keeps_it(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    box.faults.add(path_regex=r"^/2\.0/users/me", delay_seconds=0.3, times=1)
    started = time.monotonic()
    assert http.get("/2.0/users/me", admin).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    http.get("/2.0/users/me", admin)
    assert time.monotonic() - started < 0.3


def test_faults_filter_by_method_and_can_last_until_cleared(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    box.faults.add(path_regex=r"^/2\.0/webhooks", status=500, method="post", times=None)
    assert http.get("/2.0/webhooks", admin).status_code == 200
    for _ in range(3):
        assert http.request("POST", "/2.0/webhooks", admin, json={}).status_code == 500
    assert box.faults.clear() == 1
    assert http.request("POST", "/2.0/webhooks", admin, json={}).status_code == 400


def test_a_401_fault_looks_like_an_expired_token(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    box.faults.add(path_regex=r"^/2\.0/", status=401)
    answer = http.get("/2.0/users/me", admin)
    assert (answer.status_code, answer.content) == (401, b"")
    assert "invalid_token" in answer.headers["WWW-Authenticate"]


def test_the_token_endpoint_can_fail_too(http: BoxHttp, box: FakeBox) -> None:
    code = http.code_for("admin@acme.example")
    box.faults.add(path_regex=r"^/oauth2/token$", status=502)
    assert http.exchange(code).status_code == 502
    assert http.exchange(code).status_code == 200  # the fault came before the code was looked at


@pytest.mark.parametrize(
    "spec",
    [
        {"path_regex": "x"},
        {"path_regex": "x", "status": 200},
        {"path_regex": "(", "status": 500},
        {"status": 500},
        {"path_regex": "x", "status": 500, "rate": 0},
        {"path_regex": "x", "status": 500, "rate": 1.5},
        {"path_regex": "x", "status": 500, "drop": True},
    ],
)
def test_invalid_faults_are_refused(box: FakeBox, spec: dict[str, object]) -> None:
    answer = requests.post(f"{box.url}/_fake/faults", json=spec, timeout=10)
    assert answer.status_code == 400
    assert box.faults.active() == []


def test_a_rate_applies_the_fault_to_that_share_of_requests_replayably(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    def statuses() -> list[int]:
        box.faults.seed(7)
        box.faults.add(path_regex=r"^/2\.0/users/me$", status=503, rate=0.3, times=None)
        answers = [http.get("/2.0/users/me", admin).status_code for _ in range(200)]
        box.faults.clear()
        return answers

    first = statuses()
    assert set(first) == {200, 503}
    assert 40 <= first.count(503) <= 80  # 30% of 200, within sampling noise for this seed
    assert statuses() == first  # the same seed fails the same requests
    assert box.faults.applied()["503"] == 2 * first.count(503)


def test_a_dropped_connection_gets_no_answer_at_all(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    box.faults.add(path_regex=r"^/2\.0/users/me$", drop=True, times=1)
    with pytest.raises(requests.ConnectionError):
        http.get("/2.0/users/me", admin)
    assert http.get("/2.0/users/me", admin).status_code == 200  # the next connection is served
    assert box.count(path_regex=r"^/2\.0/users/me$", status=0) == 1  # logged with no status
    assert box.faults.applied() == {"drop": 1}


def test_every_answer_has_a_request_id(http: BoxHttp, admin: Tokens) -> None:
    answers = [
        http.get("/2.0/users/me", admin),
        http.get("/2.0/users/me", None),
        http.get("/2.0/nothing/here", admin),
        http.authorize(),
        http.get("/favicon.ico", None),
    ]
    assert all(answer.headers["box-request-id"] for answer in answers)
    assert len({answer.headers["box-request-id"] for answer in answers}) == len(answers)


def test_unknown_routes_and_methods(http: BoxHttp, admin: Tokens) -> None:
    missing = http.get("/2.0/nothing/here", admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert missing.headers["Content-Type"] == "application/json"
    wrong_method = http.request("DELETE", "/2.0/users/me", admin)
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "method_not_allowed")


def test_file_content_redirects_to_a_short_lived_link(
    http: BoxHttp, box: FakeBox, alice: Tokens, clock: FakeClock
) -> None:
    customers = next(f for f in box.tenant.files.values() if f.name == "customers.csv")
    redirect = http.get(f"/2.0/files/{customers.id}/content", alice)
    assert redirect.status_code == 302
    link = redirect.headers["Location"]
    assert link.startswith(f"{box.url}/_content/")
    download = requests.get(link, timeout=10)  # no bearer token: the link is the credential
    assert download.content == customers.content
    assert download.headers["Content-Type"] == "application/octet-stream"
    clock.advance(901)
    assert requests.get(link, timeout=10).status_code == 404
    recorded = json.dumps([entry.to_json() for entry in box.requests])
    assert link.rpartition("/")[2] not in recorded


def test_the_control_api(box: FakeBox, http: BoxHttp) -> None:
    control = f"{box.url}/_fake"
    tokens = http.connect("admin@acme.example")
    added = requests.post(
        f"{control}/faults",
        json={"path_regex": r"^/2\.0/users$", "status": 429, "retry_after": 3},
        timeout=10,
    )
    assert added.status_code == 201
    assert added.json()["retry_after"] == 3
    assert requests.get(f"{control}/faults", timeout=10).json()["entries"][0]["times"] == 1
    assert http.get("/2.0/users", tokens).status_code == 429
    assert requests.post(f"{control}/faults", json={"path_regex": "x", "delay_seconds": 1}, timeout=10).ok
    assert requests.post(f"{control}/faults/clear", timeout=10).json() == {"cleared": 1}

    log = requests.get(f"{control}/requests", timeout=10).json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in log][-1] == ("GET", "/2.0/users", 429)
    assert not any(e["path"].startswith("/_fake") for e in log)  # control calls are not recorded

    assert requests.post(f"{control}/expire-tokens", timeout=10).json() == {"expired": 1}
    assert http.get("/2.0/users/me", tokens).status_code == 401
    revoked = requests.post(
        f"{control}/revoke-refresh-tokens", json={"login": "admin@acme.example"}, timeout=10
    )
    assert revoked.json() == {"revoked": 1}
    assert http.refresh(tokens.refresh).status_code == 400
    assert (
        requests.post(f"{control}/revoke-refresh-tokens", json={"login": "nobody"}, timeout=10).status_code
        == 400
    )

    box.tenant.add_user("zed@acme.example")
    assert requests.post(f"{control}/reset", timeout=10).ok
    assert all(user.login != "zed@acme.example" for user in box.tenant.users.values())
    assert requests.get(f"{control}/requests", timeout=10).json() == {"entries": []}
    http.get("/2.0/users/me", None)
    assert requests.post(f"{control}/requests/clear", timeout=10).ok
    assert box.requests == []


def test_the_request_log_records_as_user_and_redacts_secrets(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    alice = http.user_id("alice@acme.example")
    http.get("/2.0/folders/0/items", admin, as_user=alice, fields="name")
    entry = box.requests[-1]
    assert (entry.method, entry.path, entry.query, entry.as_user) == (
        "GET",
        "/2.0/folders/0/items",
        {"fields": "name"},
        alice,
    )
    assert entry.headers["authorization"] == "Bearer [redacted]"
    http.get("/2.0/files/1/content", admin, access_token="secret-in-query")
    assert box.requests[-1].query == {"access_token": "[redacted]"}


def test_runs_standalone_and_prints_its_url() -> None:
    command = [
        sys.executable,
        "-m",
        "devstack.fake_box",
        "--port",
        "0",
        "--client-id",
        "X",
        "--client-secret",
        "Y",
    ]
    # A fixed command: this interpreter running our module.
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as server:  # noqa: S603
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            page = requests.get(
                f"{url}/api/oauth2/authorize",
                params={"response_type": "code", "client_id": "X", "redirect_uri": "https://a.example/cb"},
                timeout=10,
            )
            assert page.status_code == 200
            assert requests.get(f"{url}/_fake/requests", timeout=10).json()["entries"][0]["status"] == 200
        finally:
            server.terminate()
        assert server.wait(timeout=10) == 0
