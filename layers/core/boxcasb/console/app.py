"""The console's pages behind one dispatcher: routes, the shared page frame, errors mapped once.

Views are functions `(Console, Request, re.Match) -> Response`; each calls the admin API through
`Console.api` (an `AdminApi`: SigV4 with the admin's credentials) and renders one template.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from jinja2 import Environment

from boxcasb.cli.api_client import AdminApi, ApiError
from boxcasb.cli.listing import query_string
from boxcasb.console.templates import parse_time, render
from boxcasb.console.web import Request, Response

CONNECTION_ID = r"[0-9a-f-]{36}"

# What a redirect after a POST may announce: fixed texts, chosen by key, so a link can't make the
# console say anything else.
NOTICES = {
    "test_started": "Test API started: each check appears below as Box answers.",
    "scan_started": "Scan started: its progress appears below.",
    "dismissed": "Alert dismissed.",
    "applied": "Policy overrides applied.",
    "cleared": "Policy overrides removed: the deployed policies alone are in force.",
}


class InvalidInput(ValueError):
    """A form or query value the console won't pass on: shown as a 400 page, nothing changes."""


def form_connection(request: Request, name: str = "connection") -> str:
    value = request.form.get(name, "")
    if not re.fullmatch(CONNECTION_ID, value):
        raise InvalidInput(f"{name}: not a connection id")
    return value


class PendingLinks:
    """Authorize links the admin has not followed yet, by connection: the API hands a link out once
    (it carries a single-use OAuth state), and the page that shows it is reloaded while Box asks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._links: dict[str, tuple[str, datetime]] = {}

    def put(self, connection_id: str, url: str, expires_at: str) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ApiError(502, "bad_link", "the admin API returned an authorize link that is not http(s)")
        until = parse_time(expires_at) or datetime.now(UTC)
        with self._lock:
            self._links[connection_id] = (url, until)

    def get(self, connection_id: str) -> str | None:
        with self._lock:
            found = self._links.get(connection_id)
            if found is None or found[1] <= datetime.now(UTC):
                self._links.pop(connection_id, None)
                return None
            return found[0]

    def forget(self, connection_id: str) -> None:
        with self._lock:
            self._links.pop(connection_id, None)


@dataclass
class Console:
    api: AdminApi
    env: Environment
    csrf: str
    links: PendingLinks = field(default_factory=PendingLinks)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.api.request(method, path, body)

    def page(
        self, request: Request, template: str, active: str, title: str, status: int = 200, **values: Any
    ) -> Response:
        frame = {
            "title": title,
            "active": active,
            "csrf": self.csrf,
            "notice": NOTICES.get(request.arg("notice") or ""),
            "nav_connection": None,
        }
        return Response(status, render(self.env, template, frame | values))

    def connections(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.call("GET", "/connections").get("connections") or []
        return found

    def pages(
        self, path: str, key: str, params: Mapping[str, str | None], max_pages: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Every item of up to `max_pages` pages, and whether more were left unread."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(max_pages):
            answer = self.call("GET", path + query_string(params, cursor))
            items.extend(answer.get(key) or [])
            cursor = answer.get("cursor")
            if not cursor:
                return items, False
        return items, True


def chosen(connections: Sequence[dict[str, Any]], request: Request) -> dict[str, Any] | None:
    """The connection a page is about: the one asked for, else the first connected one."""
    wanted = request.arg("connection")
    for connection in connections:
        if connection["connection_id"] == wanted:
            return connection
    connected = [c for c in connections if c.get("status") == "connected"]
    candidates = connected or list(connections)
    return candidates[0] if candidates else None


View = Callable[[Console, Request, re.Match[str]], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    view: View


def route(method: str, pattern: str, view: View) -> Route:
    return Route(method, re.compile(f"^{pattern}$"), view)


def dispatch(console: Console, routes: Sequence[Route], request: Request) -> Response:
    methods: set[str] = set()
    for candidate in routes:
        match = candidate.pattern.match(request.path)
        if match is None:
            continue
        if candidate.method != request.method:
            methods.add(candidate.method)
            continue
        try:
            return candidate.view(console, request, match)
        except ApiError as exc:
            return error_page(console, request, exc)
        except InvalidInput as exc:
            return error_page(console, request, ApiError(400, "invalid_input", str(exc)))
        except requests.RequestException as exc:
            return error_page(
                console,
                request,
                ApiError(0, "unreachable", f"the admin API did not answer ({type(exc).__name__})"),
            )
    if methods:
        return Response(
            405, b"Method not allowed", "text/plain; charset=utf-8", (("Allow", ", ".join(methods)),)
        )
    return console.page(
        request, "error.html", "", "Not found", 404, message="No such page.", code="not_found"
    )


def error_page(console: Console, request: Request, exc: ApiError) -> Response:
    """The admin API's refusal shown as it came (a 4xx names what was wrong); anything else is a 502."""
    status = exc.status if 400 <= exc.status < 500 else 502
    return console.page(
        request,
        "error.html",
        "",
        "The admin API refused" if status < 500 else "The admin API failed",
        status,
        message=exc.message,
        code=exc.code,
        details=exc.details,
    )
