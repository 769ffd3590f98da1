"""The fake's write routes over real HTTP: Box's rules, its error answers, and every JSON answer
validated against the OpenAPI spec; notifications suppressed only when Box would allow it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from devstack.fake_box import FakeBox
from devstack.fake_box.tenant import File, Folder
from tests.fake_box import spec
from tests.fake_box.helpers import BoxHttp, Tokens

pytestmark = pytest.mark.usefixtures("openapi")

QUIET = {"Box-Notifications": "off"}
CLASSIFICATION = "/metadata/enterprise/securityClassification-6VMVochwUWo"
FIELDS = "name,etag,owned_by,parent,path_collection,shared_link,classification"


def send(
    http: BoxHttp,
    method: str,
    path: str,
    token: Tokens,
    *,
    as_user: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
    **params: str,
) -> requests.Response:
    sent = {"Authorization": f"Bearer {token.access}", **(headers or {})}
    if as_user is not None:
        sent["As-User"] = as_user
    data = None
    if body is not None:
        sent["Content-Type"] = content_type
        data = json.dumps(body)
    return http.session.request(
        method, f"{http.box.url}{path}", headers=sent, params=params, data=data, timeout=10
    )


def conforms(response: requests.Response, path: str, method: str = "get") -> Any:
    assert response.headers["Content-Type"] == "application/json", response.text
    body = response.json()
    schema = spec.response_schema(path, method, response.status_code)
    problems = spec.violations(body, schema)
    assert not problems, f"{method.upper()} {path} {response.status_code} vs {schema}:\n" + "\n".join(
        problems
    )
    return body


def a_file(box: FakeBox, name: str) -> File:
    return next(f for f in box.tenant.files.values() if f.name == name)


def a_folder(box: FakeBox, login: str, name: str) -> Folder:
    owner = box.tenant.user_by_login(login)
    return next(f for f in box.tenant.folders.values() if f.owner_id == owner.id and f.name == name)


def uid(box: FakeBox, login: str) -> str:
    return box.tenant.user_by_login(login).id


def events_of(box: FakeBox, event_type: str) -> list[Any]:
    return [e for e in box.tenant.events if e.event_type == event_type]


# ----- shared links -----------------------------------------------------------------------


def test_removing_a_shared_link_answers_the_file_without_it(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    customers = a_file(box, "customers.csv")
    etag = customers.etag
    response = send(
        http,
        "PUT",
        f"/2.0/files/{customers.id}",
        admin,
        as_user=uid(box, "alice@acme.example"),
        body={"shared_link": None},
        headers=QUIET,
        fields="shared_link",
    )
    assert response.status_code == 200
    body = conforms(response, "/files/{file_id}#remove_shared_link", "put")
    assert body == {"type": "file", "id": customers.id, "etag": str(int(etag) + 1), "shared_link": None}
    assert customers.shared_link is None
    assert events_of(box, "UNSHARE")[-1].source["item_id"] == customers.id
    assert box.notifications[-1].kind == "shared_link_removed"
    assert box.notifications[-1].suppressed


def test_narrowing_a_link_keeps_its_url_and_ends_the_enterprise_narrowing(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    price_list = a_file(box, "price-list.xlsx")  # open, effective company
    token = price_list.shared_link.token if price_list.shared_link else None
    response = send(
        http,
        "PUT",
        f"/2.0/files/{price_list.id}",
        admin,
        as_user=uid(box, "alice@acme.example"),
        body={"shared_link": {"access": "collaborators"}},
        fields="shared_link",
    )
    body = conforms(response, "/files/{file_id}#update_shared_link", "put")
    assert body["shared_link"]["access"] == body["shared_link"]["effective_access"] == "collaborators"
    assert price_list.shared_link is not None
    assert price_list.shared_link.token == token
    assert events_of(box, "ITEM_SHARED_UPDATE")[-1].source["item_id"] == price_list.id
    assert not box.notifications[-1].suppressed  # no Box-Notifications header


@pytest.mark.parametrize(
    ("link", "code"),
    [
        ({"access": "everyone"}, "bad_request"),
        ({"access": "collaborators", "permissions": {"can_download": True}}, "bad_request"),
        ({"access": "company", "password": "Secret-Pass-1"}, "bad_request"),
        ({"vanity_name": "my-shared-link"}, "bad_request"),
        ("open", "bad_request"),
    ],
)
def test_a_bad_link_change_is_refused_and_changes_nothing(
    http: BoxHttp, box: FakeBox, admin: Tokens, link: Any, code: str
) -> None:
    budget = a_file(box, "budget.xlsx")
    before = (budget.etag, budget.shared_link.access if budget.shared_link else None)
    response = send(
        http,
        "PUT",
        f"/2.0/files/{budget.id}",
        admin,
        as_user=uid(box, "bob@acme.example"),
        body={"shared_link": link},
    )
    assert response.status_code == 400
    assert conforms(response, "/files/{file_id}", "put")["code"] == code
    assert (budget.etag, budget.shared_link.access if budget.shared_link else None) == before


def test_a_viewer_cannot_change_the_link_and_a_stranger_cannot_see_the_file(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    pipeline = a_file(box, "emea-pipeline.csv")  # in alice's EMEA, which carol views
    as_carol = send(
        http,
        "PUT",
        f"/2.0/files/{pipeline.id}",
        admin,
        as_user=uid(box, "carol@acme.example"),
        body={"shared_link": None},
    )
    assert as_carol.status_code == 403
    assert conforms(as_carol, "/files/{file_id}", "put")["code"] == "access_denied_insufficient_permissions"
    as_bob = send(
        http,
        "PUT",
        f"/2.0/files/{pipeline.id}",
        admin,
        as_user=uid(box, "bob@acme.example"),
        body={"shared_link": None},
    )
    assert as_bob.status_code == 404
    assert pipeline.shared_link is not None


def test_if_match_with_a_stale_etag_answers_412(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    budget = a_file(box, "budget.xlsx")
    response = send(
        http,
        "PUT",
        f"/2.0/files/{budget.id}",
        admin,
        as_user=uid(box, "bob@acme.example"),
        body={"shared_link": None},
        headers={"If-Match": "stale"},
    )
    assert response.status_code == 412
    assert conforms(response, "/files/{file_id}", "put")["code"] == "precondition_failed"
    assert budget.shared_link is not None


# ----- moves and folders --------------------------------------------------------------------


def test_a_file_moved_into_someone_elses_folder_becomes_theirs(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    alice, admin_user = (
        box.tenant.user_by_login("alice@acme.example"),
        box.tenant.user_by_login("admin@acme.example"),
    )
    created = send(
        http, "POST", "/2.0/folders", admin, body={"name": "Holding", "parent": {"id": "0"}}, headers=QUIET
    )
    assert created.status_code == 201
    holding = conforms(created, "/folders", "post")
    box.tenant.add_collaboration(box.tenant.folders[holding["id"]], alice, role="editor")
    readme = a_file(box, "readme.txt")
    moved = send(
        http,
        "PUT",
        f"/2.0/files/{readme.id}",
        admin,
        as_user=alice.id,
        body={"parent": {"id": holding["id"]}},
        headers=QUIET,
        fields=FIELDS,
    )
    body = conforms(moved, "/files/{file_id}", "put")
    assert body["parent"]["id"] == holding["id"]
    assert body["owned_by"]["id"] == admin_user.id
    assert (readme.owner_id, readme.parent_id) == (admin_user.id, holding["id"])
    assert events_of(box, "MOVE")[-1].source["item_id"] == readme.id
    # Back into her root: hers again.
    back = send(http, "PUT", f"/2.0/files/{readme.id}", admin, as_user=alice.id, body={"parent": {"id": "0"}})
    assert back.status_code == 200
    assert (readme.owner_id, readme.parent_id) == (alice.id, alice.root_id)


def test_a_move_needs_upload_rights_on_the_destination_and_a_free_name(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    bob = uid(box, "bob@acme.example")
    todo = a_file(box, "todo.txt")
    projects = a_folder(box, "alice@acme.example", "Projects")  # bob is an editor there
    emea = a_folder(box, "alice@acme.example", "EMEA")  # bob has no access
    hidden = send(http, "PUT", f"/2.0/files/{todo.id}", admin, as_user=bob, body={"parent": {"id": emea.id}})
    assert hidden.status_code == 404
    box.tenant.add_file(projects, "TODO.TXT", "taken")
    taken = send(
        http, "PUT", f"/2.0/files/{todo.id}", admin, as_user=bob, body={"parent": {"id": projects.id}}
    )
    assert taken.status_code == 409
    error = conforms(taken, "/files/{file_id}", "put")
    assert error["code"] == "item_name_in_use"
    assert error["context_info"]["conflicts"][0]["name"] == "TODO.TXT"
    assert todo.parent_id != projects.id
    carol = uid(box, "carol@acme.example")
    shared = a_file(box, "shared-with-eve.txt")
    viewer = send(
        http, "PUT", f"/2.0/files/{shared.id}", admin, as_user=carol, body={"parent": {"id": emea.id}}
    )
    assert viewer.status_code == 403  # carol only views EMEA
    assert shared.owner_id == carol


def test_creating_a_folder_twice_names_the_first_in_the_conflict(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    first = conforms(
        send(
            http,
            "POST",
            "/2.0/folders",
            admin,
            body={"name": "Quarantine", "parent": {"id": "0"}},
            fields="id",
        ),
        "/folders",
        "post",
    )
    assert set(first) == {"type", "id", "etag"}
    again = send(http, "POST", "/2.0/folders", admin, body={"name": "QUARANTINE", "parent": {"id": "0"}})
    assert again.status_code == 409
    error = conforms(again, "/folders", "post")
    assert error["code"] == "item_name_in_use"
    assert [c["id"] for c in error["context_info"]["conflicts"]] == [first["id"]]
    folder = box.tenant.folders[first["id"]]
    assert folder.owner_id == uid(box, "admin@acme.example")
    assert events_of(box, "UPLOAD")[-1].source["item_id"] == first["id"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "a/b", "parent": {"id": "0"}}, 400, "item_name_invalid"),
        ({"name": "trailing ", "parent": {"id": "0"}}, 400, "item_name_invalid"),
        ({"name": "..", "parent": {"id": "0"}}, 400, "item_name_invalid"),
        ({"name": "x"}, 400, "bad_request"),
        ({"name": "x", "parent": {"id": "999999"}}, 404, "not_found"),
    ],
)
def test_bad_folder_creations_are_refused(
    http: BoxHttp, admin: Tokens, body: dict[str, Any], status: int, code: str
) -> None:
    response = send(http, "POST", "/2.0/folders", admin, body=body)
    assert response.status_code == status
    assert conforms(response, "/folders", "post")["code"] == code


def test_a_folder_is_deleted_only_when_empty_unless_recursive(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    policies = a_folder(box, "admin@acme.example", "Policies")
    full = send(http, "DELETE", f"/2.0/folders/{policies.id}", admin, headers=QUIET)
    assert full.status_code == 400
    assert conforms(full, "/folders/{folder_id}", "delete")["code"] == "folder_not_empty"
    empty = box.tenant.add_folder(policies, "Empty")
    assert send(http, "DELETE", f"/2.0/folders/{empty.id}", admin, headers=QUIET).status_code == 204
    assert empty.id not in box.tenant.folders
    assert send(http, "DELETE", f"/2.0/folders/{policies.id}", admin, recursive="true").status_code == 204
    assert policies.id not in box.tenant.folders
    root = send(http, "DELETE", "/2.0/folders/0", admin)
    assert root.status_code == 403


# ----- collaborations -----------------------------------------------------------------------


def test_invites_by_id_by_login_and_by_mail(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    alice = uid(box, "alice@acme.example")
    readme = a_file(box, "readme.txt")
    item = {"type": "file", "id": readme.id}

    def invite(who: dict[str, str], **params: str) -> requests.Response:
        body = {"item": item, "accessible_by": {"type": "user", **who}, "role": "viewer"}
        return send(
            http, "POST", "/2.0/collaborations", admin, as_user=alice, body=body, headers=QUIET, **params
        )

    inside = conforms(invite({"id": uid(box, "bob@acme.example")}), "/collaborations", "post")
    assert (inside["status"], inside["accessible_by"]["login"]) == ("accepted", "bob@acme.example")
    outside = conforms(invite({"login": "eve@partner.example"}), "/collaborations", "post")
    assert outside["status"] == "pending"
    by_mail = conforms(invite({"login": "new@elsewhere.example"}, notify="false"), "/collaborations", "post")
    assert by_mail["invite_email"] == "new@elsewhere.example"
    assert "accessible_by" not in by_mail
    assert by_mail["status"] == "pending"
    # The header does not quiet an invite's mail; notify=false does.
    invites = [n for n in box.notifications if n.kind == "collaboration_invited"]
    assert [n.suppressed for n in invites] == [False, False, True]
    assert invites[-1].recipients == ("new@elsewhere.example",)
    again = invite({"login": "new@elsewhere.example"})
    assert again.status_code == 400
    assert conforms(again, "/collaborations", "post")["code"] == "user_already_collaborator"
    listed = conforms(
        http.get(f"/2.0/files/{readme.id}/collaborations", admin, as_user=alice),
        "/files/{file_id}/collaborations",
    )
    assert [c["id"] for c in listed["entries"]] == [inside["id"], outside["id"], by_mail["id"]]


def test_removing_collaborations(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    alice, carol = uid(box, "alice@acme.example"), uid(box, "carol@acme.example")
    readme = a_file(box, "readme.txt")
    invite = box.tenant.invite_by_email(readme, "someone@elsewhere.example")
    eve = box.tenant.add_collaboration(readme, box.tenant.user_by_login("eve@partner.example"), role="viewer")
    # Carol cannot see readme.txt: its collaborations are not hers to find.
    hidden = send(http, "DELETE", f"/2.0/collaborations/{eve.id}", admin, as_user=carol)
    assert hidden.status_code == 404
    assert conforms(hidden, "/collaborations/{collaboration_id}", "delete")["code"] == "not_found"
    for collaboration in (eve, invite):
        gone = send(
            http, "DELETE", f"/2.0/collaborations/{collaboration.id}", admin, as_user=alice, headers=QUIET
        )
        assert gone.status_code == 204
        assert gone.content == b""
    assert box.tenant.collaborations_on(readme) == []
    assert send(http, "DELETE", f"/2.0/collaborations/{eve.id}", admin, as_user=alice).status_code == 404
    removed = events_of(box, "COLLABORATION_REMOVE")
    assert removed[-2].extra["accessible_by"]["login"] == "eve@partner.example"
    assert [n.recipients for n in box.notifications[-2:]] == [(eve.user_id,), ("someone@elsewhere.example",)]


def test_a_collaborator_may_leave_but_not_remove_others(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    emea = a_folder(box, "alice@acme.example", "EMEA")
    carol = box.tenant.user_by_login("carol@acme.example")
    bob = box.tenant.add_collaboration(emea, box.tenant.user_by_login("bob@acme.example"), role="editor")
    refused = send(http, "DELETE", f"/2.0/collaborations/{bob.id}", admin, as_user=carol.id)
    assert refused.status_code == 403
    own = next(c for c in box.tenant.collaborations_on(emea) if c.user_id == carol.id)
    assert send(http, "DELETE", f"/2.0/collaborations/{own.id}", admin, as_user=carol.id).status_code == 204


# ----- classification -----------------------------------------------------------------------


def test_classification_create_read_and_patch(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    bob = uid(box, "bob@acme.example")
    todo = a_file(box, "todo.txt")
    path = f"/2.0/files/{todo.id}{CLASSIFICATION}"
    spec_path = "/files/{file_id}/metadata/enterprise/securityClassification-6VMVochwUWo"
    missing = http.get(path, admin, as_user=bob)
    assert missing.status_code == 404
    assert conforms(missing, spec_path, "get")["code"] == "instance_not_found"
    created = send(
        http,
        "POST",
        path,
        admin,
        as_user=bob,
        body={"Box__Security__Classification__Key": "Internal"},
        headers=QUIET,
    )
    assert created.status_code == 201
    instance = conforms(created, spec_path, "post")
    assert instance["Box__Security__Classification__Key"] == "Internal"
    assert (instance["$parent"], instance["$scope"], instance["$version"]) == (
        f"file_{todo.id}",
        "enterprise_1000001",
        0,
    )
    twice = send(
        http, "POST", path, admin, as_user=bob, body={"Box__Security__Classification__Key": "Public"}
    )
    assert twice.status_code == 409
    assert conforms(twice, spec_path, "post")["code"] == "tuple_already_exists"
    patch = [{"op": "replace", "path": "/Box__Security__Classification__Key", "value": "Confidential"}]
    patched = send(
        http,
        "PUT",
        path,
        admin,
        as_user=bob,
        body=patch,
        content_type="application/json-patch+json",
        headers=QUIET,
    )
    assert conforms(patched, spec_path, "put")["$version"] == 1
    with_scope = http.get(
        f"/2.0/files/{todo.id}/metadata/enterprise_1000001/securityClassification-6VMVochwUWo",
        admin,
        as_user=bob,
    )
    assert with_scope.json()["Box__Security__Classification__Key"] == "Confidential"
    file = http.get(f"/2.0/files/{todo.id}", admin, as_user=bob, fields="classification").json()
    assert file["classification"]["name"] == "Confidential"
    assert [e.event_type for e in box.tenant.events][-2:] == [
        "METADATA_INSTANCE_CREATE",
        "METADATA_INSTANCE_UPDATE",
    ]


KEY = "Box__Security__Classification__Key"
JSON = "application/json"
PATCH = "application/json-patch+json"


@pytest.mark.parametrize(
    ("method", "body", "content_type", "status", "code"),
    [
        ("POST", {KEY: "Top Secret"}, JSON, 400, "schema_validation_failed"),
        ("POST", {KEY: "Internal", "x": 1}, JSON, 400, "schema_validation_failed"),
        ("PUT", [{"op": "replace", "path": f"/{KEY}", "value": "Public"}], JSON, 400, "bad_request"),
        ("PUT", [{"op": "add", "path": f"/{KEY}", "value": "Public"}], PATCH, 400, "bad_request"),
        ("PUT", [{"op": "replace", "path": f"/{KEY}", "value": "Public"}], PATCH, 404, "instance_not_found"),
    ],
)
def test_bad_classification_writes_are_refused(
    http: BoxHttp,
    box: FakeBox,
    admin: Tokens,
    method: str,
    body: Any,
    content_type: str,
    status: int,
    code: str,
) -> None:
    todo = a_file(box, "todo.txt")
    response = send(
        http,
        method,
        f"/2.0/files/{todo.id}{CLASSIFICATION}",
        admin,
        as_user=uid(box, "bob@acme.example"),
        body=body,
        content_type=content_type,
    )
    assert response.status_code == status
    assert response.json()["code"] == code
    assert todo.classification is None


# ----- notifications ------------------------------------------------------------------------


def test_suppression_needs_the_apps_permission_and_an_admin_or_a_coadmin_with_edit_settings(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    coadmin = http.connect("coadmin@acme.example")
    bob = uid(box, "bob@acme.example")
    budget = a_file(box, "budget.xlsx")

    def narrow(token: Tokens) -> bool:
        body = {"shared_link": {"access": "collaborators"}}
        response = send(http, "PUT", f"/2.0/files/{budget.id}", token, as_user=bob, body=body, headers=QUIET)
        assert response.status_code == 200
        notification = box.notifications[-1]
        assert notification.asked_quiet
        return notification.suppressed

    assert narrow(admin)
    assert narrow(coadmin)
    box.tenant.user_by_login("coadmin@acme.example").can_edit_settings = False
    assert not narrow(coadmin)
    box.tenant.notification_suppression_enabled = False
    assert not narrow(admin)


def test_a_suppressed_write_sends_no_webhook_but_is_in_the_event_log(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    box.webhook_options.retries = 0
    bob = box.tenant.user_by_login("bob@acme.example")
    documents = a_folder(box, "bob@acme.example", "Documents")
    box.tenant.add_webhook(
        documents,
        "http://127.0.0.1:9/hook",
        ["SHARED_LINK.DELETED", "SHARED_LINK.UPDATED"],
        created_by=bob,
        client_id=box.client_id,
    )
    budget = a_file(box, "budget.xlsx")
    unshares = len(events_of(box, "UNSHARE"))
    quiet = send(
        http,
        "PUT",
        f"/2.0/files/{budget.id}",
        admin,
        as_user=bob.id,
        body={"shared_link": {"access": "company"}},
        headers=QUIET,
    )
    assert quiet.status_code == 200
    loud = send(http, "PUT", f"/2.0/files/{budget.id}", admin, as_user=bob.id, body={"shared_link": None})
    assert loud.status_code == 200
    assert box.wait_for_deliveries(timeout=10)
    assert [a.trigger for a in box.webhook_deliveries] == ["SHARED_LINK.DELETED"]
    assert len(events_of(box, "UNSHARE")) == unshares + 1
    assert events_of(box, "ITEM_SHARED_UPDATE")[-1].source["item_id"] == budget.id
