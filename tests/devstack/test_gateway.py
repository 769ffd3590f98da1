"""The local HttpApi end to end: routes from the template, SigV4 on IAM routes, 2.0 events, responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.local_aws import LOCAL_IDENTITY
from devstack.stack import LocalStack
from tests.devstack.conftest import sign, sign_at


def signed_get(url: str) -> requests.Response:
    return requests.get(url, headers=sign("GET", url), timeout=10)


def test_signed_request_reaches_the_handler_with_a_2_0_event(tiny_stack: LocalStack) -> None:
    url = f"{tiny_stack.api_url}/items/it%2042?x=1&x=2"

    response = signed_get(url)

    assert response.status_code == 200, response.text
    assert response.headers["apigw-requestid"]
    seen = response.json()
    event = seen["event"]
    assert event["routeKey"] == "GET /items/{item_id}"
    assert event["pathParameters"] == {"item_id": "it 42"}
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == LOCAL_IDENTITY.access_key
    assert event["requestContext"]["domainName"] == tiny_stack.api_url.removeprefix("http://")
    # The fake Lambda context comes from the template (Timeout 7 overrides Globals' 10).
    assert (seen["function"], seen["memory"]) == ("EchoFunction", 256)
    assert seen["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    assert 0 < seen["remaining_ms"] <= 7000
    # The layer's ContentUri is what `import tinyprobe` found.
    assert Path(seen["layer"]).parent.name == "layer"


def test_signed_post_with_json_body(tiny_stack: LocalStack) -> None:
    url = f"{tiny_stack.api_url}/items"
    body = json.dumps({"name": "x"}).encode()
    headers = sign("POST", url, body, {"content-type": "application/json"})

    response = requests.post(url, data=body, headers=headers, timeout=10)

    assert response.status_code == 200
    event = response.json()["event"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"name": "x"}', False)


def test_unsigned_request_to_iam_route_is_forbidden(tiny_stack: LocalStack, probe: Any) -> None:
    response = requests.get(f"{tiny_stack.api_url}/items/1", timeout=10)

    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert probe.calls_of("EchoFunction") == []


def test_forged_signature_is_forbidden(tiny_stack: LocalStack, probe: Any) -> None:
    url = f"{tiny_stack.api_url}/items/1"

    response = requests.get(url, headers=sign("GET", url, secret_key="guessed"), timeout=10)

    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert probe.calls_of("EchoFunction") == []


def test_expired_signature_is_forbidden(tiny_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"{tiny_stack.api_url}/items/1"
    headers = sign_at(monkeypatch, datetime.now(UTC) - timedelta(minutes=6), "GET", url)

    response = requests.get(url, headers=headers, timeout=10)

    assert response.status_code == 403


def test_public_route_needs_no_signature(tiny_stack: LocalStack) -> None:
    response = requests.get(f"{tiny_stack.api_url}/public?state=s", timeout=10)

    assert response.status_code == 200
    event = response.json()["event"]
    assert event["routeKey"] == "GET /public"
    assert "authorizer" not in event["requestContext"]


def test_most_specific_route_and_greedy_path(tiny_stack: LocalStack) -> None:
    special = signed_get(f"{tiny_stack.api_url}/items/special").json()["event"]
    files = signed_get(f"{tiny_stack.api_url}/files/a/b.txt").json()["event"]

    assert special["routeKey"] == "ANY /items/special"
    assert (files["routeKey"], files["pathParameters"]) == ("GET /files/{path+}", {"path": "a/b.txt"})


def test_unknown_route_is_not_found(tiny_stack: LocalStack) -> None:
    for response in (
        requests.get(f"{tiny_stack.api_url}/nowhere", timeout=10),
        requests.delete(f"{tiny_stack.api_url}/items/1", timeout=10),
    ):
        assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


@pytest.mark.parametrize(
    ("mode", "status", "body", "content_type"),
    [
        ("raise", 500, b'{"message": "Internal Server Error"}', "application/json"),
        ("malformed", 500, b'{"message": "Internal Server Error"}', "application/json"),
        ("plain", 200, b'{"hello": "world"}', "application/json"),
        ("text", 200, b"just text", "application/json"),
        ("binary", 200, bytes([0, 1, 255]), "application/octet-stream"),
    ],
)
def test_handler_results_map_to_responses(
    tiny_stack: LocalStack, mode: str, status: int, body: bytes, content_type: str
) -> None:
    response = requests.get(f"{tiny_stack.api_url}/public?mode={mode}", timeout=10)

    assert (response.status_code, response.content) == (status, body)
    assert response.headers["content-type"] == content_type


def test_cookies_become_set_cookie_headers(tiny_stack: LocalStack) -> None:
    response = requests.get(f"{tiny_stack.api_url}/public?mode=cookies", timeout=10)

    assert response.status_code == 201
    assert response.headers["x-test"] == "yes"
    assert response.raw.headers.getlist("set-cookie") == ["a=1", "b=2"]
