"""Payload format 2.0: request -> event, and handler result -> HTTP response."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from devstack.http_events import HttpRequest, MalformedResponseError, build_event, to_http_response
from devstack.local_aws import LOCAL_IDENTITY
from devstack.routes import RouteMatch
from devstack.template_model import Route

ROUTE = Route("Fn", "Get", "Api", "GET", "/connections/{connection_id}", "AWS_IAM")


def request(**overrides: Any) -> HttpRequest:
    values: dict[str, Any] = {
        "method": "GET",
        "raw_path": "/connections/c%201",
        "raw_query": "a=1&a=2&b=x%20y&empty=",
        "headers": [
            ("Host", "127.0.0.1:3000"),
            ("User-Agent", "tests/1.0"),
            ("X-Multi", "one"),
            ("x-multi", "two"),
            ("Cookie", "s=1; t=2"),
        ],
        "body": b"",
        "source_ip": "127.0.0.1",
        "server_port": 3000,
    }
    values.update(overrides)
    return HttpRequest(**values)


def test_event_has_the_2_0_shape() -> None:
    match = RouteMatch(ROUTE, {"connection_id": "c 1"})

    event = build_event(
        request(), match, api_id="abc123", request_id="rid", identity=None, now=1_700_000_000.5
    )

    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /connections/{connection_id}"
    assert event["rawPath"] == "/connections/c%201"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y&empty="
    assert event["cookies"] == ["s=1", "t=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "one,two"
    assert event["headers"]["host"] == "127.0.0.1:3000"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert event["pathParameters"] == {"connection_id": "c 1"}
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/connections/c%201",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tests/1.0",
    }
    assert (context["domainName"], context["stage"], context["apiId"]) == (
        "127.0.0.1:3000",
        "$default",
        "abc123",
    )
    assert (context["requestId"], context["timeEpoch"]) == ("rid", 1_700_000_000_500)
    assert context["time"] == "14/Nov/2023:22:13:20 +0000"
    assert "authorizer" not in context


def test_iam_identity_fills_the_authorizer() -> None:
    event = build_event(request(), RouteMatch(ROUTE, {}), api_id="a", request_id="r", identity=LOCAL_IDENTITY)

    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == LOCAL_IDENTITY.access_key
    assert iam["accountId"] == "123456789012"
    assert iam["userArn"] == LOCAL_IDENTITY.user_arn
    assert iam["callerId"] == iam["userId"] == LOCAL_IDENTITY.user_id


@pytest.mark.parametrize(
    ("content_type", "body", "expected_body", "encoded"),
    [
        ("application/json", b'{"a": 1}', '{"a": 1}', False),
        ("text/plain; charset=utf-8", "héllo".encode(), "héllo", False),
        ("application/octet-stream", b"\x00\xff", base64.b64encode(b"\x00\xff").decode(), True),
        ("application/x-www-form-urlencoded", b"a=1", base64.b64encode(b"a=1").decode(), True),
    ],
)
def test_body_is_text_or_base64_by_media_type(
    content_type: str, body: bytes, expected_body: str, encoded: bool
) -> None:
    req = request(method="POST", headers=[("Host", "h"), ("Content-Type", content_type)], body=body)

    event = build_event(req, RouteMatch(ROUTE, {}), api_id="a", request_id="r", identity=None)

    assert (event["body"], event["isBase64Encoded"]) == (expected_body, encoded)


def test_response_with_status_code_headers_cookies_and_base64() -> None:
    response = to_http_response(
        {
            "statusCode": 201,
            "headers": {"x-a": "1", "content-type": "image/png"},
            "cookies": ["a=1", "b=2"],
            "body": base64.b64encode(b"\x89PNG").decode(),
            "isBase64Encoded": True,
        }
    )

    assert response.status == 201
    assert [value for name, value in response.headers if name == "set-cookie"] == ["a=1", "b=2"]
    assert ("content-type", "image/png") in response.headers
    assert response.body == b"\x89PNG"


@pytest.mark.parametrize(
    ("result", "body"),
    [({"hello": "world"}, b'{"hello": "world"}'), ("plain text", b"plain text"), ([1, 2], b"[1, 2]")],
)
def test_result_without_status_code_is_a_json_200(result: Any, body: bytes) -> None:
    response = to_http_response(result)

    assert (response.status, response.body) == (200, body)
    assert ("content-type", "application/json") in response.headers


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": "200"},
        {"statusCode": 200, "headers": {"a": [1]}},
    ],
)
def test_malformed_responses_are_rejected(result: Any) -> None:
    with pytest.raises(MalformedResponseError):
        to_http_response(result)
