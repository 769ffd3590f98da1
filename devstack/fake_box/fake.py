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

from . import routes_events, routes_items, routes_users, routes_webhooks
from .access import Call, bearer_token, resolve_caller
from .authorize import DECISION_PATH, Authorizer
from .control import control_router
from .downloads import CONTENT_PREFIX, DownloadLinks
from .eventlog import EventOptions
from .faults import Faults
from .recorder import RecordedRequest, RequestLog, redacted_path
from .seed import seed_tenant
from .server import HttpServer
from .tenant import Tenant
from .tokens import TokenGrant, TokenStore
from .web import ApiError, Request, Response, Router, new_request_id, unauthorized

_log = logging.getLogger(__name__)


class FakeBox:
    """A fake Box on 127.0.0.1 with one OAuth app (``client_id``/``client_secret``) and a seeded tenant.

    ``clock`` (seconds since the epoch) drives code, token and link expiry and the seed's
    timestamps, so tests can move time. ``tenant`` may be changed while the server runs.
    ``history=False`` seeds only the 21 hand-written events instead of 90 days of them.

    The event options (see ``EventOptions`` and the README) start as given here and live in
    ``event_options``, which every tenant of this fake shares, across ``reset()`` too:
    ``admin_logs_latency`` (seconds), ``admin_logs_short_pages``, ``streaming_duplicates``
    and ``streaming_empty_pages`` (every Nth; 0 is off).
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
    ) -> None:
        self.client_id = client_id
        self._port = port
        self._clock = clock
        self._history = history
        self.event_options = EventOptions(
            admin_logs_latency=admin_logs_latency,
            admin_logs_short_pages=admin_logs_short_pages,
            streaming_duplicates=streaming_duplicates,
            streaming_empty_pages=streaming_empty_pages,
        )
        self.tenant: Tenant = self._seed()
        self.faults = Faults()
        self._log = RequestLog()
        self._tokens = TokenStore(
            client_id, client_secret, access_token_ttl=access_token_ttl, clock=clock, login_of=self._login_of
        )
        self._downloads = DownloadLinks(lambda: self.url, lambda: self.tenant, clock)
        self._api: Router[Call] = Router()
        for method, pattern, handler in (
            *routes_users.ROUTES,
            *routes_items.ROUTES,
            *routes_events.ROUTES,
            *routes_webhooks.ROUTES,
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
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeBox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

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
        """Reseed the tenant and forget faults and logged requests. Tokens stay valid (ids are stable)."""
        self.tenant = self._seed()
        self.faults.clear()
        self._log.clear()

    def _seed(self) -> Tenant:
        return seed_tenant(self._clock, history=self._history, event_options=self.event_options)

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
            call = Call(request, tenant, caller, self.client_id, self._downloads)
            return self._api.dispatch(call, request.method, request.path)

    def _login_of(self, user_id: str) -> str | None:
        tenant = self.tenant
        with tenant.lock:
            user = tenant.users.get(user_id)
        return None if user is None else user.login
