"""App connectors: the Box connections, connecting one ("Follow this link"), and the Test API."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from boxcasb.console.app import Console, form_connection
from boxcasb.console.templates import parse_time
from boxcasb.console.web import Request, Response, href, redirect

TERMINAL_TEST = frozenset({"passed", "warning", "failed"})


def index(console: Console, request: Request, _match: re.Match[str]) -> Response:
    return console.page(
        request, "connectors.html", "connectors", "App connectors", connections=console.connections()
    )


def connect(console: Console, request: Request, _match: re.Match[str]) -> Response:
    """The "+" of the product page: a new connection (or a re-authorization) and its Box link."""
    reconnect = form_connection(request, "reconnect") if request.form.get("reconnect") else None
    started = console.call("POST", "/connections", {"reconnect": reconnect} if reconnect else {})
    connection_id = str(started["connection_id"])
    console.links.put(connection_id, str(started["authorize_url"]), str(started["expires_at"]))
    return redirect(f"/connections/{connection_id}")


def detail(console: Console, request: Request, match: re.Match[str]) -> Response:
    connection_id = match["connection"]
    connection = console.call("GET", f"/connections/{connection_id}")
    authorization = connection.get("authorization") or {}
    expires = parse_time(authorization.get("expires_at"))
    waiting = (
        authorization.get("state") == "awaiting_consent"
        and expires is not None
        and expires > datetime.now(UTC)
    )
    if not waiting:
        console.links.forget(connection_id)
    return console.page(
        request,
        "connection.html",
        "connectors",
        connection.get("enterprise_name") or "Box connection",
        connection=connection,
        link=console.links.get(connection_id),
        waiting=waiting,
        testing=waiting or _testing(connection),
        nav_connection=connection_id if connection.get("status") == "connected" else None,
    )


def run_test(console: Console, _request: Request, match: re.Match[str]) -> Response:
    connection_id = match["connection"]
    console.call("POST", f"/connections/{connection_id}/test")
    return redirect(href(f"/connections/{connection_id}", notice="test_started"))


def _testing(connection: dict[str, Any]) -> bool:
    """Whether a Test API result is still to come: the callback starts one on every connect."""
    test = connection.get("last_test")
    if test is None:
        return (connection.get("authorization") or {}).get("state") == "completed"
    return test.get("outcome") not in TERMINAL_TEST
