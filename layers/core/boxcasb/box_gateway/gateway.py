"""BoxGateway: the Box calls the domain needs, returning our models, raising our errors."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import IO, Any
from urllib.parse import urlsplit

from box_sdk_gen.box.errors import BoxAPIError, BoxSDKError
from box_sdk_gen.client import BoxClient
from box_sdk_gen.internal.utils import ByteStream
from box_sdk_gen.managers.events import GetEventsStreamType
from box_sdk_gen.managers.users import GetUsersUserType
from box_sdk_gen.managers.webhooks import (
    CreateWebhookTarget,
    CreateWebhookTargetTypeField,
    CreateWebhookTriggers,
    UpdateWebhookByIdTriggers,
)
from box_sdk_gen.networking.fetch_options import FetchOptions, ResponseFormat
from box_sdk_gen.schemas.user_full import UserFull

from boxcasb.activity.model import EventPage
from boxcasb.box_gateway.auth import ConnectionAuth, IssuedTokenSource, StoredTokenSource
from boxcasb.box_gateway.errors import translate
from boxcasb.box_gateway.oauth_app import BoxApp, CallCounter
from boxcasb.errors import BoxRequestFailed, Conflict, ContentTooLarge
from boxcasb.models import BoxUser, StoredTokens, TokenSet
from boxcasb.observability import logger
from boxcasb.rate_limit import Lane, RateLimiter
from boxcasb.token_store import TokenStore

USER_FIELDS = ["id", "name", "login", "role", "status", "enterprise"]
LISTING_FIELDS = ["id", "name", "type", "owned_by"]
PAGE_LIMIT = 1000  # the most Box returns per page of users, folder items or webhooks
DOWNLOAD_CHUNK = 1024 * 1024
TEXT_REPRESENTATION = "extracted_text"
# Box serves representations from its download hosts (dl.boxcloud.com), not the API's.
_REPRESENTATION_DOMAIN = "boxcloud.com"


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


@dataclass(frozen=True)
class JsonReply:
    """A raw answer of Box: its status and JSON body (`{}` when it sent none, e.g. a 204)."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class ListedItem:
    """A file, folder or web link as a folder listing shows it."""

    type: str
    id: str
    name: str | None
    owner_id: str | None  # None: Box did not say (it does when `owned_by` is asked for)


@dataclass(frozen=True)
class ItemPage:
    entries: list[ListedItem]
    next_marker: str | None  # None: the last page


@dataclass(frozen=True)
class BoxWebhookInfo:
    """One of this app's webhooks as Box shows it; the list has no address or triggers (None/())."""

    id: str
    target_type: str
    target_id: str
    address: str | None = None
    triggers: tuple[str, ...] = ()


def _enum_text(value: object) -> str:
    return str(getattr(value, "value", value))


def _owner_id(owned_by: object) -> str | None:
    # Folder entries of a listing are boxsdk FolderMini, which has no `owned_by` field: the
    # value stays the raw dict there, while files and full folders get a UserMini.
    raw = owned_by.get("id") if isinstance(owned_by, dict) else getattr(owned_by, "id", None)
    return str(raw) if raw is not None else None


def _listed(entry: object) -> ListedItem:
    return ListedItem(
        type=_enum_text(getattr(entry, "type", "")),
        id=str(getattr(entry, "id", "")),
        name=getattr(entry, "name", None),
        owner_id=_owner_id(getattr(entry, "owned_by", None)),
    )


def _not_found(exc: BoxRequestFailed) -> bool:
    return exc.status == 404


def _stream_into(stream: ByteStream, into: IO[bytes], max_bytes: int, what: str) -> int:
    """Copy until the stream ends; past `max_bytes` stop reading and raise ContentTooLarge."""
    written = 0
    with stream:
        while chunk := stream.read(DOWNLOAD_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise ContentTooLarge(f"{what} is over {max_bytes} bytes")
            into.write(chunk)
    return written


def _ready_text_url(file: dict[str, Any]) -> str | None:
    """The URL of Box's text of the file when it is ready (state `success`), from the file's
    `representations`; None while it is `pending`, or `none` (made only on request), or absent."""
    representations = file.get("representations")
    entries = representations.get("entries") if isinstance(representations, dict) else None
    for entry in entries or []:
        if not isinstance(entry, dict) or entry.get("representation") != TEXT_REPRESENTATION:
            continue
        status, content = entry.get("status"), entry.get("content")
        template = content.get("url_template") if isinstance(content, dict) else None
        if isinstance(status, dict) and status.get("state") == "success" and isinstance(template, str):
            return template.replace("{+asset_path}", "")  # text is not paged: the empty asset
    return None


def _may_carry_token(url: str, api_base: str) -> bool:
    """Our bearer token goes to the URL Box named only on Box's own hosts: the API's, or over
    HTTPS one of its download hosts."""
    target, api = urlsplit(url), urlsplit(api_base)
    if (target.scheme, target.netloc) == (api.scheme, api.netloc):
        return True
    host = target.hostname or ""
    return target.scheme == "https" and (
        host == _REPRESENTATION_DOMAIN or host.endswith("." + _REPRESENTATION_DOMAIN)
    )


class BoxGateway:
    """Box as seen by one connection. Build one per invocation: it caches that connection's token."""

    def __init__(self, app: BoxApp, auth: ConnectionAuth, limiter: RateLimiter | None = None) -> None:
        """`limiter`: every HTTP attempt to Box's API takes a token from it first (None: unlimited)."""
        self._app = app
        self._auth = auth
        self._client = BoxClient(auth=auth, network_session=app.network_session_for(limiter))

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

    def get_json(self, path: str, params: dict[str, str], user_id: str | None = None) -> dict[str, Any]:
        """A raw GET of the API (`path` after /2.0), as `user_id`: every field Box sent, no model parse.

        The scan reads listings this way: boxsdk's FolderMini drops `owned_by`, and parsing a
        thousand entries into models costs more than the scan does with them.
        """
        options = FetchOptions(
            url=f"{self._app.network_session.base_urls.base_url}/2.0{path}", method="GET", params=params
        )
        client = self._acting(user_id)
        response = _call(lambda: client.make_request(options))
        return response.data if isinstance(response.data, dict) else {}

    def download(self, file_id: str, user_id: str | None, into: IO[bytes], max_bytes: int) -> int:
        """The file's content streamed into `into`, as `user_id`; the byte count. Past `max_bytes`
        it stops reading and raises ContentTooLarge, whatever size the listing claimed."""
        stream = _call(lambda: self._acting(user_id).downloads.download_file(file_id))
        if stream is None:
            return 0
        return _stream_into(stream, into, max_bytes, f"file {file_id}")

    def extracted_text(self, file_id: str, user_id: str | None, into: IO[bytes], max_bytes: int) -> bool:
        """Box's own text of the file (its `extracted_text` representation, UTF-8) streamed into
        `into`, as `user_id`: True. False when Box has none ready (not made yet, or none for this
        kind of file), and nothing was written: the caller reads the file itself. Past `max_bytes`
        it stops reading and raises ContentTooLarge, as `download` does.

        Two calls: the file with its representations, then the text when its state is `success`.
        """
        client = self._acting(user_id)
        base_url = self._app.network_session.base_urls.base_url
        ask = FetchOptions(
            url=f"{base_url}/2.0/files/{file_id}",
            method="GET",
            params={"fields": "representations"},
            headers={"x-rep-hints": f"[{TEXT_REPRESENTATION}]"},
        )
        described = _call(lambda: client.make_request(ask))
        url = _ready_text_url(described.data if isinstance(described.data, dict) else {})
        if url is None:
            return False
        if not _may_carry_token(url, base_url):
            logger.warning(
                "Box's text of a file is on an unknown host: read the file instead",
                extra={"file_id": file_id, "host": urlsplit(url).hostname},
            )
            return False
        fetch = FetchOptions(url=url, method="GET", response_format=ResponseFormat.BINARY)
        try:
            response = _call(lambda: client.make_request(fetch))
        except BoxRequestFailed as exc:
            if _not_found(exc):  # gone between the two calls (a new version): no text after all
                return False
            raise
        if response.status != 200 or response.content is None:
            return False  # 202: Box is (re)making it
        _stream_into(response.content, into, max_bytes, f"Box's text of file {file_id}")
        return True

    def send_json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | list[Any] | None = None,
        user_id: str | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        answers: Collection[int] = (),
    ) -> JsonReply:
        """A raw write of the API (`path` after /2.0), as `user_id`, with the JSON `body` as sent.

        Box errors raise our typed errors, except statuses in `answers`, which come back as a
        reply with Box's error body: a 409 `item_name_in_use` names the item in the way in its
        `context_info`, which a find-or-create needs and a translated error would drop.
        """
        options = FetchOptions(
            url=f"{self._app.network_session.base_urls.base_url}/2.0{path}",
            method=method,
            params=params,
            headers=headers,
            data=body,
            content_type=content_type,
        )
        client = self._acting(user_id)
        try:
            response = client.make_request(options)
        except BoxAPIError as exc:
            if exc.response_info.status_code in answers:
                error = exc.response_info.body
                return JsonReply(exc.response_info.status_code, error if isinstance(error, dict) else {})
            raise translate(exc) from None
        except BoxSDKError as exc:
            raise translate(exc) from None
        return JsonReply(response.status, response.data if isinstance(response.data, dict) else {})

    def force_token_refresh(self) -> StoredTokens:
        return self._auth.force_refresh()

    # --- webhooks, and the folders they go on ------------------------------------------
    # `user_id` None acts as the connected account itself: Box refuses an As-User header that
    # names the authenticated user (403), so the admin's own folders are handled without one.

    def _acting(self, user_id: str | None) -> BoxClient:
        return self._client if user_id is None else self._client.with_as_user_header(user_id)

    def managed_users(self) -> list[BoxUser]:
        """Every managed user of the enterprise (marker paging: offsets stop at 10,000)."""
        users: list[BoxUser] = []
        marker: str | None = None
        while True:
            page = _call(
                partial(
                    self._client.users.get_users,
                    user_type=GetUsersUserType.MANAGED,
                    fields=USER_FIELDS,
                    usemarker=True,
                    marker=marker,
                    limit=PAGE_LIMIT,
                )
            )
            users.extend(_user(u) for u in page.entries or [])
            marker = page.next_marker
            if not marker:
                return users

    def list_folder_items_as(
        self, user_id: str | None, folder_id: str, marker: str | None = None
    ) -> ItemPage:
        """One page of the items directly in a folder, as `user_id` sees it, with their owners."""
        client = self._acting(user_id)
        page = _call(
            lambda: client.folders.get_folder_items(
                folder_id, fields=LISTING_FIELDS, usemarker=True, marker=marker, limit=PAGE_LIMIT
            )
        )
        return ItemPage(
            entries=[_listed(entry) for entry in page.entries or []],
            next_marker=getattr(page, "next_marker", None) or None,
        )

    def get_folder(self, folder_id: str, user_id: str | None = None) -> ListedItem:
        """A folder and its owner, read as `user_id`; BoxRequestFailed (404) if they can't see it."""
        client = self._acting(user_id)
        return _listed(_call(lambda: client.folders.get_folder_by_id(folder_id, fields=LISTING_FIELDS)))

    def create_webhook_as(
        self, user_id: str | None, folder_id: str, address: str, triggers: Sequence[str]
    ) -> str:
        """The new webhook's id. Conflict: this app has a webhook on the folder already (409)."""
        client = self._acting(user_id)
        target = CreateWebhookTarget(id=folder_id, type=CreateWebhookTargetTypeField.FOLDER)
        wanted = [CreateWebhookTriggers(t) for t in triggers]
        try:
            return str(_call(lambda: client.webhooks.create_webhook(target, address, wanted)).id)
        except BoxRequestFailed as exc:
            if exc.status == 409:
                raise Conflict(f"this app has a webhook on folder {folder_id} already") from None
            raise

    def list_webhooks_as(self, user_id: str | None) -> list[BoxWebhookInfo]:
        """This app's webhooks on items `user_id` can reach (Box lists them per user), every page."""
        client = self._acting(user_id)
        found: list[BoxWebhookInfo] = []
        marker: str | None = None
        while True:
            page = _call(partial(client.webhooks.get_webhooks, marker=marker, limit=PAGE_LIMIT))
            for hook in page.entries or []:
                target = hook.target
                if hook.id and target is not None and target.id and target.type is not None:
                    found.append(BoxWebhookInfo(hook.id, _enum_text(target.type), target.id))
            marker = page.next_marker
            if not marker:
                return found

    def get_webhook_as(self, user_id: str | None, webhook_id: str) -> BoxWebhookInfo | None:
        """The webhook with its address and triggers; None if Box has no such webhook (404)."""
        client = self._acting(user_id)
        try:
            hook = _call(lambda: client.webhooks.get_webhook_by_id(webhook_id))
        except BoxRequestFailed as exc:
            if _not_found(exc):
                return None
            raise
        target = hook.target
        return BoxWebhookInfo(
            id=str(hook.id),
            target_type=_enum_text(target.type) if target is not None and target.type is not None else "",
            target_id=str(target.id) if target is not None and target.id else "",
            address=hook.address,
            triggers=tuple(_enum_text(t) for t in hook.triggers or []),
        )

    def update_webhook_as(
        self, user_id: str | None, webhook_id: str, address: str, triggers: Sequence[str]
    ) -> bool:
        """Set the address and triggers, keeping the id; False if Box has no such webhook (404)."""
        client = self._acting(user_id)
        wanted = [UpdateWebhookByIdTriggers(t) for t in triggers]
        try:
            _call(lambda: client.webhooks.update_webhook_by_id(webhook_id, address=address, triggers=wanted))
        except BoxRequestFailed as exc:
            if _not_found(exc):
                return False
            raise
        return True

    def delete_webhook_as(self, user_id: str | None, webhook_id: str) -> bool:
        """False if Box no longer has it (404): gone is what we wanted."""
        client = self._acting(user_id)
        try:
            _call(lambda: client.webhooks.delete_webhook_by_id(webhook_id))
        except BoxRequestFailed as exc:
            if _not_found(exc):
                return False
            raise
        return True


class BoxGatewayFactory:
    """Builds gateways for connections, and the app-level OAuth client for the callback."""

    def __init__(
        self,
        app_factory: Callable[[], BoxApp],
        token_store: TokenStore,
        limiter_for: Callable[[str, Lane], RateLimiter] | None = None,
    ) -> None:
        """`limiter_for(connection_id, lane)`: the connection's shared budget (None: no limit)."""
        self._app_factory = app_factory
        self._token_store = token_store
        self._limiter_for = limiter_for

    def app(self) -> BoxApp:
        return self._app_factory()

    def for_connection(self, connection_id: str, lane: Lane = "priority") -> BoxGateway:
        """A gateway whose calls spend `lane` of the connection's budget (scan workers: "bulk")."""
        app = self._app_factory()
        limiter = self._limiter_for(connection_id, lane) if self._limiter_for is not None else None
        return BoxGateway(
            app, ConnectionAuth(StoredTokenSource(connection_id, self._token_store, app), app), limiter
        )

    def with_tokens(self, tokens: TokenSet) -> BoxGateway:
        """A gateway over a token pair not stored yet (the callback reads /users/me before saving)."""
        app = self._app_factory()
        return BoxGateway(app, ConnectionAuth(IssuedTokenSource(tokens), app))
