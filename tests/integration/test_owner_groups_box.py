"""BoxOwnerGroups through the real gateway (boxsdk, retries, error mapping) against the fake Box over
HTTP: the seeded groups, paging past 1,000 memberships, the cache, and Box's refusals.

Each test gets a fake Box of its own: some add groups or change a co-admin's privileges.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from boxcasb.errors import BoxUnavailable
from boxcasb.policies.owner_groups import BoxOwnerGroups
from devstack.fake_box import FakeBox
from tests.support.box_gateways import gateway_for

CLIENT_ID, CLIENT_SECRET = "groups-client-id", "groups-client-secret"
ADMIN, COADMIN = "admin@acme.example", "coadmin@acme.example"
MEMBERSHIPS = r"^/2\.0/users/[^/]+/memberships$"


@pytest.fixture
def box() -> Iterator[FakeBox]:
    with FakeBox(CLIENT_ID, CLIENT_SECRET, port=0, history=False) as fake:
        yield fake


def groups_over(box: FakeBox, login: str = ADMIN) -> BoxOwnerGroups:
    gateway = gateway_for(box, login)
    return BoxOwnerGroups(lambda _connection_id: gateway)


def user_id(box: FakeBox, login: str) -> str:
    return box.tenant.user_by_login(login).id


def group_id(box: FakeBox, name: str) -> str:
    return next(group.id for group in box.tenant.groups.values() if group.name == name)


def test_the_seeded_groups_as_the_connected_admin(box: FakeBox) -> None:
    groups = groups_over(box)
    finance, engineering = group_id(box, "Finance"), group_id(box, "Engineering")
    assert groups.groups_of("conn-1", user_id(box, "bob@acme.example")) == {"finance", finance}
    assert groups.groups_of("conn-1", user_id(box, "dave@acme.example")) == {"finance", finance}
    assert groups.groups_of("conn-1", user_id(box, "carol@acme.example")) == {"engineering", engineering}
    assert groups.groups_of("conn-1", user_id(box, "alice@acme.example")) == frozenset()
    calls = [r for r in box.requests if r.path.endswith("/memberships")]
    assert len(calls) == 4
    assert all(r.as_user is None for r in calls)  # as the admin, not as the owner


def test_every_page_once_then_the_cache(box: FakeBox) -> None:
    tenant = box.tenant
    alice = tenant.user_by_login("alice@acme.example")
    for number in range(1, 1051):
        tenant.add_membership(tenant.add_group(f"Team {number:04d}"), alice)
    groups = groups_over(box)
    found = groups.groups_of("conn-1", alice.id)
    assert len(found) == 2 * 1050
    assert {"team 0001", "team 1050"} <= found
    assert box.count("GET", MEMBERSHIPS, 200) == 2  # 1,000 then 50
    assert groups.groups_of("conn-1", alice.id) == found
    assert box.count("GET", MEMBERSHIPS) == 2


def test_an_outsider_is_in_no_group(box: FakeBox) -> None:
    groups = groups_over(box)
    eve = user_id(box, "eve@partner.example")
    assert groups.groups_of("conn-1", eve) == frozenset()  # Box: 404, not in the enterprise
    assert groups.groups_of("conn-1", eve) == frozenset()
    assert box.count("GET", MEMBERSHIPS, 404) == 1


def test_a_coadmin_without_manage_groups_sees_no_groups(box: FakeBox) -> None:
    box.tenant.user_by_login(COADMIN).can_manage_groups = False
    groups = groups_over(box, COADMIN)
    assert groups.groups_of("conn-1", user_id(box, "bob@acme.example")) == frozenset()
    assert box.count("GET", MEMBERSHIPS, 403) == 1


def test_box_failing_is_raised_not_remembered(box: FakeBox) -> None:
    groups = groups_over(box)
    bob = user_id(box, "bob@acme.example")
    box.faults.add(path_regex=MEMBERSHIPS, status=503, times=None)  # past the gateway's retries
    with pytest.raises(BoxUnavailable):
        groups.groups_of("conn-1", bob)
    box.faults.clear()
    assert groups.groups_of("conn-1", bob) == {"finance", group_id(box, "Finance")}
