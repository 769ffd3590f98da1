"""The control API under ``/_fake/``: the Python API over HTTP, for local tools.

Control calls are neither faulted nor recorded. Bodies are JSON; errors use
Box's error shape.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .tenant import File, Folder
from .web import Request, Response, Router, bad_request, json_response

if TYPE_CHECKING:
    from .fake import FakeBox


def _webhook_option_ok(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if name in ("retries", "limit_per_user") else isinstance(value, int | float)


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
                skip=int(spec.get("skip", 0)),
                rate=float(spec.get("rate", 1.0)),
                drop=bool(spec.get("drop", False)),
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
    _add_webhook_routes(box, router)
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


def _add_webhook_routes(box: FakeBox, router: Router[Request]) -> None:
    def keys_json() -> dict[str, str | None]:
        primary, secondary = box.webhook_keys
        return {"primary": primary, "secondary": secondary}

    def get_webhook_keys(_request: Request, _match: re.Match[str]) -> Response:
        return json_response(200, keys_json())

    def set_webhook_keys(request: Request, _match: re.Match[str]) -> Response:
        """A key left out stays as it is; ``null`` unsets it (its signature header is then not sent)."""
        changes = _body_of(request)
        unknown = set(changes) - {"primary", "secondary"}
        if unknown or not all(value is None or isinstance(value, str) for value in changes.values()):
            raise bad_request(f"Invalid webhook keys (primary/secondary: a string or null): {changes}")
        primary, secondary = box.webhook_keys
        box.webhook_keys = (changes.get("primary", primary), changes.get("secondary", secondary))
        return json_response(200, keys_json())

    def get_webhook_options(_request: Request, _match: re.Match[str]) -> Response:
        return json_response(200, dataclasses.asdict(box.webhook_options))

    def set_webhook_options(request: Request, _match: re.Match[str]) -> Response:
        changes = _body_of(request)
        options = box.webhook_options
        try:
            for name, value in changes.items():
                if not _webhook_option_ok(name, value):
                    raise ValueError(f"{name}={value!r}")
            updated = dataclasses.replace(options, **changes)
        except (TypeError, ValueError) as error:
            raise bad_request(f"Invalid webhook options: {error}") from None
        for name in changes:
            setattr(options, name, getattr(updated, name))
        return json_response(200, dataclasses.asdict(options))

    router.add("GET", r"/_fake/webhook-keys", get_webhook_keys)
    router.add("POST", r"/_fake/webhook-keys", set_webhook_keys)
    router.add("GET", r"/_fake/webhook-options", get_webhook_options)
    router.add("POST", r"/_fake/webhook-options", set_webhook_options)
    _add_delivery_routes(box, router)


def _add_delivery_routes(box: FakeBox, router: Router[Request]) -> None:
    def list_deliveries(_request: Request, _match: re.Match[str]) -> Response:
        return json_response(200, {"entries": [attempt.to_json() for attempt in box.webhook_deliveries]})

    def clear_deliveries(_request: Request, _match: re.Match[str]) -> Response:
        box.clear_webhook_deliveries()
        return json_response(200, {})

    def wait_for_deliveries(request: Request, _match: re.Match[str]) -> Response:
        timeout = _body_of(request).get("timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise bad_request("'timeout' must be a number of seconds")
        return json_response(200, {"done": box.wait_for_deliveries(float(timeout))})

    def deliver(request: Request, match: re.Match[str]) -> Response:
        spec = _body_of(request)
        tenant = box.tenant
        try:
            with tenant.lock:
                source = spec["source"]
                item = tenant.find_item(source["type"], source["id"])
                if not isinstance(item, File | Folder):
                    raise KeyError(f"{source['type']} {source['id']}")
                login = spec.get("login")
                user = tenant.user_by_login(login) if login else tenant.users[item.owner_id]
                event_id = box.deliver_webhook(
                    match["id"], str(spec["trigger"]), item, user, additional_info=spec.get("additional_info")
                )
        except (KeyError, TypeError) as error:
            raise bad_request(f"Invalid delivery: {error}") from None
        return json_response(201, {"id": event_id})

    def delete(request: Request, match: re.Match[str]) -> Response:
        reason = _body_of(request).get("reason", "auto_cleanup")
        try:
            event_id = box.delete_webhook(match["id"], reason=str(reason))
        except KeyError:
            raise bad_request(f"Unknown webhook {match['id']!r}") from None
        return json_response(200, {"id": event_id})

    router.add("GET", r"/_fake/webhook-deliveries", list_deliveries)
    router.add("POST", r"/_fake/webhook-deliveries/clear", clear_deliveries)
    router.add("POST", r"/_fake/webhook-deliveries/wait", wait_for_deliveries)
    router.add("POST", r"/_fake/webhooks/(?P<id>[^/]+)/deliver", deliver)
    router.add("POST", r"/_fake/webhooks/(?P<id>[^/]+)/delete", delete)
