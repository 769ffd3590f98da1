"""The Box app itself: its credentials, its network session, and the OAuth 2.0 grants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from box_sdk_gen.box.errors import BoxSDKError
from box_sdk_gen.managers.authorization import AuthorizationManager, RequestAccessTokenGrantType
from box_sdk_gen.networking.base_urls import BaseUrls
from box_sdk_gen.networking.box_network_client import BoxNetworkClient
from box_sdk_gen.networking.network import NetworkSession
from box_sdk_gen.networking.timeout_config import TimeoutConfig
from box_sdk_gen.schemas.access_token import AccessToken
from pydantic import SecretStr

from boxcasb.app_credentials import BoxAppCredentials
from boxcasb.box_gateway.errors import oauth_error_code, translate
from boxcasb.box_gateway.retry import LambdaRetryStrategy
from boxcasb.clock import Clock, utc_now
from boxcasb.errors import AppCredentialsRejected, AuthorizationCodeRejected, ReconnectRequired
from boxcasb.models import TokenSet
from boxcasb.rate_limit import RateLimiter
from boxcasb.settings import Settings


@dataclass
class CallCounter:
    """Counts HTTP requests to Box (retries and token grants included), for reports and benchmarks."""

    count: int = 0

    def hook(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self.count += 1


class RateLimitedSession(requests.Session):
    """Takes one token from `limiter` before every HTTP attempt, then sends it through `inner`.

    Built per gateway over the app's session, so the connection pool and the CallCounter hook
    stay the app's (closing this session leaves them open). boxsdk calls `request` once per
    attempt, retries included, so a 429 or 5xx retry pays a token like any other request.
    """

    def __init__(self, inner: requests.Session, limiter: RateLimiter) -> None:
        super().__init__()
        self._inner = inner
        self._limiter = limiter

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self._limiter.acquire()
        return self._inner.request(method, url, *args, **kwargs)


class BoxApp:
    def __init__(
        self,
        credentials: BoxAppCredentials,
        settings: Settings,
        counter: CallCounter | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.credentials = credentials
        self.counter = counter or CallCounter()
        self._clock = clock
        self._session = requests.Session()
        self._session.hooks["response"].append(self.counter.hook)
        self.network_session = NetworkSession(
            network_client=BoxNetworkClient(requests_session=self._session),
            retry_strategy=LambdaRetryStrategy(max_wait_seconds=settings.box_max_retry_wait_seconds),
            base_urls=BaseUrls(
                base_url=settings.box_api_base,
                upload_url=settings.box_upload_base,
                oauth_2_url=settings.box_oauth2_base,
            ),
            timeout_config=TimeoutConfig(
                connection_timeout_ms=int(settings.box_connect_timeout_seconds * 1000),
                read_timeout_ms=int(settings.box_read_timeout_seconds * 1000),
            ),
        )

    def network_session_for(self, limiter: RateLimiter | None) -> NetworkSession:
        """The session a gateway's API calls use: the app's, or one where each attempt takes a token.

        Token grants and revocations keep the app's own session: they go to /oauth2/token, not to
        the per-user API budget, and a refresh must not queue behind a spent budget while other
        workers wait on its lease.
        """
        if limiter is None:
            return self.network_session
        return self.network_session.with_network_client(
            BoxNetworkClient(requests_session=RateLimitedSession(self._session, limiter))
        )

    def exchange_code(self, code: str) -> TokenSet:
        try:
            return self._grant(RequestAccessTokenGrantType.AUTHORIZATION_CODE, code=code)
        except BoxSDKError as exc:
            error = oauth_error_code(exc)
            if error == "invalid_grant":
                raise AuthorizationCodeRejected(
                    "Box refused the authorization code (it lives 30 seconds and works once)"
                ) from None
            if error in {"invalid_client", "unauthorized_client"}:
                raise AppCredentialsRejected(
                    "Box refused the app's client id or secret stored in Secrets Manager"
                ) from None
            raise translate(exc) from None

    def refresh(self, refresh_token: str) -> TokenSet:
        try:
            return self._grant(RequestAccessTokenGrantType.REFRESH_TOKEN, refresh_token=refresh_token)
        except BoxSDKError as exc:
            if oauth_error_code(exc) in {"invalid_grant", "invalid_client", "unauthorized_client"}:
                raise ReconnectRequired(
                    f"Box refused the refresh token ({oauth_error_code(exc)}): reconnect Box"
                ) from None
            raise translate(exc) from None

    def revoke(self, token: str) -> None:
        try:
            self._manager().revoke_access_token(
                client_id=self.credentials.client_id,
                client_secret=self.credentials.client_secret.get_secret_value(),
                token=token,
            )
        except BoxSDKError as exc:
            raise translate(exc) from None

    def _grant(self, grant_type: RequestAccessTokenGrantType, **params: str) -> TokenSet:
        issued_at = self._clock()
        token: AccessToken = self._manager().request_access_token(
            grant_type,
            client_id=self.credentials.client_id,
            client_secret=self.credentials.client_secret.get_secret_value(),
            **params,  # type: ignore[arg-type]
        )
        if not token.access_token or not token.refresh_token:
            raise ReconnectRequired("Box answered the token grant without a token pair")
        return TokenSet(
            access_token=SecretStr(token.access_token),
            refresh_token=SecretStr(token.refresh_token),
            access_expires_at=issued_at + timedelta(seconds=token.expires_in or 3600),
            issued_at=issued_at,
        )

    def _manager(self) -> AuthorizationManager:
        return AuthorizationManager(network_session=self.network_session)
