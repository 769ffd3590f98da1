"""The control API under ``/_fake/``: the Python API over HTTP, for local tools.

Control calls are neither faulted nor recorded. Bodies are JSON; errors use
Box's error shape.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .web import Request, Response, Router, bad_request, json_response

if TYPE_CHECKING:
    from .fake import FakeBox


def _option_value_ok(name: str, value: object) -> bool:
    """JSON types per event option (unknown names fail later, in dataclasses.replace)."""
    if name == "admin_logs_short_pages":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) if name == "admin_logs_latency" else isinstance(value, int)


def control_router(box: FakeBox) -> Router[Request]:
    router: Router[Request] = Router()

    def add_fault(request: Request, _match: re.Match[str]) -> Response:
        spec = _body_of(request)
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
        login = _body_of(request).get("login")
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
    _add_event_routes(box, router)
    return router


def _body_of(request: Request) -> dict[str, Any]:
    body = request.json()
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body


def _add_event_routes(box: FakeBox, router: Router[Request]) -> None:
    def get_event_options(_request: Request, _match: re.Match[str]) -> Response:
        return json_response(200, dataclasses.asdict(box.event_options))

    def set_event_options(request: Request, _match: re.Match[str]) -> Response:
        changes = _body_of(request)
        options = box.event_options
        try:
            for name, value in changes.items():
                if not _option_value_ok(name, value):
                    raise ValueError(f"{name}={value!r}")
            updated = dataclasses.replace(options, **changes)
        except (TypeError, ValueError) as error:
            raise bad_request(f"Invalid event options: {error}") from None
        with box.tenant.lock:  # the one object every tenant of this fake reads
            for name in changes:
                setattr(options, name, getattr(updated, name))
        return json_response(200, dataclasses.asdict(options))

    def add_synthetic_events(request: Request, _match: re.Match[str]) -> Response:
        spec = _body_of(request)
        try:
            count, days, seed = int(spec["count"]), float(spec.get("days", 90)), int(spec.get("seed", 0))
            now = box.tenant.now()
            block = box.tenant.add_synthetic_events(count, now - timedelta(days=days), now, seed=seed)
        except (KeyError, TypeError, ValueError) as error:
            raise bad_request(f"Invalid synthetic events: {error}") from None
        return json_response(
            201, {"first_seq": block.first_seq, "count": block.count, "events": len(box.tenant.events)}
        )

    router.add("GET", r"/_fake/event-options", get_event_options)
    router.add("POST", r"/_fake/event-options", set_event_options)
    router.add("POST", r"/_fake/synthetic-events", add_synthetic_events)
