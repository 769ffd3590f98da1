"""API Gateway HTTP API payload format 2.0: the event a request becomes, and the response a result becomes.

Shapes follow the AWS developer guide ("Working with AWS Lambda proxy integrations
for HTTP APIs"): lower-cased headers with repeats comma-joined, cookies moved to
their own list, query parameters comma-joined, binary bodies base64-encoded, and
the 2.0 rules for guessing a response from a result without a statusCode.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from devstack.local_aws import ACCOUNT_ID, LocalIdentity
from devstack.routes import RouteMatch

# Bodies of these media types reach the handler as text; everything else as base64.
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-javascript")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]  # as received
    body: bytes
    source_ip: str
    server_port: int


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class MalformedResponseError(ValueError):
    """The handler's result is not a valid 2.0 response (API Gateway answers 500)."""


def build_event(
    request: HttpRequest,
    match: RouteMatch,
    *,
    api_id: str,
    request_id: str,
    identity: LocalIdentity | None,
    now: float | None = None,
) -> dict[str, Any]:
    now = time.time() if now is None else now
    headers, cookies = _headers_and_cookies(request)
    host = headers.get("host", "")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if request.raw_query:
        query: dict[str, list[str]] = {}
        for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
            query.setdefault(name, []).append(value)
        event["queryStringParameters"] = {name: ",".join(values) for name, values in query.items()}
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,  # the API owner's account, signed or not
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": match.route.route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if identity is not None:
        context["authorizer"] = {
            "iam": {
                "accessKey": identity.access_key,
                "accountId": identity.account_id,
                "callerId": identity.user_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": identity.user_arn,
                "userId": identity.user_id,
            }
        }
    event["requestContext"] = context
    if request.body:
        text = _as_text(request.body, headers.get("content-type"))
        event["body"] = text if text is not None else base64.b64encode(request.body).decode("ascii")
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    return event


def to_http_response(result: Any) -> HttpResponse:
    """Map a handler's (JSON round-tripped) result to the HTTP answer API Gateway would give."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # 2.0 format: a result without statusCode is the JSON body of a 200.
        text = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("content-type", "application/json")], text.encode())
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponseError(f"statusCode must be an HTTP status, got {status!r}")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        if isinstance(value, dict | list) or value is None:
            raise MalformedResponseError(f"header {name} must be a scalar, got {value!r}")
        headers.append((str(name), _scalar(value)))
    for cookie in result.get("cookies") or []:
        headers.append(("set-cookie", str(cookie)))
    if not any(name.lower() == "content-type" for name, _ in headers):
        # What `sam local start-api` does for HTTP APIs; keeps JSON clients happy.
        headers.append(("content-type", "application/json"))
    body = result.get("body")
    if body is None:
        return HttpResponse(status, headers, b"")
    if not isinstance(body, str):
        raise MalformedResponseError(f"body must be a string, got {type(body).__name__}")
    if result.get("isBase64Encoded"):
        try:
            return HttpResponse(status, headers, base64.b64decode(body, validate=True))
        except binascii.Error as exc:
            raise MalformedResponseError("isBase64Encoded is true but the body is not base64") from exc
    return HttpResponse(status, headers, body.encode("utf-8"))


def error_response(status: int, message: str, request_id: str) -> HttpResponse:
    """API Gateway's own answers (403, 404, 500, 503) look like this."""
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, [("content-type", "application/json"), ("apigw-requestid", request_id)], body)


def new_request_id() -> str:
    # API Gateway request ids look like "JKJaXmPLvHcESHA="; uniqueness is all that matters here.
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")


def _headers_and_cookies(request: HttpRequest) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lower = name.lower()
        if lower == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
    # API Gateway adds these before the integration sees the request.
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-port", str(request.server_port))
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}")
    return headers, cookies


def _as_text(body: bytes, content_type: str | None) -> str | None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    textual = (
        media_type.startswith("text/") or media_type in _TEXT_TYPES or media_type.endswith(("+json", "+xml"))
    )
    if not textual:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
