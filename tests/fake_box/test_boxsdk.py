"""boxsdk 10 (box_sdk_gen) against the fake: it must speak what the real SDK speaks.

The SDK only ever sees the fake's URLs through BaseUrls, as production code will. Its retry
strategy keeps Box's logic but a 10 ms base interval: by default it sleeps about 2 s (2**attempt
seconds, jittered) before retrying even a 401 it has just refreshed for.
"""

from __future__ import annotations

import pytest
from box_sdk_gen import (
    BaseUrls,
    BoxAPIError,
    BoxClient,
    BoxOAuth,
    BoxRetryStrategy,
    FileFull,
    FolderMini,
    NetworkSession,
    OAuthConfig,
    WebLink,
)
from box_sdk_gen.managers.events import GetEventsStreamType
from box_sdk_gen.managers.users import GetUsersUserType

from devstack.fake_box import FakeBox
from tests.fake_box.helpers import CLIENT_ID, CLIENT_SECRET, BoxHttp


def sdk_client(http: BoxHttp, login: str) -> tuple[BoxClient, NetworkSession]:
    session = NetworkSession(
        base_urls=BaseUrls(**http.box.base_urls()), retry_strategy=BoxRetryStrategy(retry_base_interval=0.01)
    )
    auth = BoxOAuth(OAuthConfig(CLIENT_ID, CLIENT_SECRET))
    auth.get_tokens_authorization_code_grant(http.code_for(login), network_session=session)
    return BoxClient(auth, network_session=session), session


def test_the_sdk_connects_and_reads_what_the_connector_needs(http: BoxHttp, box: FakeBox) -> None:
    client, _ = sdk_client(http, "admin@acme.example")
    me = client.users.get_user_me(fields=["role", "enterprise", "login"])
    assert (me.login, me.role, me.enterprise.id if me.enterprise else None) == (
        "admin@acme.example",
        "admin",
        "1000001",
    )

    users = client.users.get_users(
        user_type=GetUsersUserType.MANAGED, fields=["login", "role", "status"], limit=100
    )
    by_login = {user.login: user for user in users.entries or []}
    assert by_login["dave@acme.example"].status == "inactive"
    assert by_login["coadmin@acme.example"].role == "coadmin"

    alice = client.with_as_user_header(by_login["alice@acme.example"].id)
    items = alice.folders.get_folder_items(
        "0", fields=["name", "sha1", "shared_link", "path_collection"], usemarker=True, limit=1000
    )
    assert {entry.name for entry in items.entries or []} == {"Documents", "Projects", "readme.txt"}
    projects = next(e for e in items.entries or [] if e.name == "Projects")
    inside = alice.folders.get_folder_items(projects.id, fields=["name", "shared_link"])
    kinds = {type(entry) for entry in inside.entries or []}
    assert kinds == {FileFull, WebLink}
    assert all(isinstance(e, FolderMini) for e in items.entries or [] if e.name != "readme.txt")

    events = client.events.get_events(stream_type=GetEventsStreamType.ADMIN_LOGS, limit=5)
    assert len(events.entries or []) == 5
    assert isinstance(events.next_stream_position, str)
    more = client.events.get_events(
        stream_type=GetEventsStreamType.ADMIN_LOGS, stream_position=events.next_stream_position, limit=500
    )
    assert len(more.entries or []) == min(500, len(box.tenant.events) - 5)
    # Event types the SDK's enum lacks, and events without a source, still come through.
    odd = client.events.get_events(
        stream_type=GetEventsStreamType.ADMIN_LOGS,
        event_type=["FAKEBOX_FUTURE_EVENT", "TRASH", "FAILED_LOGIN"],  # type: ignore[list-item]
        limit=500,
    )
    # Known types parse to the SDK's enum, unknown ones stay plain strings.
    odd_kinds = {(getattr(e.event_type, "value", e.event_type), e.source is None) for e in odd.entries or []}
    assert odd_kinds == {("FAKEBOX_FUTURE_EVENT", False), ("TRASH", False), ("FAILED_LOGIN", True)}
    assert {type(e.event_type).__name__ for e in odd.entries or []} == {"str", "EventEventTypeField"}


def test_the_sdk_refreshes_an_expired_token_by_itself(http: BoxHttp, box: FakeBox) -> None:
    client, _ = sdk_client(http, "alice@acme.example")
    assert client.users.get_user_me().login == "alice@acme.example"
    box.expire_access_tokens()
    assert client.users.get_user_me().login == "alice@acme.example"
    grants = [(g.grant_type, g.ok) for g in box.token_grants]
    assert grants == [("authorization_code", True), ("refresh_token", True)]
    assert box.count(path_regex=r"^/2\.0/users/me$", status=401) == 1


def test_the_sdk_gives_up_when_the_refresh_token_is_revoked(http: BoxHttp, box: FakeBox) -> None:
    client, _ = sdk_client(http, "alice@acme.example")
    box.revoke_refresh_tokens(login="alice@acme.example")
    box.expire_access_tokens()
    with pytest.raises(BoxAPIError) as raised:
        client.users.get_user_me()
    info = raised.value.response_info
    assert (info.status_code, (info.body or {}).get("error")) == (400, "invalid_grant")


def test_the_sdk_honours_retry_after(http: BoxHttp, box: FakeBox) -> None:
    client, _ = sdk_client(http, "admin@acme.example")
    box.faults.add(path_regex=r"^/2\.0/users$", status=429, retry_after=0, times=2)
    assert client.users.get_users().entries
    assert box.count(path_regex=r"^/2\.0/users$") == 3


def test_the_sdk_reads_box_errors(http: BoxHttp) -> None:
    client, _ = sdk_client(http, "alice@acme.example")
    with pytest.raises(BoxAPIError) as raised:
        client.users.get_users()
    info = raised.value.response_info
    assert (info.status_code, info.code) == (403, "access_denied_insufficient_permissions")
    assert info.request_id


def test_the_sdk_downloads_through_the_redirect(http: BoxHttp, box: FakeBox) -> None:
    client, _ = sdk_client(http, "alice@acme.example")
    customers = next(f for f in box.tenant.files.values() if f.name == "customers.csv")
    stream = client.downloads.download_file(customers.id)
    assert stream is not None
    assert stream.read() == customers.content
