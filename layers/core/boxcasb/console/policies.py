"""Policies: those in force for a connection, validating and uploading its overrides, the dry-run report.

A document is checked here first (`load_text`: syntax and fields, with lines, no AWS call), then by
the API with `dry_run` (ids and patterns against the deployed policies), and only then applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from boxcasb.cli.api_client import ApiError
from boxcasb.cli.policies import dry_run_report
from boxcasb.console.app import CONNECTION_ID, Console, InvalidInput, chosen, form_connection
from boxcasb.console.web import Request, Response, href, redirect
from boxcasb.policies.loader import InvalidPolicies, load_text

SOURCE = "overrides"  # the name the API gives a connection's document in problems and sources
ACTIONS = frozenset({"validate", "apply", "clear"})


@dataclass(frozen=True)
class Problem:
    line: int | None
    field: str
    message: str


def page(console: Console, request: Request, _match: re.Match[str]) -> Response:
    connections = console.connections()
    connection = chosen(connections, request)
    return _policies_page(console, request, connections, connection)


def submit(console: Console, request: Request, _match: re.Match[str]) -> Response:
    cid = form_connection(request)
    action = request.form.get("action", "")
    if action not in ACTIONS:
        raise InvalidInput("action: validate, apply or clear")
    text = "" if action == "clear" else (request.form.get("file") or request.form.get("yaml", ""))
    problems = _checked(console, cid, text)
    if problems or action == "validate":
        connections = console.connections()
        connection = next((c for c in connections if c["connection_id"] == cid), None)
        return _policies_page(
            console,
            request,
            connections,
            connection,
            status=400 if problems else 200,
            text=text,
            problems=problems,
            valid=not problems,
        )
    console.call("PUT", f"/connections/{cid}/policies", {"yaml": text, "dry_run": False})
    return redirect(href("/policies", connection=cid, notice="cleared" if action == "clear" else "applied"))


def dry_run(console: Console, request: Request, _match: re.Match[str]) -> Response:
    cid = request.arg("connection") or ""
    if not re.fullmatch(CONNECTION_ID, cid):
        raise InvalidInput("connection: not a connection id")
    proposed, summary = dry_run_report(console.api, cid)
    return console.page(
        request,
        "dry_run.html",
        "policies",
        "Dry-run report",
        connection_id=cid,
        proposed=sorted(proposed, key=lambda p: (p["policy_id"], p["path"], p["action"])),
        summary=summary.splitlines()[0],
        nav_connection=cid,
    )


def _checked(console: Console, cid: str, text: str) -> list[Problem]:
    """Every problem with `text` as the connection's overrides; none when it would apply."""
    try:
        load_text(text, SOURCE)
    except InvalidPolicies as exc:
        return [Problem(p.line, p.field, p.message) for p in exc.problems]
    try:
        console.call("PUT", f"/connections/{cid}/policies", {"yaml": text, "dry_run": True})
    except ApiError as exc:
        if exc.status != 400:
            raise
        return [
            Problem(d.get("line"), str(d.get("field") or ""), str(d.get("message") or exc.message))
            for d in exc.details
        ] or [Problem(None, "", exc.message)]
    return []


def _policies_page(
    console: Console,
    request: Request,
    connections: list[dict[str, Any]],
    connection: dict[str, Any] | None,
    status: int = 200,
    text: str | None = None,
    problems: list[Problem] | None = None,
    valid: bool = False,
) -> Response:
    answer: dict[str, Any] = {}
    if connection is not None:
        answer = console.call("GET", f"/connections/{connection['connection_id']}/policies")
    overrides = answer.get("overrides") or None
    return console.page(
        request,
        "policies.html",
        "policies",
        "Policies",
        status,
        connections=connections,
        connection=connection,
        policies=answer.get("policies") or [],
        version=answer.get("version"),
        overrides=overrides,
        text=(overrides or {}).get("text", "") if text is None else text,
        problems=problems or [],
        valid=valid,
        nav_connection=connection["connection_id"] if connection else None,
    )
