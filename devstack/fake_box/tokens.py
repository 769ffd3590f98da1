"""OAuth 2.0 tokens as Box issues them: codes, access tokens, single-use refresh tokens.

- Authorization codes live 30 s, are single use, and are bound to the user and
  the redirect URI they were issued for.
- A refresh returns a new pair and spends the refresh token: using it again
  fails with ``invalid_grant``, the signal for "reconnect Box". The access token
  it replaces stays valid until its own expiry, as on Box.
- Revoking any token kills everything issued from the same authorization (the
  current pair and older access tokens still alive): disconnect means disconnect.

Token values are kept only in memory and never logged; the grant log records
who got tokens, not the tokens.
"""

from __future__ import annotations

import re
import secrets
import string
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .web import Request, Response, json_response

CODE_TTL_SECONDS = 30.0
REFRESH_TTL_SECONDS = 60 * 24 * 3600.0
_TOKEN_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class TokenGrant:
    """One call to the token endpoint, for tests to count refreshes and failures."""

    grant_type: str
    login: str | None
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class TokenRevocation:
    """One call to the revoke endpoint: whose grant it ended (None: an unknown or invalid token)."""

    login: str | None
    token_type: str | None  # "access" or "refresh" for a token this fake issued


@dataclass
class _Code:
    user_id: str
    redirect_uri: str
    expires_at: float
    used: bool = False


@dataclass
class _AccessToken:
    user_id: str
    grant_id: str
    expires_at: float
    revoked: bool = False


@dataclass
class _RefreshToken:
    user_id: str
    grant_id: str
    expires_at: float
    used: bool = False
    revoked: bool = False


class OAuthError(Exception):
    def __init__(self, error: str, description: str, *, user_id: str | None = None) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.user_id = user_id

    def to_response(self) -> Response:
        return json_response(400, {"error": self.error, "error_description": self.description})


def _random_token(length: int) -> str:
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(length))


class TokenStore:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        access_token_ttl: float,
        clock: Callable[[], float],
        login_of: Callable[[str], str | None],
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._access_token_ttl = access_token_ttl
        self._clock = clock
        self._login_of = login_of  # called outside our lock: it takes the tenant's
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self._grants: list[TokenGrant] = []
        self._revocations: list[TokenRevocation] = []

    # ----- used by the authorize page and the API ---------------------------

    def issue_code(self, user_id: str, redirect_uri: str) -> str:
        code = _random_token(32)
        with self._lock:
            self._codes[code] = _Code(user_id, redirect_uri, self._clock() + CODE_TTL_SECONDS)
        return code

    def authenticate(self, access_token: str) -> str | None:
        """The user id behind a live access token, or None."""
        with self._lock:
            token = self._access.get(access_token)
            if token is None or token.revoked or self._clock() >= token.expires_at:
                return None
            return token.user_id

    def expire_access_tokens(self) -> int:
        with self._lock:
            live = [token for token in self._access.values() if self._clock() < token.expires_at]
            for token in live:
                token.expires_at = self._clock()
            return len(live)

    def revoke_refresh_tokens(self, user_ids: Iterable[str] | None = None) -> int:
        targets = None if user_ids is None else set(user_ids)
        with self._lock:
            hit = [
                token
                for token in self._refresh.values()
                if not token.revoked and (targets is None or token.user_id in targets)
            ]
            for token in hit:
                token.revoked = True
            return len(hit)

    def session_alive(self, user_id: str) -> bool | None:
        """Whether the user still has a working token from this app (None: they never had one).

        Box's OAuth session ends when both the access and the refresh tokens are gone:
        expired, revoked or (refresh tokens) spent.
        """
        with self._lock:
            now = self._clock()
            had_tokens = False
            for access in self._access.values():
                if access.user_id == user_id:
                    had_tokens = True
                    if not access.revoked and now < access.expires_at:
                        return True
            for refresh in self._refresh.values():
                if refresh.user_id == user_id:
                    had_tokens = True
                    if not (refresh.used or refresh.revoked) and now < refresh.expires_at:
                        return True
            return False if had_tokens else None

    @property
    def revocations(self) -> list[TokenRevocation]:
        with self._lock:
            return list(self._revocations)

    @property
    def grants(self) -> list[TokenGrant]:
        with self._lock:
            return list(self._grants)

    # ----- HTTP endpoints -------------------------------------------------

    def token_endpoint(self, request: Request, _match: re.Match[str]) -> Response:
        form = request.form()
        grant_type = form.get("grant_type", "")
        try:
            self._check_client(form)
            if grant_type == "authorization_code":
                user_id, body = self._exchange_code(form)
            elif grant_type == "refresh_token":
                user_id, body = self._refresh_pair(form)
            elif not grant_type:
                raise OAuthError("invalid_request", "Invalid grant_type parameter or parameter missing")
            else:
                raise OAuthError("unsupported_grant_type", f"Grant type {grant_type!r} is not enabled")
        except OAuthError as error:
            self._log(grant_type, error.user_id, ok=False, error=error.error)
            return error.to_response()
        self._log(grant_type, user_id, ok=True)
        return json_response(200, body)

    def revoke_endpoint(self, request: Request, _match: re.Match[str]) -> Response:
        form = request.form()
        try:
            self._check_client(form)
        except OAuthError as error:
            return error.to_response()
        token = form.get("token", "")
        with self._lock:
            known = self._access.get(token) or self._refresh.get(token)
            if known is not None:
                self._revoke_grant(known.grant_id)
        kind = None if known is None else ("access" if isinstance(known, _AccessToken) else "refresh")
        login = self._login_of(known.user_id) if known is not None else None  # outside our lock
        with self._lock:
            self._revocations.append(TokenRevocation(login, kind))
        # Like RFC 7009, an unknown token is not an error.
        return Response(200)

    # ----- internals ------------------------------------------------------

    def _check_client(self, form: dict[str, str]) -> None:
        given_id, given_secret = form.get("client_id", ""), form.get("client_secret", "")
        id_ok = secrets.compare_digest(given_id.encode(), self.client_id.encode())
        secret_ok = secrets.compare_digest(given_secret.encode(), self._client_secret.encode())
        if not (id_ok and secret_ok):
            raise OAuthError("invalid_client", "The client credentials are invalid")

    def _exchange_code(self, form: dict[str, str]) -> tuple[str, dict[str, Any]]:
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is None or code.used:
                raise OAuthError("invalid_grant", "Auth code doesn't exist or is invalid for the client")
            code.used = True
            if self._clock() >= code.expires_at:
                raise OAuthError("invalid_grant", "The authorization code has expired", user_id=code.user_id)
            redirect_uri = form.get("redirect_uri")
            if redirect_uri is not None and redirect_uri != code.redirect_uri:
                raise OAuthError("invalid_grant", "Redirect URI mismatch", user_id=code.user_id)
            return code.user_id, self._issue_pair(code.user_id, grant_id=secrets.token_hex(8))

    def _refresh_pair(self, form: dict[str, str]) -> tuple[str, dict[str, Any]]:
        with self._lock:
            token = self._refresh.get(form.get("refresh_token", ""))
            if token is None:
                raise OAuthError("invalid_grant", "Invalid refresh token")
            if token.used or token.revoked or self._clock() >= token.expires_at:
                raise OAuthError("invalid_grant", "Refresh token has expired", user_id=token.user_id)
            token.used = True
            return token.user_id, self._issue_pair(token.user_id, grant_id=token.grant_id)

    def _issue_pair(self, user_id: str, *, grant_id: str) -> dict[str, Any]:
        access, refresh = _random_token(32), _random_token(64)
        now = self._clock()
        self._access[access] = _AccessToken(user_id, grant_id, now + self._access_token_ttl)
        self._refresh[refresh] = _RefreshToken(user_id, grant_id, now + REFRESH_TTL_SECONDS)
        return {
            "access_token": access,
            "expires_in": int(self._access_token_ttl),
            "restricted_to": [],
            "refresh_token": refresh,
            "token_type": "bearer",
        }

    def _revoke_grant(self, grant_id: str) -> None:
        tokens: list[_AccessToken | _RefreshToken] = [*self._access.values(), *self._refresh.values()]
        for token in tokens:
            if token.grant_id == grant_id:
                token.revoked = True

    def _log(self, grant_type: str, user_id: str | None, *, ok: bool, error: str | None = None) -> None:
        login = self._login_of(user_id) if user_id else None
        with self._lock:
            self._grants.append(TokenGrant(grant_type, login, ok, error))
