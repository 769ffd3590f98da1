"""As-User and role rules: who may act as whom, list users, read the event log, see content."""

from __future__ import annotations

import pytest

from devstack.fake_box import FakeBox
from tests.fake_box.helpers import BoxHttp

ADMIN, COADMIN = "admin@acme.example", "coadmin@acme.example"
ALICE, BOB, DAVE, EVE = "alice@acme.example", "bob@acme.example", "dave@acme.example", "eve@partner.example"


@pytest.mark.parametrize(
    ("actor", "target", "status"),
    [
        (ADMIN, ALICE, 200),
        (ADMIN, COADMIN, 200),
        (ADMIN, ADMIN, 403),  # nobody may name themselves
        (ADMIN, DAVE, 403),  # suspended
        (ADMIN, EVE, 403),  # not in the enterprise
        (COADMIN, ALICE, 200),
        (COADMIN, ADMIN, 403),  # a co-admin acts only as plain users
        (ALICE, BOB, 403),
        (ALICE, ADMIN, 403),
    ],
)
def test_as_user_rules(http: BoxHttp, actor: str, target: str, status: int) -> None:
    tokens = http.connect(actor)
    me = http.get("/2.0/users/me", tokens, as_user=http.user_id(target))
    root = http.get("/2.0/folders/0/items", tokens, as_user=http.user_id(target))
    assert (me.status_code, root.status_code) == (status, status)
    if status == 200:
        assert me.json()["login"] == target
    else:
        assert me.json()["code"] == "access_denied_insufficient_permissions"


def test_an_unknown_as_user_id_is_not_found(http: BoxHttp) -> None:
    answer = http.get("/2.0/users/me", http.connect(ADMIN), as_user="999")
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


def test_as_user_shows_that_users_own_root(http: BoxHttp) -> None:
    admin = http.connect(ADMIN)
    names = {
        login: {
            e["name"]
            for e in http.get("/2.0/folders/0/items", admin, as_user=http.user_id(login)).json()["entries"]
        }
        for login in (ALICE, BOB)
    }
    assert names[ALICE] == {"Documents", "Projects", "readme.txt"}
    assert names[BOB] == {"Documents", "Projects", "todo.txt"}  # Projects: alice's, shared with bob
    assert {e["name"] for e in http.get("/2.0/folders/0/items", admin).json()["entries"]} == {"Policies"}


def test_a_coadmin_without_manage_users_can_neither_list_nor_impersonate(http: BoxHttp, box: FakeBox) -> None:
    tokens = http.connect(COADMIN)
    box.tenant.user_by_login(COADMIN).can_manage_users = False
    assert http.get("/2.0/users", tokens).status_code == 403
    assert http.get("/2.0/users/me", tokens, as_user=http.user_id(ALICE)).status_code == 403


@pytest.mark.parametrize(("login", "status"), [(ADMIN, 200), (COADMIN, 200), (ALICE, 403)])
def test_who_may_list_users_and_read_admin_logs(http: BoxHttp, login: str, status: int) -> None:
    tokens = http.connect(login)
    assert http.get("/2.0/users", tokens).status_code == status
    assert http.get("/2.0/events", tokens, stream_type="admin_logs").status_code == status
    if status == 403:
        body = http.get("/2.0/events", tokens, stream_type="admin_logs").json()
        assert body["code"] == "access_denied_insufficient_permissions"


def test_admin_logs_need_the_reports_privilege(http: BoxHttp, box: FakeBox) -> None:
    tokens = http.connect(COADMIN)
    box.tenant.user_by_login(COADMIN).can_read_admin_logs = False
    assert http.get("/2.0/events", tokens, stream_type="admin_logs").status_code == 403
    assert http.get("/2.0/users", tokens).status_code == 200


def test_user_type_and_filter_term(http: BoxHttp) -> None:
    admin = http.connect(ADMIN)

    def logins(**params: str) -> list[str]:
        return [e["login"] for e in http.get("/2.0/users", admin, **params).json()["entries"]]

    managed = logins(user_type="managed")
    assert managed == [ADMIN, COADMIN, ALICE, BOB, "carol@acme.example", DAVE]
    assert logins() == managed  # external users show only on an exact login match
    assert logins(user_type="all", filter_term=EVE) == [EVE]
    assert logins(user_type="external", filter_term=EVE) == [EVE]
    assert logins(user_type="managed", filter_term="car") == ["carol@acme.example"]
    assert http.get("/2.0/users", admin, user_type="robots").status_code == 400


def test_other_users_content_is_not_found_without_as_user(http: BoxHttp, box: FakeBox) -> None:
    admin = http.connect(ADMIN)
    alice_id = http.user_id(ALICE)
    documents = next(
        f for f in box.tenant.folders.values() if f.owner_id == alice_id and f.name == "Documents"
    )
    readme = next(f for f in box.tenant.files.values() if f.name == "readme.txt")
    for path in (f"/2.0/folders/{documents.id}", f"/2.0/files/{readme.id}", f"/2.0/folders/{alice_id}"):
        answer = http.get(path, admin)
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
    assert http.get(f"/2.0/folders/{documents.id}", admin, as_user=alice_id).status_code == 200
    # A root folder is only ever "0": its internal id stays hidden even from its owner.
    root_id = box.tenant.root_of(box.tenant.user_by_login(ALICE)).id
    assert http.get(f"/2.0/folders/{root_id}", admin, as_user=alice_id).status_code == 404


def test_a_collaborator_sees_the_shared_folder_under_their_own_root(http: BoxHttp, box: FakeBox) -> None:
    bob = http.connect(BOB)
    alice_id = http.user_id(ALICE)
    projects = next(f for f in box.tenant.folders.values() if f.owner_id == alice_id and f.name == "Projects")
    folder = http.get(
        f"/2.0/folders/{projects.id}", bob, fields="path_collection,parent,owned_by,permissions"
    ).json()
    assert [entry["id"] for entry in folder["path_collection"]["entries"]] == ["0"]
    assert folder["parent"]["id"] == "0"
    assert folder["owned_by"]["login"] == ALICE
    assert folder["permissions"]["can_upload"] is True  # bob is an editor
    notes = http.get(f"/2.0/folders/{projects.id}/items", bob, fields="path_collection").json()["entries"][0]
    assert [entry["id"] for entry in notes["path_collection"]["entries"]] == ["0", projects.id]
    # Bob reaches only what is shared: alice's Documents stay out of sight.
    documents = next(
        f for f in box.tenant.folders.values() if f.owner_id == alice_id and f.name == "Documents"
    )
    assert http.get(f"/2.0/folders/{documents.id}", bob).status_code == 404
