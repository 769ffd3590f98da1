"""What the endpoints do beyond their shapes: fields, events and stream positions, webhooks, the seed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from devstack.fake_box import Event, FakeBox, Folder
from tests.fake_box.helpers import BoxHttp, FakeClock, Tokens

ALICE = "alice@acme.example"


def alice_folder(box: FakeBox, name: str) -> Folder:
    owner = box.tenant.user_by_login(ALICE).id
    return next(f for f in box.tenant.folders.values() if f.owner_id == owner and f.name == name)


# ----- fields ------------------------------------------------------------------


def test_fields_return_only_the_base_and_what_was_asked(http: BoxHttp, box: FakeBox, alice: Tokens) -> None:
    me = http.get("/2.0/users/me", alice, fields="role,enterprise").json()
    assert set(me) == {"type", "id", "role", "enterprise"}
    entries = http.get("/2.0/folders/0/items", alice, fields="size,no_such_field").json()["entries"]
    assert all(set(entry) == {"type", "id", "etag", "size"} for entry in entries)
    file = next(f for f in box.tenant.files.values() if f.name == "customers.csv")
    body = http.get(f"/2.0/files/{file.id}", alice, fields="sha1,shared_link,classification").json()
    assert body["sha1"] == file.sha1
    assert body["shared_link"]["access"] == "open"
    assert body["classification"]["name"] == "Confidential"


def test_the_seeded_tenant(box: FakeBox, clock: FakeClock) -> None:
    tenant = box.tenant
    assert tenant.enterprise.mini() == {"id": "1000001", "type": "enterprise", "name": "Acme Corp"}
    roles = {user.login: (user.role, user.status) for user in tenant.users.values() if user.enterprise_id}
    assert roles == {
        "admin@acme.example": ("admin", "active"),
        "coadmin@acme.example": ("coadmin", "active"),
        "alice@acme.example": ("user", "active"),
        "bob@acme.example": ("user", "active"),
        "carol@acme.example": ("user", "active"),
        "dave@acme.example": ("user", "inactive"),
    }
    now = tenant.now()
    assert len(tenant.events) >= 2000  # the 90-day history; test_event_history.py checks it closely
    assert all(now - timedelta(days=90) <= event.created_at < now for event in tenant.events)
    assert {e.event_type for e in tenant.events} >= {
        "LOGIN", "UPLOAD", "SHARE", "COLLABORATION_INVITE", "PREVIEW", "DOWNLOAD"
    }  # fmt: skip
    # Without the history, the 21 hand-written events only.
    small = FakeBox(clock=clock, history=False).tenant
    assert len(small.events) == 21
    assert {e.event_type for e in small.events} == {
        "LOGIN", "UPLOAD", "SHARE", "COLLABORATION_INVITE", "PREVIEW", "DOWNLOAD"
    }  # fmt: skip
    # The same calls at the same time give the same tenant.
    again = FakeBox(clock=clock).tenant
    assert [(f.id, f.name, f.sha1) for f in again.files.values()] == [
        (f.id, f.name, f.sha1) for f in tenant.files.values()
    ]
    assert list(again.events) == list(tenant.events)


# ----- events ------------------------------------------------------------------


def read_stream(http: BoxHttp, token: Tokens, **params: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Every page of a stream until an empty one: the entries and the positions seen."""
    entries: list[dict[str, Any]] = []
    positions: list[str] = []
    position = params.pop("stream_position", "0")
    while True:
        page = http.get("/2.0/events", token, stream_position=position, **params).json()
        positions.append(page["next_stream_position"])
        assert page["chunk_size"] == len(page["entries"])
        if not page["entries"]:
            return entries, positions
        entries += page["entries"]
        position = page["next_stream_position"]


def in_time_order(events: Iterable[Event]) -> list[str]:
    return [e.event_id for e in sorted(events, key=lambda e: (e.created_at, e.seq))]


def test_admin_logs_come_once_each_in_time_order(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    entries, positions = read_stream(http, admin, stream_type="admin_logs", limit=500)
    assert [e["event_id"] for e in entries] == in_time_order(box.tenant.events)
    times = [datetime.fromisoformat(e["created_at"]) for e in entries]
    assert times == sorted(times)
    pages = -(-len(box.tenant.events) // 500)
    assert len(positions) == pages + 1  # full pages, then the empty page that ends the window
    for position in positions:
        assert isinstance(position, str)
        assert int(position) > 2**53


def test_a_window_limits_admin_logs(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    now = box.tenant.now()
    window = {"created_after": (now - timedelta(days=30)).isoformat(), "created_before": now.isoformat()}
    entries, _ = read_stream(http, admin, stream_type="admin_logs", limit=500, **window)
    expected = in_time_order(e for e in box.tenant.events if e.created_at >= now - timedelta(days=30))
    assert [e["event_id"] for e in entries] == expected
    four_days_ago = (now - timedelta(days=4)).replace(microsecond=0)
    zulu = four_days_ago.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = http.get("/2.0/events", admin, stream_type="admin_logs", created_after=zulu).json()
    expected = in_time_order(e for e in box.tenant.events if e.created_at >= four_days_ago)
    assert [e["event_id"] for e in recent["entries"]] == expected[:100]  # the default limit
    assert {"DOWNLOAD", "SHARE"} <= {e["event_type"] for e in recent["entries"]}


def test_an_event_added_in_the_past_still_sorts_in_time(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    tenant = box.tenant
    late = tenant.add_event(  # older than the whole seeded history
        "LOGIN", tenant.user_by_login(ALICE), created_at=tenant.now() - timedelta(days=91)
    )
    entries = http.get("/2.0/events", admin, stream_type="admin_logs", limit=1).json()["entries"]
    assert entries[0]["event_id"] == late.event_id


def test_stream_positions_survive_only_as_strings(http: BoxHttp, admin: Tokens) -> None:
    page = http.get("/2.0/events", admin, stream_type="admin_logs", limit=3).json()
    position = page["next_stream_position"]
    assert (
        http.get("/2.0/events", admin, stream_type="admin_logs", stream_position=position).status_code == 200
    )
    through_a_float = str(int(float(position)))
    assert through_a_float != position
    for bad in (through_a_float, "12", "nonsense"):
        answer = http.get("/2.0/events", admin, stream_type="admin_logs", stream_position=bad)
        assert (answer.status_code, answer.json()["message"]) == (400, "Invalid stream position")


def test_event_type_filter(http: BoxHttp, admin: Tokens) -> None:
    page = http.get(
        "/2.0/events", admin, stream_type="admin_logs", event_type="LOGIN,SHARE", limit=500
    ).json()
    assert {e["event_type"] for e in page["entries"]} == {"LOGIN", "SHARE"}


def test_streaming_starts_now_and_sees_new_events(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    start = http.get("/2.0/events", admin, stream_type="admin_logs_streaming", stream_position="now").json()
    assert start["entries"] == []
    tenant = box.tenant
    added = tenant.add_event("UPLOAD", tenant.user_by_login(ALICE), source=next(iter(tenant.files.values())))
    params = {"stream_type": "admin_logs_streaming", "stream_position": start["next_stream_position"]}
    page = http.get("/2.0/events", admin, **params).json()
    assert [e["event_id"] for e in page["entries"]] == [added.event_id]
    assert (
        http.get("/2.0/events", admin, **{**params, "stream_position": page["next_stream_position"]}).json()[
            "entries"
        ]
        == []
    )


def test_streaming_from_zero_holds_two_weeks(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    entries, _ = read_stream(http, admin, stream_type="admin_logs_streaming", limit=500)
    horizon = box.tenant.now() - timedelta(days=14)
    assert [e["event_id"] for e in entries] == [
        e.event_id for e in box.tenant.events if e.arrived_at >= horizon
    ]


@pytest.mark.parametrize(
    "params",
    [{}, {"stream_type": "changes"}, {"stream_type": "admin_logs", "created_after": "last tuesday"}],
)
def test_unsupported_event_requests(http: BoxHttp, admin: Tokens, params: dict[str, str]) -> None:
    assert http.get("/2.0/events", admin, **params).status_code == 400


# ----- webhooks ----------------------------------------------------------------


def webhook(target_type: str, target_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "target": {"type": target_type, "id": target_id},
        "address": "https://connector.example/webhooks/box",
        "triggers": ["FILE.UPLOADED", "SHARED_LINK.CREATED"],
    }
    return {**body, **overrides}


def test_webhook_rules(http: BoxHttp, box: FakeBox, alice: Tokens) -> None:
    projects = alice_folder(box, "Projects").id
    readme = next(f for f in box.tenant.files.values() if f.name == "readme.txt").id

    def post(body: dict[str, Any], token: Tokens = alice) -> requests.Response:
        return http.request("POST", "/2.0/webhooks", token, json=body)

    created = post(webhook("folder", projects))
    assert created.status_code == 201
    assert created.json()["triggers"] == ["FILE.UPLOADED", "SHARED_LINK.CREATED"]
    conflict = post(webhook("folder", projects, triggers=["FILE.DELETED"]))
    assert (conflict.status_code, conflict.json()["code"]) == (409, "conflict")
    assert post(webhook("folder", "0")).status_code == 400
    assert post(webhook("file", readme, triggers=["COLLABORATION.CREATED"])).status_code == 400
    assert post(webhook("file", readme, triggers=["FILE.EXPLODED"])).status_code == 400
    assert post(webhook("file", readme, address="http://connector.example/hook")).status_code == 400
    assert post(webhook("file", readme, address="http://127.0.0.1:3000/webhooks/box")).status_code == 201
    assert post(webhook("file", "123")).status_code == 404
    assert post({"address": "https://a.example"}).status_code == 400
    bob = http.connect("bob@acme.example")
    bob_on_shared = post(webhook("folder", projects), bob)  # a collaborator, not the owner
    assert (bob_on_shared.status_code, bob_on_shared.json()["code"]) == (
        403,
        "access_denied_insufficient_permissions",
    )
    # Listing shows the app's webhooks on items the user can reach: bob sees the one on Projects.
    assert [w["id"] for w in http.get("/2.0/webhooks", bob).json()["entries"]] == [created.json()["id"]]


def test_webhooks_are_listed_for_the_acting_user_and_deleted(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    alice = http.user_id(ALICE)
    created = http.request(
        "POST",
        "/2.0/webhooks",
        admin,
        as_user=alice,
        json=webhook("folder", alice_folder(box, "Documents").id),
    ).json()
    assert [w["id"] for w in http.get("/2.0/webhooks", admin, as_user=alice).json()["entries"]] == [
        created["id"]
    ]
    assert http.get("/2.0/webhooks", admin).json()["entries"] == []  # the admin can't see alice's folder
    assert http.request("DELETE", f"/2.0/webhooks/{created['id']}", admin).status_code == 404
    assert http.request("DELETE", f"/2.0/webhooks/{created['id']}", admin, as_user=alice).status_code == 204
    assert http.get(f"/2.0/webhooks/{created['id']}", admin, as_user=alice).status_code == 404
