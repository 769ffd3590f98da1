"""Connecting a Box enterprise: the authorize link, then the OAuth callback's outcome."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from boxcasb.app_credentials import AppCredentialsProvider
from boxcasb.clock import Clock, utc_now
from boxcasb.errors import (
    AppCredentialsRejected,
    AppNotConfigured,
    AuthorizationCodeRejected,
    BoxCasbError,
    Conflict,
    InvalidRequest,
    NotFound,
)
from boxcasb.jobs import JobNotStarted
from boxcasb.models import (
    Authorization,
    AuthorizationState,
    BoxUser,
    Connection,
    ConnectionStatus,
    OAuthStateRecord,
)
from boxcasb.observability import logger
from boxcasb.settings import Settings
from boxcasb.state_store import OAuthStateRejected, StateStore
from boxcasb.token_store import TokenStore

if TYPE_CHECKING:  # the admin API imports this module and must not pay for boxsdk
    from boxcasb.box_gateway import BoxGatewayFactory

# token_urlsafe(32) gives 43 characters; accept a little slack but nothing that isn't ours.
_STATE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
# Box codes are short opaque strings; the bound keeps a hostile query from reaching Box.
_CODE_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{1,512}$")


@dataclass(frozen=True)
class ConnectStart:
    connection_id: str
    authorize_url: str
    expires_at: str


class CallbackResult(StrEnum):
    CONNECTED = "connected"
    DENIED = "denied"
    BAD_STATE = "bad_state"
    FAILED = "failed"


@dataclass(frozen=True)
class CallbackOutcome:
    result: CallbackResult
    title: str
    message: str
    next_step: str
    connection: Connection | None = None


class ConnectService:
    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        tokens: TokenStore,
        gateways: Callable[[], BoxGatewayFactory],  # deferred: only the callback needs Box
        credentials: AppCredentialsProvider,
        start_api_test: Callable[[str, str], None],
        start_activity: Callable[[str, datetime], None],
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._tokens = tokens
        self._gateways = gateways
        self._credentials = credentials
        self._start_api_test = start_api_test
        self._start_activity = start_activity
        self._clock = clock

    def start(self, redirect_uri: str, reconnect_id: str | None = None) -> ConnectStart:
        """A new connection (or a re-authorization of `reconnect_id`) and its one-time Box link."""
        credentials = self._credentials.get(self._clock().timestamp())  # fail before writing
        now = self._clock()
        expires_at = now + timedelta(seconds=self._settings.oauth_state_ttl_seconds)
        authorization = Authorization(
            state=AuthorizationState.AWAITING_CONSENT, started_at=now, expires_at=expires_at
        )
        if reconnect_id is None:
            connection_id = str(uuid.uuid4())
            self._store.create_connection(
                Connection(
                    connection_id=connection_id,
                    status=ConnectionStatus.PENDING,
                    created_at=now,
                    updated_at=now,
                    authorization=authorization,
                )
            )
        else:
            connection_id = reconnect_id

            def reauthorize(c: Connection) -> Connection:
                if c.status.retired:
                    raise Conflict(
                        f"connection {connection_id} is {c.status.value}: it can't be reconnected; "
                        "start a new connection (`boxcasb connect`)"
                    )
                return c.model_copy(update={"authorization": authorization, "updated_at": now})

            self._store.update_connection(connection_id, reauthorize)
        state = secrets.token_urlsafe(32)
        self._store.put_oauth_state(
            state,
            OAuthStateRecord(connection_id=connection_id, redirect_uri=redirect_uri, expires_at=expires_at),
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": credentials.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return ConnectStart(
            connection_id=connection_id,
            authorize_url=f"{self._settings.box_authorize_url}?{query}",
            expires_at=expires_at.isoformat(),
        )

    def complete(
        self,
        state: str | None,
        code: str | None,
        error: str | None,
        error_description: str | None,
    ) -> CallbackOutcome:
        """Handle Box's redirect. Never raises: every path ends in a page the admin can act on."""
        if not state or not _STATE_PATTERN.match(state):
            return _bad_state("The link is missing its state or the state is malformed.")
        try:
            record = self._store.consume_oauth_state(state, self._clock())
        except OAuthStateRejected as exc:
            return _bad_state(_STATE_REASONS[exc.reason])
        connection_id = record.connection_id
        logger.append_keys(connection_id=connection_id)
        if error:
            return self._denied(connection_id, error, error_description)
        if not code or not _CODE_PATTERN.match(code):
            return self._failed(connection_id, "Box sent no usable authorization code.", _RETRY)
        try:
            return self._connect(connection_id, code)
        except AuthorizationCodeRejected as exc:
            return self._failed(connection_id, str(exc) + ".", _RETRY)
        except (AppCredentialsRejected, AppNotConfigured) as exc:
            return self._failed(
                connection_id,
                str(exc) + ".",
                "Check the client id and secret of the Box app, store them with "
                "`boxcasb configure`, then run `boxcasb connect` again.",
            )
        except BoxCasbError as exc:
            logger.warning("box connect failed", extra={"error": type(exc).__name__})
            return self._failed(connection_id, f"Box could not complete the connection: {exc}.", _RETRY)

    def _connect(self, connection_id: str, code: str) -> CallbackOutcome:
        if self._store.get_connection(connection_id).status.retired:  # the code is never exchanged
            return self._failed(
                connection_id,
                "This connection was disconnected while Box was asking for consent. Nothing was connected.",
                "Run `boxcasb connect` to start a new connection.",
            )
        tokens = self._gateways().app().exchange_code(code)
        user = self._gateways().with_tokens(tokens).current_user()
        existing = self._store.get_connection(connection_id)
        if existing.enterprise_id and user.enterprise_id != existing.enterprise_id:
            self._gateways().app().revoke(tokens.refresh_token.get_secret_value())
            return self._failed(
                connection_id,
                f"This connection belongs to enterprise "
                f"{existing.enterprise_name or existing.enterprise_id}, but {user.login} signed in "
                "to another one. Nothing was changed.",
                "Sign in to Box as an admin of the original enterprise, or create a new connection.",
            )
        self._tokens.save_new(connection_id, tokens)
        now = self._clock()
        connection = self._store.update_connection(connection_id, lambda c: _connected(c, user, now))
        logger.info("box connected", extra={"connection_id": connection_id, "role": user.role})
        test_step = "The API test is running now: `boxcasb status` shows each check."
        try:
            self._start_api_test(connection_id, "connect")
        except JobNotStarted:
            # The connection is made and stored; only the automatic test is missing.
            logger.warning("api test not started after connect", extra={"connection_id": connection_id})
            test_step = f"Run `boxcasb test {connection_id}` to check the connection."
        try:
            self._start_activity(connection_id, now)
        except JobNotStarted:
            # The poller's reconciliation starts it within a minute; nothing is lost meanwhile.
            logger.warning(
                "activity backfill not started after connect", extra={"connection_id": connection_id}
            )
        next_step = _ROLE_NOTE.get(user.role or "", _ROLE_NOTE["user"]) + test_step
        return CallbackOutcome(
            result=CallbackResult.CONNECTED,
            title="Box was successfully connected",
            message=f"Connected to {user.enterprise_name or 'your Box enterprise'} as {user.login}"
            f" (role: {user.role or 'unknown'}).",
            next_step=next_step,
            connection=connection,
        )

    def _denied(self, connection_id: str, error: str, description: str | None) -> CallbackOutcome:
        denied = error == "access_denied"
        detail = (
            "Access was denied in Box, so nothing was connected."
            if denied
            else f"Box reported an error ({error[:64]}), so nothing was connected."
        )
        self._finish(
            connection_id, AuthorizationState.DENIED if denied else AuthorizationState.FAILED, detail
        )
        return CallbackOutcome(
            result=CallbackResult.DENIED if denied else CallbackResult.FAILED,
            title="Box was not connected",
            message=detail,
            next_step="Run `boxcasb connect` again and click Allow (Grant access to Box) when Box asks.",
        )

    def _failed(self, connection_id: str, detail: str, next_step: str) -> CallbackOutcome:
        self._finish(connection_id, AuthorizationState.FAILED, detail)
        return CallbackOutcome(
            result=CallbackResult.FAILED,
            title="Box was not connected",
            message=detail,
            next_step=next_step,
        )

    def _finish(self, connection_id: str, state: AuthorizationState, detail: str) -> None:
        now = self._clock()

        def change(c: Connection) -> Connection:
            previous = c.authorization or Authorization(state=state, started_at=now, expires_at=now)
            auth = previous.model_copy(update={"state": state, "finished_at": now, "detail": detail})
            return c.model_copy(update={"authorization": auth, "updated_at": now})

        try:
            self._store.update_connection(connection_id, change)
        except NotFound:
            logger.warning("oauth state pointed at a missing connection")


def redirect_uri_for(settings: Settings, domain_name: str | None) -> str:
    if settings.oauth_redirect_uri is not None:
        return str(settings.oauth_redirect_uri)
    if not domain_name:
        raise InvalidRequest("cannot derive the OAuth redirect URI: set OAUTH_REDIRECT_URI")
    return f"https://{domain_name}/oauth/box/callback"


def _connected(c: Connection, user: BoxUser, now: datetime) -> Connection:
    assert c.authorization is not None
    auth = c.authorization.model_copy(
        update={"state": AuthorizationState.COMPLETED, "finished_at": now, "detail": None}
    )
    return c.model_copy(
        update={
            "status": ConnectionStatus.CONNECTED,
            "status_reason": None,
            "connected_at": now,
            "updated_at": now,
            "enterprise_id": user.enterprise_id,
            "enterprise_name": user.enterprise_name,
            "admin_user_id": user.id,
            "admin_login": user.login,
            "admin_name": user.name,
            "role": user.role,
            "authorization": auth,
        }
    )


def _bad_state(detail: str) -> CallbackOutcome:
    return CallbackOutcome(
        result=CallbackResult.BAD_STATE,
        title="This sign-in link can't be used",
        message=detail + " Nothing was connected or changed.",
        next_step="Run `boxcasb connect` to get a fresh link. If you just connected, "
        "`boxcasb status` shows the connection.",
    )


_STATE_REASONS = {
    "unknown": "The sign-in link was not issued by this deployment.",
    "expired": "The sign-in link expired (links work for 10 minutes).",
    "reused": "The sign-in link was already used (each link works once).",
}

_RETRY = "Run `boxcasb connect` again to get a fresh link."

_ROLE_NOTE = {
    "admin": "",
    "coadmin": "You connected as a co-admin: files owned by admins and other co-admins can't be scanned. ",
    "user": "You connected as a plain user: the API test will fail and no files can be scanned; "
    "reconnect with a Box admin account (`boxcasb connect`). ",
}
