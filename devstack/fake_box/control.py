"""The control API under ``/_fake/``: the Python API over HTTP, for local tools.

Control calls are neither faulted nor recorded. Bodies are JSON; errors use
Box's error shape.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .web import Request, Response, Router, bad_request, json_response

if TYPE_CHECKING:
    from .fake import FakeBox


def control_router(box: FakeBox) -> Router[Request]:
    router: Router[Request] = Router()

    def body_of(request: Request) -> dict[str, Any]:
        body = request.json()
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object")
        return body

    def add_fault(request: Request, _match: re.Match[str]) -> Response:
        spec = body_of(request)
        try:
            fault = box.faults.add(
                spec["path_regex"],
                spec.get("status"),
                retry_after=spec.get("retry_after"),
                times=spec.get("times", 1),
                method=spec.get("method"),
                delay_seconds=float(spec.get("delay_seconds", 0.0)),
            )
        except (KeyError, TypeError, ValueError, re.error) as error:
            raise bad_request(f"Invalid fault: {error}") from None
        return json_response(201, fault.to_json())

    def list_faults(_request: Request, _match: re.Match[str]) -> Response:
        return json_response(200, {"entries": [fault.to_json() for fault in box.faults.active()]})

    def clear_faults(_request: Request, _match: re.Match[str]) -> Response:
        return json_response(200, {"cleared": box.faults.clear()})

    def expire_tokens(_request: Request, _match: re.Match[str]) -> Response:
        return json_response(200, {"expired": box.expire_access_tokens()})

    def revoke_refresh_tokens(request: Request, _match: re.Match[str]) -> Response:
        login = body_of(request).get("login")
        try:
            revoked = box.revoke_refresh_tokens(login)
        except KeyError:
            raise bad_request(f"Unknown login {login!r}") from None
        return json_response(200, {"revoked": revoked})

    def list_requests(_request: Request, _match: re.Match[str]) -> Response:
        return json_response(200, {"entries": [entry.to_json() for entry in box.requests]})

    def clear_requests(_request: Request, _match: re.Match[str]) -> Response:
        box.clear_requests()
        return json_response(200, {})

    def reset(_request: Request, _match: re.Match[str]) -> Response:
        box.reset()
        return json_response(200, {})

    router.add("POST", r"/_fake/faults", add_fault)
    router.add("GET", r"/_fake/faults", list_faults)
    router.add("POST", r"/_fake/faults/clear", clear_faults)
    router.add("POST", r"/_fake/expire-tokens", expire_tokens)
    router.add("POST", r"/_fake/revoke-refresh-tokens", revoke_refresh_tokens)
    router.add("GET", r"/_fake/requests", list_requests)
    router.add("POST", r"/_fake/requests/clear", clear_requests)
    router.add("POST", r"/_fake/reset", reset)
    return router
