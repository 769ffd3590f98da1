"""BoxGateway: the Box calls the domain needs, returning our models, raising our errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from box_sdk_gen.box.errors import BoxSDKError
from box_sdk_gen.client import BoxClient
from box_sdk_gen.managers.events import GetEventsStreamType
from box_sdk_gen.managers.users import GetUsersUserType
from box_sdk_gen.networking.fetch_options import FetchOptions
from box_sdk_gen.schemas.user_full import UserFull

from boxcasb.activity.model import EventPage
from boxcasb.box_gateway.auth import ConnectionAuth, IssuedTokenSource, StoredTokenSource
from boxcasb.box_gateway.errors import translate
from boxcasb.box_gateway.oauth_app import BoxApp, CallCounter
from boxcasb.models import BoxUser, StoredTokens, TokenSet
from boxcasb.token_store import TokenStore

USER_FIELDS = ["id", "name", "login", "role", "status", "enterprise"]


def _user(user: UserFull) -> BoxUser:
    enterprise = user.enterprise
    return BoxUser(
        id=user.id,
        login=user.login,
        name=user.name,
        role=str(user.role.value) if user.role is not None else None,
        status=str(user.status.value) if user.status is not None else None,
        enterprise_id=enterprise.id if enterprise is not None else None,
        enterprise_name=enterprise.name if enterprise is not None else None,
    )


def _box_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _call[T](fn: Callable[[], T]) -> T:
    try:
        return fn()
    except BoxSDKError as exc:
        raise translate(exc) from None


class BoxGateway:
    """Box as seen by one connection. Build one per invocation: it caches that connection's token."""

    def __init__(self, app: BoxApp, auth: ConnectionAuth) -> None:
        self._app = app
        self._auth = auth
        self._client = BoxClient(auth=auth, network_session=app.network_session)

    @property
    def counter(self) -> CallCounter:
        return self._app.counter

    def current_user(self) -> BoxUser:
        return _call(lambda: _user(self._client.users.get_user_me(fields=USER_FIELDS)))

    def read_admin_events(self, limit: int = 1) -> int:
        """Read one page of the enterprise event log; the number of entries it held."""
        page = _call(
            lambda: self._client.events.get_events(stream_type=GetEventsStreamType.ADMIN_LOGS, limit=limit)
        )
        return len(page.entries or [])

    def list_managed_users(self, limit: int = 100) -> list[BoxUser]:
        page = _call(
            lambda: self._client.users.get_users(
                user_type=GetUsersUserType.MANAGED, fields=USER_FIELDS, limit=limit
            )
        )
        return [_user(u) for u in page.entries or []]

    def read_root_folder_as(self, user_id: str) -> int:
        """List the first page of another user's root folder with As-User; how many items it held."""
        as_user = self._client.with_as_user_header(user_id)
        page = _call(lambda: as_user.folders.get_folder_items("0", fields=["id"], limit=1))
        return page.total_count if page.total_count is not None else len(page.entries or [])

    def read_events(
        self,
        stream_type: str,
        stream_position: str | None,
        *,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 500,
    ) -> EventPage:
        """One raw page of enterprise events: every field Box sent, the position kept exact."""
        params = {"stream_type": stream_type, "limit": str(limit)}
        if stream_position is not None:
            params["stream_position"] = stream_position
        if created_after is not None:
            params["created_after"] = _box_time(created_after)
        if created_before is not None:
            params["created_before"] = _box_time(created_before)
        options = FetchOptions(
            url=f"{self._app.network_session.base_urls.base_url}/2.0/events", method="GET", params=params
        )
        response = _call(lambda: self._client.make_request(options))
        data = response.data if isinstance(response.data, dict) else {}
        return EventPage(
            entries=[e for e in data.get("entries") or [] if isinstance(e, dict)],
            next_stream_position=data.get("next_stream_position", stream_position or "0"),
        )

    def force_token_refresh(self) -> StoredTokens:
        return self._auth.force_refresh()


class BoxGatewayFactory:
    """Builds gateways for connections, and the app-level OAuth client for the callback."""

    def __init__(self, app_factory: Callable[[], BoxApp], token_store: TokenStore) -> None:
        self._app_factory = app_factory
        self._token_store = token_store

    def app(self) -> BoxApp:
        return self._app_factory()

    def for_connection(self, connection_id: str) -> BoxGateway:
        app = self._app_factory()
        return BoxGateway(app, ConnectionAuth(StoredTokenSource(connection_id, self._token_store, app), app))

    def with_tokens(self, tokens: TokenSet) -> BoxGateway:
        """A gateway over a token pair not stored yet (the callback reads /users/me before saving)."""
        app = self._app_factory()
        return BoxGateway(app, ConnectionAuth(IssuedTokenSource(tokens), app))
