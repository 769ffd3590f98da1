"""Who is calling the API: the bearer token's user, who they act as (As-User), and the call context.

As-User rules, from Box's guides: only admins and co-admins with "Manage
users" may use it; a co-admin may act only as plain users; nobody may name
themselves; the target must be an active user of the same enterprise.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from .deliveries import WebhookOptions
from .downloads import DownloadLinks
from .render import Renderer, rep_hints
from .tenant import Tenant, User
from .web import ApiError, Request, forbidden, unauthorized


@dataclass(frozen=True)
class Caller:
    token_user: User  # who authorized the app
    user: User  # who the call acts as: the As-User target, or the token's user


def bearer_token(request: Request) -> str | None:
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def resolve_caller(tenant: Tenant, token_user_id: str, as_user: str | None) -> Caller:
    token_user = tenant.users.get(token_user_id)
    # A suspended user's tokens stop working.
    if token_user is None or not token_user.is_active:
        raise unauthorized()
    if as_user is None:
        return Caller(token_user, token_user)
    return Caller(token_user, _impersonate(tenant, token_user, as_user.strip()))


def manages_users(user: User) -> bool:
    return user.role == "admin" or (user.role == "coadmin" and user.can_manage_users)


def manages_groups(user: User) -> bool:
    return user.role == "admin" or (user.role == "coadmin" and user.can_manage_groups)


def reads_admin_logs(user: User) -> bool:
    return user.role in ("admin", "coadmin") and user.can_read_admin_logs


def _impersonate(tenant: Tenant, actor: User, target_id: str) -> User:
    if not manages_users(actor):
        raise forbidden()
    target = tenant.users.get(target_id)
    if target is None:
        # Box's answer for an unknown As-User id is not documented; 404 is our pick.
        raise ApiError(404, "not_found", "Not Found")
    if target.id == actor.id:
        raise forbidden("As-User cannot name the authenticated user")
    if target.enterprise_id != actor.enterprise_id:
        raise forbidden()
    if actor.role == "coadmin" and target.role != "user":
        raise forbidden()
    if not target.is_active:
        raise forbidden("The As-User target is not active")
    return target


@dataclass
class Call:
    """Everything an API handler needs; the tenant lock is held for the call's duration."""

    request: Request
    tenant: Tenant
    caller: Caller
    client_id: str
    downloads: DownloadLinks
    webhook_options: WebhookOptions = field(default_factory=WebhookOptions)
    base_url: str = ""  # the fake's own URL, for the URLs its answers carry

    @property
    def user(self) -> User:
        return self.caller.user

    @functools.cached_property
    def renderer(self) -> Renderer:
        hints = rep_hints(self.request.header("x-rep-hints"))
        return Renderer(self.tenant, self.user, base_url=self.base_url, hints=hints)

    def fields(self) -> list[str] | None:
        raw = self.request.query.get("fields")
        if raw is None:
            return None
        return [name.strip() for name in raw.split(",") if name.strip()]
