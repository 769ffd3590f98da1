"""Every JSON answer of the fake, validated against Box's OpenAPI spec over real HTTP.

The schema for each answer is the one the spec names for that operation and
status; spec.py lists the few places where the spec is relaxed, and the last
tests show each relaxation is needed and that the validator does reject bad shapes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import requests

from devstack.fake_box import Event, FakeBox
from devstack.fake_box.history import EVENT_TYPES
from devstack.fake_box.render import Renderer
from tests.fake_box import spec
from tests.fake_box.helpers import BoxHttp, Tokens

pytestmark = pytest.mark.usefixtures("openapi")

USER_FIELDS = (
    "id,name,login,created_at,modified_at,language,timezone,space_amount,space_used,max_upload_size,status,"
    "job_title,phone,address,avatar_url,notification_email,role,enterprise,can_see_managed_users,"
    "is_external_collab_restricted,is_platform_access_only,is_sync_enabled,my_tags,tracking_codes,hostname"
)
# Every item field the fake knows; a folder listing asks for all of them across files, folders, links.
ITEM_FIELDS = (
    "name,size,sha1,etag,sequence_id,file_version,description,created_at,modified_at,content_created_at,"
    "content_modified_at,trashed_at,purged_at,item_status,created_by,modified_by,owned_by,parent,"
    "path_collection,shared_link,permissions,has_collaborations,is_externally_owned,classification,"
    "allowed_invitee_roles,is_accessible_via_shared_link,is_associated_with_app_item,watermark_info,"
    "version_number,comment_count,extension,is_package,lock,expires_at,url,folder_upload_email,sync_state,"
    "can_non_owners_invite,can_non_owners_view_collaborators,is_collaboration_restricted_to_enterprise,"
    "allowed_shared_link_access_levels,item_collection"
)


def conforms(response: requests.Response, path: str, method: str = "get") -> Any:
    """The answer's JSON body, after checking it against the spec's schema for this operation."""
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    schema = spec.response_schema(path, method, response.status_code)
    problems = spec.violations(body, schema)
    assert not problems, f"{method.upper()} {path} {response.status_code} vs {schema}:\n" + "\n".join(
        problems
    )
    return body


def folder_id(box: FakeBox, owner: str, name: str) -> str:
    owner_id = box.tenant.user_by_login(owner).id
    return next(f.id for f in box.tenant.folders.values() if f.owner_id == owner_id and f.name == name)


def file_id(box: FakeBox, name: str) -> str:
    return next(f.id for f in box.tenant.files.values() if f.name == name)


def test_users_me_standard_and_full(http: BoxHttp, admin: Tokens) -> None:
    standard = conforms(http.get("/2.0/users/me", admin), "/users/me")
    assert standard["login"] == "admin@acme.example"
    assert "role" not in standard
    assert "enterprise" not in standard
    full = conforms(http.get("/2.0/users/me", admin, fields=USER_FIELDS), "/users/me")
    assert full["role"] == "admin"
    assert full["enterprise"] == {"id": "1000001", "type": "enterprise", "name": "Acme Corp"}


@pytest.mark.parametrize("paging", [{}, {"usemarker": "true", "limit": "2"}])
def test_users_list(http: BoxHttp, admin: Tokens, paging: dict[str, str]) -> None:
    body = conforms(http.get("/2.0/users", admin, fields=USER_FIELDS, **paging), "/users")
    assert body["entries"]
    assert all(entry["enterprise"]["id"] == "1000001" for entry in body["entries"])


def test_folders_root_and_nested(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    alice = http.user_id("alice@acme.example")
    root = conforms(http.get("/2.0/folders/0", admin, as_user=alice), "/folders/{folder_id}")
    assert (root["id"], root["parent"], root["etag"]) == ("0", None, None)
    documents = folder_id(box, "alice@acme.example", "Documents")
    nested = conforms(http.get(f"/2.0/folders/{documents}", admin, as_user=alice), "/folders/{folder_id}")
    assert nested["item_collection"]["total_count"] == 2
    for target in ("0", documents, folder_id(box, "carol@acme.example", "Personal")):
        owner = alice if target in ("0", documents) else http.user_id("carol@acme.example")
        everything = http.get(f"/2.0/folders/{target}", admin, as_user=owner, fields=ITEM_FIELDS)
        conforms(everything, "/folders/{folder_id}")


def test_folder_items_cover_every_entry_kind(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    entries: list[dict[str, Any]] = []
    for owner, folder in (
        ("alice@acme.example", "0"),
        ("alice@acme.example", folder_id(box, "alice@acme.example", "Projects")),
        ("alice@acme.example", folder_id(box, "alice@acme.example", "Reports")),
        ("alice@acme.example", folder_id(box, "alice@acme.example", "Documents")),
        ("bob@acme.example", "0"),  # holds alice's Projects, shared with bob
        ("bob@acme.example", folder_id(box, "bob@acme.example", "Documents")),
        ("carol@acme.example", "0"),
    ):
        as_user = http.user_id(owner)
        for query in ({}, {"fields": ITEM_FIELDS}, {"fields": ITEM_FIELDS, "usemarker": "True"}):
            response = http.get(f"/2.0/folders/{folder}/items", admin, as_user=as_user, **query)
            entries += conforms(response, "/folders/{folder_id}/items")["entries"]
    # The answers above did include each kind of entry and each shape of the nullable fields.
    assert {entry["type"] for entry in entries} == {"file", "folder", "web_link"}
    links = {
        entry["shared_link"]["access"] if entry["shared_link"] else None
        for entry in entries
        if "shared_link" in entry
    }
    assert links == {None, "open", "company", "collaborators"}
    assert {type(entry.get("classification")) for entry in entries if "classification" in entry} == {
        dict,
        type(None),
    }
    assert any(entry.get("has_collaborations") for entry in entries)


def test_files_standard_and_full(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    alice = http.user_id("alice@acme.example")
    for name in ("customers.csv", "readme.txt", "Q3 report.docx"):
        path = f"/2.0/files/{file_id(box, name)}"
        standard = conforms(http.get(path, admin, as_user=alice), "/files/{file_id}")
        assert standard["name"] == name
        conforms(http.get(path, admin, as_user=alice, fields=ITEM_FIELDS), "/files/{file_id}")


def test_collaborations(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    alice, carol = http.user_id("alice@acme.example"), http.user_id("carol@acme.example")
    projects = folder_id(box, "alice@acme.example", "Projects")
    on_folder = http.get(f"/2.0/folders/{projects}/collaborations", admin, as_user=alice)
    assert len(conforms(on_folder, "/folders/{folder_id}/collaborations")["entries"]) == 2
    on_file = http.get(
        f"/2.0/files/{file_id(box, 'shared-with-eve.txt')}/collaborations", admin, as_user=carol
    )
    assert conforms(on_file, "/files/{file_id}/collaborations")["entries"][0]["accessible_by"]["login"] == (
        "eve@partner.example"
    )
    none = http.get(f"/2.0/files/{file_id(box, 'readme.txt')}/collaborations", admin, as_user=alice)
    assert conforms(none, "/files/{file_id}/collaborations")["entries"] == []


@pytest.mark.parametrize("stream_type", ["admin_logs", "admin_logs_streaming"])
def test_events(http: BoxHttp, admin: Tokens, stream_type: str) -> None:
    # A page of the oldest events of each feed; test_every_kind_of_event covers every kind.
    body = conforms(http.get("/2.0/events", admin, stream_type=stream_type, limit="100"), "/events")
    # admin_logs reaches back 90 days here; the stream keeps 14 days, so fewer kinds of event.
    expected = (
        {"LOGIN", "UPLOAD", "COLLABORATION_INVITE"} if stream_type == "admin_logs" else {"LOGIN", "SHARE"}
    )
    assert {entry["event_type"] for entry in body["entries"]} >= expected


def test_every_kind_of_event(box: FakeBox) -> None:
    """One event of each (type, source kind, actor kind) of the history and of a synthetic block."""
    tenant = box.tenant
    now = tenant.now()
    tenant.add_synthetic_events(10_000, now - timedelta(days=3), now, seed=3)
    samples: dict[tuple[str, str, str], Event] = {}
    for event in tenant.events:
        source = event.source
        kind = "none" if source is None else source.get("item_type") or source.get("type", "other")
        samples.setdefault((event.event_type, kind, event.created_by["id"] == "2"), event)
    assert len(samples) > len(EVENT_TYPES)
    for event in samples.values():
        body = Renderer.event(event)
        assert not spec.violations(body, "Event"), (event.event_type, spec.violations(body, "Event"))
        assert json.loads(Renderer.event_json(event)) == body


def test_webhooks(http: BoxHttp, box: FakeBox, alice: Tokens) -> None:
    target = {"type": "folder", "id": folder_id(box, "alice@acme.example", "Projects")}
    body = {
        "target": target,
        "address": "https://connector.example/webhooks/box",
        "triggers": ["FILE.UPLOADED"],
    }
    created = conforms(http.request("POST", "/2.0/webhooks", alice, json=body), "/webhooks", "post")
    assert http.request("POST", "/2.0/webhooks", alice, json=body).status_code == 409
    listed = conforms(http.get("/2.0/webhooks", alice), "/webhooks")
    assert [entry["id"] for entry in listed["entries"]] == [created["id"]]
    conforms(http.get(f"/2.0/webhooks/{created['id']}", alice), "/webhooks/{webhook_id}")
    deleted = http.request("DELETE", f"/2.0/webhooks/{created['id']}", alice)
    assert (deleted.status_code, deleted.content) == (204, b"")


def test_token_endpoint(http: BoxHttp) -> None:
    granted = conforms(http.exchange(http.code_for("admin@acme.example")), "/oauth2/token", "post")
    conforms(http.refresh(granted["refresh_token"]), "/oauth2/token", "post")
    refused = conforms(http.refresh(granted["refresh_token"]), "/oauth2/token", "post")
    assert refused["error"] == "invalid_grant"


def test_errors_are_box_client_errors(http: BoxHttp, box: FakeBox, admin: Tokens, alice: Tokens) -> None:
    box.faults.add(path_regex=r"^/2\.0/users/me$", status=429, method="GET")
    webhook_on_root = {
        "target": {"type": "folder", "id": "0"},
        "address": "https://x.example",
        "triggers": ["FILE.UPLOADED"],
    }
    answers = {
        403: http.get("/2.0/users", alice),
        404: http.get("/2.0/folders/123456", admin),
        400: http.request("POST", "/2.0/webhooks", admin, json=webhook_on_root),
        405: http.request("PUT", "/2.0/users/me", admin),
        429: http.get("/2.0/users/me", admin),
    }
    for status, response in answers.items():
        assert response.status_code == status
        body = response.json()
        assert not spec.violations(body, "ClientError"), (status, spec.violations(body, "ClientError"))
        assert set(body) >= {"type", "status", "code", "message", "request_id"}
        assert body["request_id"] == response.headers["box-request-id"]


def test_each_relaxation_is_needed(http: BoxHttp, box: FakeBox, admin: Tokens, alice: Tokens) -> None:
    """The untouched spec rejects real Box shapes exactly where spec.py relaxes it."""
    file_fields = {"fields": "shared_link,classification"}
    no_link = http.get(f"/2.0/files/{file_id(box, 'readme.txt')}", alice, **file_fields).json()
    with_link = http.get(f"/2.0/files/{file_id(box, 'customers.csv')}", alice, **file_fields).json()
    events = http.get("/2.0/events", admin, stream_type="admin_logs", limit=20).json()
    odd: dict[str, Any] = {"chunk_size": 3, "next_stream_position": "1", "entries": []}
    for event_type in ("TRASH", "FAKEBOX_FUTURE_EVENT", "FAILED_LOGIN"):
        one = http.get("/2.0/events", admin, stream_type="admin_logs", event_type=event_type, limit=1).json()
        odd["entries"] += one["entries"]
    forbidden = http.get("/2.0/users", alice).json()

    def strict(instance: Any, schema: str) -> str:
        return "\n".join(spec.violations(instance, schema, strict=True))

    assert "None is not of type 'object'" in strict(
        {**no_link, "classification": {"name": "x"}}, "File--Full"
    )
    assert "None is not of type 'object'" in strict({**with_link, "classification": None}, "File--Full")
    assert "'accessed' is a required property" in strict(with_link, "File--Full")
    assert "is valid under each of" in strict(events, "Events")
    assert "'TRASH' is not one of" in strict(odd, "Events")
    assert "'FAKEBOX_FUTURE_EVENT' is not one of" in strict(odd, "Events")
    assert "source: None is not of type 'object'" in strict(odd, "Events")
    assert "is not one of" in strict(forbidden, "ClientError")


def test_the_validator_rejects_wrong_shapes() -> None:
    assert spec.violations({"type": "user", "id": 7}, "User--Full")
    assert spec.violations({"entries": [{"type": "file", "name": "no id"}]}, "Items")
    assert spec.violations({"type": "file", "id": "1", "created_at": "yesterday"}, "File--Full")
    assert spec.violations({"chunk_size": "3"}, "Events")
