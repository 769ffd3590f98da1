"""``/2.0/users/me`` and the enterprise user list."""

from __future__ import annotations

import re

from .access import Call, manages_users
from .paging import paginate
from .tenant import User
from .web import Response, bad_request, forbidden, json_response

_USER_TYPES = ("all", "managed", "external")


def get_me(call: Call, _match: re.Match[str]) -> Response:
    return json_response(200, call.renderer.user(call.user, call.fields()))


def get_users(call: Call, _match: re.Match[str]) -> Response:
    if not manages_users(call.user):
        raise forbidden()
    query = call.request.query
    user_type = query.get("user_type", "all")
    if user_type not in _USER_TYPES:
        raise bad_request(f"Invalid value '{user_type}' for query parameter 'user_type'")
    users = sorted(_matching(call, user_type, query.get("filter_term", "")), key=lambda user: int(user.id))
    page = paginate(users, query, max_offset=10_000)
    fields = call.fields()
    entries = [call.renderer.user(user, fields) for user in page.entries]
    return json_response(200, {**page.envelope, "entries": entries})


def _matching(call: Call, user_type: str, term: str) -> list[User]:
    """Managed users whose name or login starts with the term; external ones only on an exact login."""
    term = term.casefold()
    users = call.tenant.users.values()
    managed = [
        user
        for user in users
        if user.enterprise_id == call.tenant.enterprise.id
        and (user.name.casefold().startswith(term) or user.login.casefold().startswith(term))
    ]
    external = [
        user for user in users if user.enterprise_id is None and term and user.login.casefold() == term
    ]
    if user_type == "managed":
        return managed
    if user_type == "external":
        return external
    return managed + external


ROUTES = [
    ("GET", r"/2\.0/users/me", get_me),
    ("GET", r"/2\.0/users", get_users),
]
