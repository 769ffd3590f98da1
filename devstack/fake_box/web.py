"""HTTP messages as plain values, Box's error shapes, and a small regex router.

Handlers take a context and a regex match and return a ``Response``; anything
that should become a Box error is raised as ``ApiError`` and rendered once, at
the edge, where the request id is known.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

# Exactly what Box sends with a 401; boxsdk refreshes its token when it sees the status.
WWW_AUTHENTICATE = (
    'Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid."'
)
HELP_URL = "http://developers.box.com/docs/#errors"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]  # the last value wins when a name repeats
    headers: Mapping[str, str]  # names lower-cased
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise ApiError(400, "bad_request", "Invalid JSON in the request body") from exc


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    body = json.dumps(payload).encode()
    return Response(status, body, [("Content-Type", "application/json"), *headers])


def html_response(status: int, page: str) -> Response:
    return Response(status, page.encode(), [("Content-Type", "text/html; charset=utf-8")])


def redirect(location: str) -> Response:
    return Response(302, b"", [("Location", location)])


def new_request_id() -> str:
    return secrets.token_hex(8)


class ApiError(Exception):
    """A Box client error: ``{"type": "error", "status", "code", "message", "request_id"}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        context_info: Mapping[str, Any] | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.context_info = context_info
        self.headers = list(headers)

    def to_response(self, request_id: str) -> Response:
        if self.status == 401:
            # Box answers a bad token with an empty body and the reason in a header.
            return Response(401, b"", [("WWW-Authenticate", WWW_AUTHENTICATE), *self.headers])
        payload: dict[str, Any] = {
            "type": "error",
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "help_url": HELP_URL,
            "request_id": request_id,
        }
        if self.context_info is not None:
            payload["context_info"] = dict(self.context_info)
        return json_response(self.status, payload, self.headers)


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "Unauthorized")


def forbidden(message: str = "Access denied - insufficient permission") -> ApiError:
    return ApiError(403, "access_denied_insufficient_permissions", message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def not_found(name: str, value: str) -> ApiError:
    """Box's 404 for an id the caller cannot see, which it does not tell apart from a missing one."""
    detail = f"Invalid value '{value}'. '{name}' with value '{value}' not found"
    errors = [{"reason": "invalid_parameter", "name": name, "message": detail}]
    return ApiError(404, "not_found", "Not Found", context_info={"errors": errors})


# Codes Box puts in error bodies for statuses a fault can inject; others fall back to the phrase.
_STATUS_CODES = {
    403: ("access_denied_insufficient_permissions", "Access denied - insufficient permission"),
    429: ("rate_limit_exceeded", "Request rate limit exceeded, please try again later"),
    503: ("unavailable", "Unavailable"),
}


def error_for_status(status: int, headers: Iterable[tuple[str, str]] = ()) -> ApiError:
    phrase = HTTPStatus(status).phrase
    code, message = _STATUS_CODES.get(status, (phrase.lower().replace(" ", "_"), phrase))
    return ApiError(status, code, message, headers=headers)


type Handler[C] = Callable[[C, re.Match[str]], Response]


class Router[C]:
    """Routes by method and a full-match path regex; 405 when only the method is wrong."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler[C]]] = []

    def add(self, method: str, pattern: str, handler: Handler[C]) -> None:
        self._routes.append((method, re.compile(pattern), handler))

    def dispatch(self, context: C, method: str, path: str) -> Response:
        path_known = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return handler(context, match)
            path_known = True
        if path_known:
            raise ApiError(405, "method_not_allowed", "Method Not Allowed")
        raise ApiError(404, "not_found", "Not Found")
