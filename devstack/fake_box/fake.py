"""``FakeBox``: the fake Box server's public Python API, and the request pipeline.

Every request goes: control API (``/_fake/``, untouched) or else fault
injection, then routing. ``/2.0/`` calls need a live bearer token and may act
as another user; the tenant lock is held while they run. Each answer gets a
``box-request-id`` header and lands in the request log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from . import (
    routes_events,
    routes_groups,
    routes_items,
    routes_representations,
    routes_users,
    routes_webhooks,
    routes_writes,
)
from .access import Call, bearer_token, resolve_caller
from .authorize import DECISION_PATH, Authorizer
from .control import control_router
from .deliveries import DEFAULT_WEBHOOK_KEYS, Deliverer, DeliveryAttempt, WebhookKeys, WebhookOptions
from .downloads import CONTENT_PREFIX, DownloadLinks
from .eventlog import EventOptions
from .faults import ConnectionDropped, Faults
from .recorder import RecordedRequest, RequestLog, redacted_path
from .seed import seed_tenant
from .server import HttpServer
from .tenant import File, Folder, Notification, Tenant, User
from .tokens import TokenGrant, TokenRevocation, TokenStore
from .web import ApiError, Request, Response, Router, new_request_id, unauthorized
from .webhook_triggers import WebhookDispatcher

_log = logging.getLogger(__name__)


class FakeBox:
    """A fake Box on 127.0.0.1 with one OAuth app (``client_id``/``client_secret``) and a seeded tenant.

    ``clock`` (seconds since the epoch) drives code, token and link expiry and the seed's
    timestamps, so tests can move time. ``tenant`` may be changed while the server runs.
    ``history=False`` seeds only the 21 hand-written events instead of 90 days of them.
    ``tenant_factory`` replaces the seeded tenant (at start and on every ``reset()``), e.g.
    ``lambda: synthetic_tenant(files=100_000, clock=clock)``; ``history`` then does nothing.

    The event options (see ``EventOptions`` and the README) start as given here and live in
    ``event_options``, which every tenant of this fake shares, across ``reset()`` too:
    ``admin_logs_latency`` (seconds), ``admin_logs_short_pages``, ``streaming_duplicates``
    and ``streaming_empty_pages`` (every Nth; 0 is off).

    Webhooks: deliveries are signed with ``webhook_keys`` (primary, secondary; either may be
    None), read at every attempt, so assigning ``box.webhook_keys`` rotates them. The other
    webhook options live in ``webhook_options`` (``WebhookOptions``, changeable at any time):
    ``retries`` and ``retry_delay`` (seconds, doubling), ``timeout`` per attempt, and
    ``limit_per_user`` (webhooks per app per user). Every attempt is in ``webhook_deliveries``;
    ``wait_for_deliveries()`` waits for the queue to drain.
    """

    def __init__(
        self,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",  # noqa: S107 (the fake app's, not a real one)
        *,
        port: int = 0,
        access_token_ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,
        history: bool = True,
        admin_logs_latency: float = 0.0,
        admin_logs_short_pages: bool = False,
        streaming_duplicates: int = 0,
        streaming_empty_pages: int = 0,
        webhook_keys: WebhookKeys = DEFAULT_WEBHOOK_KEYS,
        webhook_retries: int = 3,
        webhook_retry_delay: float = 0.05,
        webhook_timeout: float = 10.0,
        webhook_limit_per_user: int = 1000,
        tenant_factory: Callable[[], Tenant] | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self._tenant_factory = tenant_factory
        self._port = port
        self._clock = clock
        self._history = history
        self.event_options = EventOptions(
            admin_logs_latency=admin_logs_latency,
            admin_logs_short_pages=admin_logs_short_pages,
            streaming_duplicates=streaming_duplicates,
            streaming_empty_pages=streaming_empty_pages,
        )
        self.webhook_keys: WebhookKeys = webhook_keys
        self.webhook_options = WebhookOptions(
            retries=webhook_retries,
            retry_delay=webhook_retry_delay,
            timeout=webhook_timeout,
            limit_per_user=webhook_limit_per_user,
        )
        self._deliverer = Deliverer(self.webhook_options, lambda: self.webhook_keys, clock)
        self._tokens = TokenStore(
            client_id, client_secret, access_token_ttl=access_token_ttl, clock=clock, login_of=self._login_of
        )
        self._webhooks = WebhookDispatcher(self._deliverer, self._tokens.session_alive)
        self._tenant = self._adopt(self._seed())
        self.faults = Faults()
        self._log = RequestLog()
        self._downloads = DownloadLinks(lambda: self.url, lambda: self.tenant, clock)
        self._api: Router[Call] = Router()
        for method, pattern, handler in (
            *routes_users.ROUTES,
            *routes_groups.ROUTES,
            *routes_items.ROUTES,
            *routes_representations.ROUTES,
            *routes_events.ROUTES,
            *routes_webhooks.ROUTES,
            *routes_writes.ROUTES,
        ):
            self._api.add(method, pattern, handler)
        authorizer = Authorizer(client_id, lambda: self.tenant, self._tokens)
        self._public: Router[Request] = Router()
        self._public.add("POST", r"/oauth2/token", self._tokens.token_endpoint)
        self._public.add("POST", r"/oauth2/revoke", self._tokens.revoke_endpoint)
        self._public.add("GET", r"/api/oauth2/authorize", authorizer.authorize)
        self._public.add("GET", DECISION_PATH, authorizer.decision)
        self._public.add("POST", DECISION_PATH, authorizer.decision)
        self._public.add("GET", CONTENT_PREFIX + r"(?P<token>[^/]+)", self._downloads.serve)
        self._control = control_router(self)
        self._server: HttpServer | None = None

    # ----- lifecycle ------------------------------------------------------

    def start(self) -> FakeBox:
        if self._server is None:
            self._server = HttpServer(self._dispatch, self._port)
            self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving; deliveries not finished are dropped."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._deliverer.cancel()

    def __enter__(self) -> FakeBox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def tenant(self) -> Tenant:
        return self._tenant

    @tenant.setter
    def tenant(self, tenant: Tenant) -> None:
        """A replacement tenant sends webhook deliveries too, and reads this fake's ``event_options``.

        It lasts until ``reset()``, which builds a new one (with ``tenant_factory``, or the seed).
        """
        self._tenant = self._adopt(tenant)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeBox is not started")
        return self._server.url

    def base_urls(self) -> dict[str, str]:
        """Keyword arguments for boxsdk's ``BaseUrls`` that point it here."""
        url = self.url
        return {"base_url": url, "upload_url": f"{url}/api", "oauth_2_url": f"{url}/api/oauth2"}

    # ----- test controls --------------------------------------------------

    def expire_access_tokens(self) -> int:
        """Make every access token issued so far answer 401; returns how many were live."""
        return self._tokens.expire_access_tokens()

    def revoke_refresh_tokens(self, login: str | None = None) -> int:
        """Make refresh grants fail with invalid_grant, for one user (by login) or everyone."""
        if login is None:
            return self._tokens.revoke_refresh_tokens()
        user_id = self.tenant.user_by_login(login).id
        return self._tokens.revoke_refresh_tokens([user_id])

    def reset(self) -> None:
        """Rebuild the tenant (the seed, or ``tenant_factory``'s) and forget faults, logged requests
        and webhook deliveries (pending too).

        Tokens stay valid (ids are stable); the event and webhook options and keys stay as set.
        """
        self._deliverer.cancel()
        self._deliverer.clear()
        self.tenant = self._seed()
        self.faults.clear()
        self._log.clear()

    def _seed(self) -> Tenant:
        if self._tenant_factory is not None:
            return self._tenant_factory()
        return seed_tenant(self._clock, history=self._history, event_options=self.event_options)

    def _adopt(self, tenant: Tenant) -> Tenant:
        with tenant.lock:
            tenant.event_options = self.event_options
            if self._webhooks not in tenant.listeners:
                tenant.listeners.append(self._webhooks)
        return tenant

    # ----- webhooks -------------------------------------------------------

    @property
    def webhook_deliveries(self) -> list[DeliveryAttempt]:
        """Every delivery attempt so far (retries are further entries with the same ``event_id``)."""
        return self._deliverer.attempts()

    def clear_webhook_deliveries(self) -> None:
        self._deliverer.clear()

    def wait_for_deliveries(self, timeout: float | None = 10.0) -> bool:
        """Wait until every delivery queued so far succeeded or ran out of retries; False on timeout."""
        return self._deliverer.wait(timeout)

    def deliver_webhook(
        self,
        webhook_id: str,
        trigger: str,
        source_item: File | Folder,
        user: User,
        *,
        additional_info: Any = None,
    ) -> str:
        """Send one delivery of ``trigger`` about ``source_item`` done by ``user``, whatever the
        webhook's triggers and target; returns the payload's ``id``."""
        tenant = self.tenant
        with tenant.lock:
            webhook = tenant.webhooks[webhook_id]
            return self._webhooks.deliver(tenant, webhook, trigger, source_item, user, additional_info)

    def delete_webhook(self, webhook_id: str, *, reason: str = "auto_cleanup", by: User | None = None) -> str:
        """Delete the webhook on Box's side (an admin, Box's cleanup) and send its ``WEBHOOK.DELETED``
        with ``additional_info: {"reason": reason}``; returns the payload's ``id``."""
        tenant = self.tenant
        with tenant.lock:
            webhook = tenant.webhooks[webhook_id]
            return self._webhooks.webhook_deleted(tenant, webhook, reason=reason, by=by)

    @property
    def notifications(self) -> list[Notification]:
        """What Box would have told people about each API write, and whether it was suppressed."""
        tenant = self.tenant
        with tenant.lock:
            return list(tenant.notifications)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._log.entries()

    def count(
        self, method: str | None = None, path_regex: str | None = None, status: int | None = None
    ) -> int:
        return self._log.count(method, path_regex, status)

    def clear_requests(self) -> None:
        self._log.clear()

    @property
    def token_grants(self) -> list[TokenGrant]:
        return self._tokens.grants

    @property
    def token_revocations(self) -> list[TokenRevocation]:
        """Every call to ``/oauth2/revoke``: whose grant it ended (tokens themselves are not kept)."""
        return self._tokens.revocations

    # ----- pipeline -------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        request_id = new_request_id()
        control = request.path.startswith("/_fake/")
        try:
            if control:
                response = self._control.dispatch(request, request.method, request.path)
            else:
                response = self._box_call(request)
        except ApiError as error:
            response = error.to_response(request_id)
        except ConnectionDropped:
            self._log.record(request, 0)
            raise
        except Exception:
            _log.exception("fake Box failed on %s %s", request.method, redacted_path(request.path))
            response = ApiError(500, "internal_server_error", "Internal Server Error").to_response(request_id)
        response.headers.append(("box-request-id", request_id))
        if not control:
            self._log.record(request, response.status)
        return response

    def _box_call(self, request: Request) -> Response:
        fault = self.faults.take(request.method, request.path)
        if fault is not None:
            time.sleep(fault.delay_seconds)
            if fault.drop:
                raise ConnectionDropped
            error = fault.error()
            if error is not None:
                raise error
        if not request.path.startswith("/2.0/"):
            return self._public.dispatch(request, request.method, request.path)
        token = bearer_token(request)
        user_id = self._tokens.authenticate(token) if token else None
        if user_id is None:
            raise unauthorized()
        tenant = self.tenant
        with tenant.lock:
            caller = resolve_caller(tenant, user_id, request.header("as-user"))
            call = Call(
                request, tenant, caller, self.client_id, self._downloads, self.webhook_options, self.url
            )
            return self._api.dispatch(call, request.method, request.path)

    def _login_of(self, user_id: str) -> str | None:
        tenant = self.tenant
        with tenant.lock:
            user = tenant.users.get(user_id)
        return None if user is None else user.login
