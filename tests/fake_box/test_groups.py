"""Groups over real HTTP: a user's memberships (offset paging, who may ask) and a group, every JSON
answer validated against Box's OpenAPI spec."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from devstack.fake_box import FakeBox, Group
from tests.fake_box import spec
from tests.fake_box.helpers import BoxHttp, Tokens

pytestmark = pytest.mark.usefixtures("openapi")

ADMIN, COADMIN = "admin@acme.example", "coadmin@acme.example"
ALICE, BOB, CAROL, DAVE, EVE = (
    "alice@acme.example",
    "bob@acme.example",
    "carol@acme.example",
    "dave@acme.example",
    "eve@partner.example",
)
MEMBERSHIPS, GROUP = "/users/{user_id}/memberships", "/groups/{group_id}"
GROUP_FULL_FIELDS = (
    "name,group_type,created_at,modified_at,provenance,external_sync_identifier,description,"
    "invitability_level,member_viewability_level,permissions"
)


def conforms(response: requests.Response, path: str, *, strict: bool = True) -> Any:
    """The JSON body after checking it against the spec's schema for this answer; successes must
    need none of spec.py's relaxations (Box's specific error codes do)."""
    assert response.headers["Content-Type"] == "application/json", response.text
    body = response.json()
    schema = spec.response_schema(path, "get", response.status_code)
    problems = spec.violations(body, schema, strict=strict and response.status_code == 200)
    assert not problems, f"GET {path} {response.status_code} vs {schema}:\n" + "\n".join(problems)
    return body


def memberships(http: BoxHttp, token: Tokens, login_or_id: str, **params: Any) -> requests.Response:
    user_id = http.user_id(login_or_id) if "@" in login_or_id else login_or_id
    return http.get(f"/2.0/users/{user_id}/memberships", token, **params)


def group_named(box: FakeBox, name: str) -> Group:
    return next(group for group in box.tenant.groups.values() if group.name == name)


def test_the_seeded_groups(http: BoxHttp) -> None:
    admin = http.connect(ADMIN)
    seen = {}
    for login in (ADMIN, COADMIN, ALICE, BOB, CAROL, DAVE):
        body = conforms(memberships(http, admin, login), MEMBERSHIPS)
        assert body["total_count"] == len(body["entries"])
        seen[login] = {(e["group"]["name"], e["role"]) for e in body["entries"]}
        assert all(e["user"]["login"] == login for e in body["entries"])
    assert seen == {
        ADMIN: set(),
        COADMIN: set(),
        ALICE: set(),
        BOB: {("Finance", "admin")},
        CAROL: {("Engineering", "member")},
        DAVE: {("Finance", "member")},  # suspended users keep their groups
    }


def test_a_membership_is_boxs_shape(http: BoxHttp, box: FakeBox) -> None:
    body = conforms(memberships(http, http.connect(ADMIN), BOB), MEMBERSHIPS)
    (entry,) = body["entries"]
    finance = group_named(box, "Finance")
    assert (body["offset"], body["limit"]) == (0, 100)  # Box's default page
    assert entry["type"] == "group_membership"
    assert entry["group"] == {
        "type": "group",
        "id": finance.id,
        "name": "Finance",
        "group_type": "managed_group",
    }
    bob = box.tenant.user_by_login(BOB)
    assert entry["user"] == {"type": "user", "id": bob.id, "name": "Bob Brown", "login": BOB}
    assert entry["created_at"].endswith("-08:00")


def test_memberships_page_by_offset(http: BoxHttp, box: FakeBox) -> None:
    tenant = box.tenant
    alice = tenant.user_by_login(ALICE)
    names = [f"Team {number}" for number in range(1, 6)]
    for name in names:
        tenant.add_membership(tenant.add_group(name), alice)
    admin = http.connect(ADMIN)
    seen: list[str] = []
    for offset in (0, 2, 4):
        body = conforms(memberships(http, admin, ALICE, limit="2", offset=str(offset)), MEMBERSHIPS)
        assert (body["total_count"], body["offset"], body["limit"]) == (5, offset, 2)
        seen.extend(entry["group"]["name"] for entry in body["entries"])
    assert seen == names
    past_the_end = conforms(memberships(http, admin, ALICE, offset="5"), MEMBERSHIPS)
    assert (past_the_end["total_count"], past_the_end["entries"]) == (5, [])
    # Offset paging only: marker parameters change nothing; a limit above 1,000 is capped.
    marker = conforms(memberships(http, admin, ALICE, usemarker="true", limit="1000000"), MEMBERSHIPS)
    assert (marker["total_count"], marker["limit"], "next_marker" in marker) == (5, 1000, False)


@pytest.mark.parametrize("params", [{"offset": "10001"}, {"offset": "-1"}, {"limit": "0"}, {"limit": "x"}])
def test_bad_paging_is_refused(http: BoxHttp, params: dict[str, str]) -> None:
    answer = memberships(http, http.connect(ADMIN), BOB, **params)
    assert answer.status_code == 400
    assert conforms(answer, MEMBERSHIPS)["code"] == "bad_request"


@pytest.mark.parametrize(
    ("actor", "target", "status"),
    [
        (ADMIN, BOB, 200),
        (COADMIN, BOB, 200),
        (COADMIN, ADMIN, 200),
        (BOB, BOB, 200),  # a user may list their own groups
        (EVE, EVE, 200),  # an outsider too (in none of the enterprise's)
        (ALICE, BOB, 403),
        (ALICE, "99999999", 403),  # not privileged: refused before the id is looked up
        (ADMIN, EVE, 404),  # not in the enterprise
        (ADMIN, "99999999", 404),
    ],
)
def test_who_may_list_memberships(http: BoxHttp, actor: str, target: str, status: int) -> None:
    answer = memberships(http, http.connect(actor), target)
    body = conforms(answer, MEMBERSHIPS)
    assert answer.status_code == status
    if status == 403:
        assert body["code"] == "access_denied_insufficient_permissions"
    if status == 404:
        assert body["code"] == "not_found"


def test_a_coadmin_needs_manage_groups_for_other_users(http: BoxHttp, box: FakeBox) -> None:
    tokens = http.connect(COADMIN)
    box.tenant.user_by_login(COADMIN).can_manage_groups = False
    assert memberships(http, tokens, BOB).status_code == 403
    assert memberships(http, tokens, COADMIN).status_code == 200
    assert http.get(f"/2.0/groups/{group_named(box, 'Finance').id}", tokens).status_code == 403


def test_as_user_applies_the_rules_to_the_user_acted_as(http: BoxHttp) -> None:
    admin, alice_id = http.connect(ADMIN), http.user_id(ALICE)
    own = http.get(f"/2.0/users/{alice_id}/memberships", admin, as_user=alice_id)
    assert (own.status_code, own.json()["entries"]) == (200, [])
    other = http.get(f"/2.0/users/{http.user_id(BOB)}/memberships", admin, as_user=alice_id)
    assert other.status_code == 403


def test_a_group_standard_and_full(http: BoxHttp, box: FakeBox) -> None:
    finance = group_named(box, "Finance")
    admin = http.connect(ADMIN)
    standard = conforms(http.get(f"/2.0/groups/{finance.id}", admin), GROUP)
    assert set(standard) == {"type", "id", "name", "group_type", "created_at", "modified_at"}
    assert (standard["id"], standard["name"]) == (finance.id, "Finance")
    full = conforms(http.get(f"/2.0/groups/{finance.id}", admin, fields=GROUP_FULL_FIELDS), GROUP)
    assert full["description"] == "Acme Finance"
    assert full["permissions"] == {"can_invite_as_collaborator": True}
    asked = conforms(http.get(f"/2.0/groups/{finance.id}", admin, fields="name"), GROUP)
    assert asked == {"type": "group", "id": finance.id, "name": "Finance"}


@pytest.mark.parametrize(
    ("login", "status", "can_invite"),
    [
        (ADMIN, 200, True),
        (BOB, 200, True),  # Finance's own admin may invite it
        (CAROL, 403, None),  # in another group only
        (ALICE, 403, None),
    ],
)
def test_who_may_read_a_group(
    http: BoxHttp, box: FakeBox, login: str, status: int, can_invite: bool | None
) -> None:
    finance = group_named(box, "Finance")
    answer = http.get(f"/2.0/groups/{finance.id}", http.connect(login), fields="permissions")
    body = conforms(answer, GROUP)
    assert answer.status_code == status
    if status == 200:
        assert body["permissions"]["can_invite_as_collaborator"] is can_invite


def test_a_plain_member_reads_their_group_but_may_not_invite_it(http: BoxHttp, box: FakeBox) -> None:
    engineering = group_named(box, "Engineering")
    answer = http.get(f"/2.0/groups/{engineering.id}", http.connect(CAROL), fields="permissions")
    assert conforms(answer, GROUP)["permissions"] == {"can_invite_as_collaborator": False}


def test_an_unknown_group_is_not_found_by_those_who_may_look(http: BoxHttp) -> None:
    answer = http.get("/2.0/groups/123", http.connect(ADMIN))
    assert answer.status_code == 404
    assert conforms(answer, GROUP)["code"] == "not_found"
    assert http.get("/2.0/groups/123", http.connect(ALICE)).status_code == 403


def test_the_tenant_refuses_what_box_refuses(box: FakeBox) -> None:
    tenant = box.tenant
    finance = group_named(box, "Finance")
    with pytest.raises(ValueError, match="exists"):
        tenant.add_group("Finance")
    with pytest.raises(ValueError, match="already a member"):
        tenant.add_membership(finance, tenant.user_by_login(BOB))
    with pytest.raises(ValueError, match="not a user of the enterprise"):
        tenant.add_membership(finance, tenant.user_by_login(EVE))
