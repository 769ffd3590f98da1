"""The browser side of OAuth: Box's authorize page, reduced to "sign in as" plus Allow/Deny.

``GET /api/oauth2/authorize`` shows a consent page listing the tenant's active
users. Its form posts to ``/api/oauth2/authorize/decision``, which redirects to
the app's ``redirect_uri`` with ``code`` and ``state`` (or
``error=access_denied``). Automation can skip the page: ``login=<user>`` and
``decision=allow|deny`` on the authorize URL redirect at once. ``state`` is
handed back exactly as received.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from .tenant import Tenant, User
from .tokens import TokenStore
from .web import Request, Response, html_response, redirect

DECISION_PATH = "/api/oauth2/authorize/decision"
_CARRIED_PARAMS = ("response_type", "client_id", "redirect_uri", "state", "scope")
_DENIED = "The user denied access to your application"


class _PageError(Exception):
    """Box shows these on its own page instead of redirecting: the redirect target is not trusted."""


class Authorizer:
    def __init__(self, client_id: str, tenant: Callable[[], Tenant], tokens: TokenStore) -> None:
        self._client_id = client_id
        self._tenant = tenant
        self._tokens = tokens

    def authorize(self, request: Request, _match: re.Match[str]) -> Response:
        params = request.query
        try:
            self._check(params)
        except _PageError as error:
            return _error_page(str(error))
        if "decision" in params:
            return self._decide(params)
        return html_response(200, self._consent_page(params))

    def decision(self, request: Request, _match: re.Match[str]) -> Response:
        params = request.form() if request.method == "POST" else request.query
        try:
            self._check(params)
        except _PageError as error:
            return _error_page(str(error))
        return self._decide(params)

    def _check(self, params: Mapping[str, str]) -> None:
        if params.get("client_id") != self._client_id:
            raise _PageError("The client_id is not valid: no such application.")
        if params.get("response_type") != "code":
            raise _PageError("The response_type must be 'code'.")
        target = urlsplit(params.get("redirect_uri", ""))
        if target.scheme not in ("http", "https") or not target.netloc:
            raise _PageError("The redirect_uri is missing or is not an absolute http(s) URL.")

    def _decide(self, params: Mapping[str, str]) -> Response:
        decision = params.get("decision")
        if decision == "deny":
            return redirect(
                _with_query(
                    params["redirect_uri"],
                    {"error": "access_denied", "error_description": _DENIED},
                    params.get("state"),
                )
            )
        if decision != "allow":
            return _error_page("The decision must be 'allow' or 'deny'.")
        user = self._signing_in(params.get("login", ""))
        if user is None:
            return _error_page("Unknown login, or the account is suspended.")
        code = self._tokens.issue_code(user.id, params["redirect_uri"])
        return redirect(_with_query(params["redirect_uri"], {"code": code}, params.get("state")))

    def _signing_in(self, login: str) -> User | None:
        tenant = self._tenant()
        with tenant.lock:
            try:
                user = tenant.user_by_login(login)
            except KeyError:
                return None
        return user if user.is_active else None

    def _consent_page(self, params: Mapping[str, str]) -> str:
        tenant = self._tenant()
        with tenant.lock:
            users = [user for user in tenant.users.values() if user.is_active and user.enterprise_id]
        hidden = "".join(
            f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
            for name in _CARRIED_PARAMS
            if name in params
        )
        choices = "".join(
            f'<li><label><input type="radio" name="login" value="{html.escape(user.login)}"'
            f"{' checked' if index == 0 else ''}> {html.escape(user.name)} "
            f"&lt;{html.escape(user.login)}&gt; ({user.role})</label></li>"
            for index, user in enumerate(users)
        )
        return (
            "<!doctype html><html><head><title>Grant access to Box</title></head><body>"
            f"<h1>Grant access to Box ({html.escape(tenant.enterprise.name)})</h1>"
            "<p>An application wants to read and write your Box content. Sign in as:</p>"
            f'<form method="post" action="{DECISION_PATH}">{hidden}<ul>{choices}</ul>'
            '<button type="submit" name="decision" value="allow">Allow</button> '
            '<button type="submit" name="decision" value="deny">Deny</button>'
            "</form></body></html>"
        )


def _with_query(uri: str, params: dict[str, str], state: str | None) -> str:
    if state is not None:
        params = {**params, "state": state}
    parts = urlsplit(uri)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


def _error_page(message: str) -> Response:
    return html_response(
        400,
        "<!doctype html><html><head><title>Box - error</title></head><body>"
        f"<h1>Something went wrong</h1><p>{html.escape(message)}</p></body></html>",
    )
