"""boxsdk Authentication over a token source: one cached pair per invocation, race-safe refresh."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from box_sdk_gen.box.errors import BoxSDKError
from box_sdk_gen.networking.auth import Authentication
from box_sdk_gen.networking.network import NetworkSession
from box_sdk_gen.schemas.access_token import AccessToken, AccessTokenTokenTypeField

from boxcasb.box_gateway.oauth_app import BoxApp
from boxcasb.clock import Clock, utc_now
from boxcasb.errors import ReconnectRequired
from boxcasb.models import StoredTokens, TokenSet
from boxcasb.token_store import TokenStore

# Refresh a little before expiry: saves the 401 round trip boxsdk would otherwise need.
_EXPIRY_SKEW = timedelta(seconds=60)


class TokenSource(Protocol):
    def load(self) -> StoredTokens: ...

    def refresh(self, seen_version: int) -> StoredTokens: ...


class StoredTokenSource:
    """A connection's tokens in the state table, refreshed through the race-safe TokenStore."""

    def __init__(self, connection_id: str, store: TokenStore, app: BoxApp) -> None:
        self._connection_id = connection_id
        self._store = store
        self._app = app

    def load(self) -> StoredTokens:
        return self._store.load(self._connection_id)

    def refresh(self, seen_version: int) -> StoredTokens:
        return self._store.refresh(self._connection_id, seen_version, self._app.refresh)


class IssuedTokenSource:
    """A pair Box issued seconds ago and not stored yet (the callback reads /users/me first)."""

    def __init__(self, tokens: TokenSet) -> None:
        self._stored = StoredTokens(tokens=tokens, version=0, refreshed_at=tokens.issued_at)

    def load(self) -> StoredTokens:
        return self._stored

    def refresh(self, seen_version: int) -> StoredTokens:
        # A brand-new token that fails is a real failure, not a reason to spend the refresh token.
        raise ReconnectRequired("Box rejected the access token it had just issued")


class ConnectionAuth(Authentication):
    def __init__(self, source: TokenSource, app: BoxApp, clock: Clock = utc_now) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._source = source
        self._app = app
        self._clock = clock
        self._cached: StoredTokens | None = None

    def current(self) -> StoredTokens:
        if self._cached is None:
            self._cached = self._source.load()
        return self._cached

    def force_refresh(self) -> StoredTokens:
        self._cached = self._source.refresh(self.current().version)
        return self._cached

    def retrieve_token(self, *, network_session: NetworkSession | None = None) -> AccessToken:
        stored = self.current()
        if stored.tokens.access_expires_at - _EXPIRY_SKEW <= self._clock():
            stored = self.force_refresh()
        remaining = stored.tokens.access_expires_at - self._clock()
        return AccessToken(
            access_token=stored.tokens.access_token.get_secret_value(),
            expires_in=max(0, int(remaining.total_seconds())),
            token_type=AccessTokenTokenTypeField.BEARER,
        )

    def refresh_token(self, *, network_session: NetworkSession | None = None) -> AccessToken:
        self.force_refresh()
        return self.retrieve_token()

    def retrieve_authorization_header(self, *, network_session: NetworkSession | None = None) -> str:
        return "Bearer " + str(self.retrieve_token().access_token)

    def revoke_token(self, *, network_session: NetworkSession | None = None) -> None:
        self._app.revoke(self.current().tokens.refresh_token.get_secret_value())

    def downscope_token(self, scopes: list[str], **kwargs: Any) -> AccessToken:
        raise BoxSDKError(message="boxcasb never hands out downscoped tokens")
