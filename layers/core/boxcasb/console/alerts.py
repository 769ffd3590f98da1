"""Alerts: filter them, see one's policy, masked evidence and governance actions, dismiss it."""

from __future__ import annotations

import re
from typing import Any

from boxcasb.cli.api_client import ApiError
from boxcasb.cli.listing import query_string
from boxcasb.console.app import CONNECTION_ID, Console, InvalidInput, form_connection
from boxcasb.console.web import Request, Response, href, redirect

STATUSES = ("open", "dismissed", "resolved")
SEVERITIES = ("low", "medium", "high", "critical")
PAGE_SIZE = 50
REASON_MAX = 1000  # the API's limit


def page(console: Console, request: Request, _match: re.Match[str]) -> Response:
    connections = console.connections()
    filters = {
        "connection": request.arg("connection"),
        "status": request.arg("status"),
        "severity": request.arg("severity"),
        "policy": request.arg("policy"),
    }
    alerts: list[dict[str, Any]] = []
    cursor: str | None = None
    problem: str | None = None
    try:
        answer = console.call(
            "GET", "/alerts" + query_string(filters | {"limit": str(PAGE_SIZE)}, request.arg("cursor"))
        )
        alerts, cursor = answer.get("alerts") or [], answer.get("cursor")
    except ApiError as exc:
        if exc.status != 400:
            raise
        problem = exc.message
    return console.page(
        request,
        "alerts.html",
        "alerts",
        "Alerts",
        connections=connections,
        filters={k: v or "" for k, v in filters.items()},
        statuses=STATUSES,
        severities=SEVERITIES,
        alerts=alerts,
        cursor=cursor,
        problem=problem,
        nav_connection=filters["connection"],
    )


def detail(console: Console, request: Request, match: re.Match[str]) -> Response:
    cid = request.arg("connection") or ""
    if not re.fullmatch(CONNECTION_ID, cid):
        raise InvalidInput("an alert is shown with its connection (follow a link from Alerts)")
    alert = console.call("GET", f"/alerts/{match['alert']}?connection={cid}")
    policies = console.call("GET", f"/connections/{cid}/policies").get("policies") or []
    policy = next((p for p in policies if p.get("id") == alert.get("policy_id")), None)
    return console.page(
        request,
        "alert.html",
        "alerts",
        f"Alert: {alert.get('policy_name') or alert.get('policy_id')}",
        alert=alert,
        policy=policy,
        taken=[a for a in alert.get("actions") or [] if a.get("result") != "would_apply"],
        proposed=[a for a in alert.get("actions") or [] if a.get("result") == "would_apply"],
        reason_max=REASON_MAX,
        nav_connection=cid,
    )


def dismiss(console: Console, request: Request, match: re.Match[str]) -> Response:
    cid = form_connection(request)
    reason = request.form.get("reason", "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(f"a dismissal needs a reason (1 to {REASON_MAX} characters)")
    body = {"connection_id": cid, "status": "dismissed", "reason": reason}
    console.call("PATCH", f"/alerts/{match['alert']}", body)
    return redirect(href(f"/alerts/{match['alert']}", connection=cid, notice="dismissed"))
