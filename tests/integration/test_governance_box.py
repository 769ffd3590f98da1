"""Governance actions through the real gateway (boxsdk, retries, As-User) against the fake Box over
HTTP; Box's state is checked in the fake tenant afterwards.

Each test gets a fake Box of its own: the actions change the tenant (links, owners, a Quarantine
folder in the admin's root), which the session's shared fake must not see.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from boxcasb.errors import BoxRequestFailed
from boxcasb.govern.actions import Governor
from boxcasb.govern.box_writes import GatewayBoxWrites
from boxcasb.govern.model import ActionKind, ActionOutcome, ActionRequest
from devstack.fake_box import FakeBox
from devstack.fake_box.recorder import RecordedRequest
from devstack.fake_box.tenant import File, Folder
from tests.support.box_gateways import gateway_for

CLIENT_ID, CLIENT_SECRET = "gov-client-id", "gov-client-secret"
ADMIN = "admin@acme.example"
DOMAINS = frozenset({"acme.example"})


@pytest.fixture
def box() -> Iterator[FakeBox]:
    with FakeBox(CLIENT_ID, CLIENT_SECRET, port=0, history=False) as fake:
        yield fake


def governor_for(box: FakeBox, login: str = ADMIN) -> Governor:
    connected = box.tenant.user_by_login(login)
    return Governor(
        GatewayBoxWrites(gateway_for(box, login)), connection_id="conn-1", admin_user_id=connected.id
    )


def a_file(box: FakeBox, name: str) -> File:
    return next(f for f in box.tenant.files.values() if f.name == name)


def request(kind: ActionKind, file: File, **extra: object) -> ActionRequest:
    return ActionRequest(kind=kind, file_id=file.id, owner_id=file.owner_id, **extra)  # type: ignore[arg-type]


def writes(box: FakeBox) -> list[RecordedRequest]:
    """The API writes Box received (token grants are not the API)."""
    return [r for r in box.requests if r.method != "GET" and r.path.startswith("/2.0/")]


def assert_quiet(box: FakeBox) -> None:
    """Every write asked Box not to notify anyone, and Box (the admin may) did not."""
    sent = writes(box)
    assert sent, "no write reached Box"
    assert all(r.headers.get("box-notifications") == "off" for r in sent), sent
    assert box.notifications
    assert all(n.suppressed for n in box.notifications)


def apply_twice(box: FakeBox, governor: Governor, req: ActionRequest) -> ActionOutcome:
    """Apply, then apply again: the second finds the file as wanted and writes nothing."""
    first = governor.apply(req)
    assert first.result == "applied", first.reason
    assert_quiet(box)
    box.clear_requests()
    second = governor.apply(req)
    assert second.result == "already", second.reason
    assert writes(box) == []
    return first


def test_remove_shared_link(box: FakeBox) -> None:
    customers = a_file(box, "customers.csv")
    outcome = apply_twice(box, governor_for(box), request(ActionKind.REMOVE_SHARED_LINK, customers))
    assert customers.shared_link is None
    assert outcome.before["shared_link_access"] == "open"
    assert outcome.after == {"shared_link_access": None, "etag": customers.etag}
    assert [e.event_type for e in box.tenant.events][-1] == "UNSHARE"


def test_narrow_shared_link(box: FakeBox) -> None:
    price_list = a_file(box, "price-list.xlsx")  # open, narrowed to company by the enterprise
    governor = governor_for(box)
    outcome = apply_twice(box, governor, request(ActionKind.NARROW_SHARED_LINK, price_list, access="company"))
    assert price_list.shared_link is not None
    assert (price_list.shared_link.access, outcome.after["shared_link_access"]) == ("company", "company")
    wider = governor.apply(request(ActionKind.NARROW_SHARED_LINK, price_list, access="collaborators"))
    assert wider.result == "applied"
    assert price_list.shared_link.access == "collaborators"


def test_remove_external_collaborators_and_invites(box: FakeBox) -> None:
    tenant = box.tenant
    readme = a_file(box, "readme.txt")
    bob = tenant.add_collaboration(readme, tenant.user_by_login("bob@acme.example"), role="editor")
    tenant.add_collaboration(readme, tenant.user_by_login("eve@partner.example"), role="viewer")
    tenant.invite_by_email(readme, "someone@elsewhere.example", role="viewer")
    req = request(ActionKind.REMOVE_EXTERNAL_COLLABORATORS, readme, internal_domains=DOMAINS)
    outcome = apply_twice(box, governor_for(box), req)
    assert tenant.collaborations_on(readme) == [bob]
    removed = outcome.before["external_collaborations"]
    assert [(c["kind"], c["email"]) for c in removed] == [  # type: ignore[index, union-attr]
        ("user", "eve@partner.example"),
        ("invite", "someone@elsewhere.example"),
    ]
    assert [e.event_type for e in tenant.events][-2:] == ["COLLABORATION_REMOVE", "COLLABORATION_REMOVE"]


def test_apply_then_change_a_classification(box: FakeBox) -> None:
    todo = a_file(box, "todo.txt")
    governor = governor_for(box)
    created = apply_twice(
        box, governor, request(ActionKind.APPLY_CLASSIFICATION, todo, classification="Internal")
    )
    assert created.before == {"classification": None}
    assert (todo.classification, todo.classification_version) == ("Internal", 0)
    box.clear_requests()
    changed = governor.apply(request(ActionKind.APPLY_CLASSIFICATION, todo, classification="Confidential"))
    assert changed.result == "applied"
    assert (todo.classification, todo.classification_version) == ("Confidential", 1)
    assert [(r.method, r.path.rpartition("/")[2]) for r in writes(box)] == [
        ("PUT", "securityClassification-6VMVochwUWo")
    ]


def test_an_unknown_classification_fails_with_boxs_reason(box: FakeBox) -> None:
    todo = a_file(box, "todo.txt")
    outcome = governor_for(box).apply(
        request(ActionKind.APPLY_CLASSIFICATION, todo, classification="Top Secret")
    )
    assert outcome.result == "failed"
    assert str(outcome.reason).endswith("Box answered 400 (schema_validation_failed)")
    assert todo.classification is None


def test_quarantine_then_restore_returns_the_file_to_its_folder(box: FakeBox) -> None:
    tenant = box.tenant
    admin, alice = tenant.user_by_login(ADMIN), tenant.user_by_login("alice@acme.example")
    customers = a_file(box, "customers.csv")
    reports = tenant.folders[str(customers.parent_id)]
    governor = governor_for(box)

    quarantined = apply_twice(box, governor, request(ActionKind.QUARANTINE, customers))
    holder = tenant.folders[str(customers.parent_id)]
    quarantine = tenant.folders[str(holder.parent_id)]
    assert (holder.name, quarantine.name, quarantine.parent_id) == (customers.id, "Quarantine", admin.root_id)
    assert customers.owner_id == admin.id
    assert not tenant.can_see(alice, customers)
    assert tenant.collaborations_on(holder) == []
    assert quarantined.before == {"parent_id": reports.id, "owner_id": alice.id, "path": "/Documents/Reports"}
    assert quarantined.after == {
        "parent_id": holder.id,
        "owner_id": admin.id,
        "path": f"/Quarantine/{customers.id}",
    }
    with pytest.raises(BoxRequestFailed):  # over HTTP too: alice's Box no longer has it
        gateway_for(box, "alice@acme.example").get_json(f"/files/{customers.id}", {"fields": "id"})

    box.clear_requests()
    box.tenant.notifications.clear()
    back = ActionRequest(
        kind=ActionKind.RESTORE,
        file_id=customers.id,
        owner_id=str(quarantined.before["owner_id"]),
        original_parent_id=str(quarantined.before["parent_id"]),
    )
    restored = apply_twice(box, governor, back)
    assert (customers.parent_id, customers.owner_id) == (reports.id, alice.id)
    assert restored.after == quarantined.before
    assert holder.id not in tenant.folders  # the emptied per-file folder is gone
    assert quarantine.id in tenant.folders
    assert tenant.collaborations_on(reports) == []


def test_a_second_file_reuses_the_quarantine_folder(box: FakeBox) -> None:
    governor = governor_for(box)
    for name in ("customers.csv", "todo.txt"):
        assert governor.apply(request(ActionKind.QUARANTINE, a_file(box, name))).result == "applied"
    admin = box.tenant.user_by_login(ADMIN)
    tops = [f for f in box.tenant.children(box.tenant.root_of(admin)) if isinstance(f, Folder)]
    assert [f.name for f in tops].count("Quarantine") == 1


def test_the_admins_own_file_is_governed_without_as_user(box: FakeBox) -> None:
    travel = a_file(box, "travel-policy.pdf")  # the admin's, company link
    governor = governor_for(box)
    assert governor.apply(request(ActionKind.REMOVE_SHARED_LINK, travel)).result == "applied"
    assert governor.apply(request(ActionKind.QUARANTINE, travel)).result == "applied"
    assert all(r.as_user is None for r in box.requests)


def test_a_coadmin_cannot_act_on_an_admins_file(box: FakeBox) -> None:
    travel = a_file(box, "travel-policy.pdf")
    governor = governor_for(box, "coadmin@acme.example")
    for kind in (ActionKind.REMOVE_SHARED_LINK, ActionKind.QUARANTINE):
        outcome = governor.apply(request(kind, travel))
        assert outcome.result == "failed"
        assert outcome.reason == (
            f"insufficient_permissions: read file {travel.id} as user {travel.owner_id}: "
            "Box answered 403 (access_denied_insufficient_permissions)"
        )
    assert writes(box) == []
    assert travel.shared_link is not None


def test_a_file_that_is_gone_is_not_found(box: FakeBox) -> None:
    customers = a_file(box, "customers.csv")
    box.tenant.delete_item(customers)
    outcome = governor_for(box).apply(request(ActionKind.REMOVE_SHARED_LINK, customers))
    assert outcome.result == "failed"
    assert str(outcome.reason).startswith(f"not_found: read file {customers.id} as user {customers.owner_id}")


def test_dry_runs_make_no_write(box: FakeBox) -> None:
    customers = a_file(box, "customers.csv")
    box.tenant.add_collaboration(customers, box.tenant.user_by_login("eve@partner.example"), role="viewer")
    governor = governor_for(box)
    planned = [
        governor.dry_run(request(ActionKind.REMOVE_SHARED_LINK, customers)),
        governor.dry_run(request(ActionKind.NARROW_SHARED_LINK, customers, access="company")),
        governor.dry_run(
            request(ActionKind.REMOVE_EXTERNAL_COLLABORATORS, customers, internal_domains=DOMAINS)
        ),
        governor.dry_run(request(ActionKind.APPLY_CLASSIFICATION, customers, classification="Internal")),
        governor.dry_run(request(ActionKind.QUARANTINE, customers)),
    ]
    assert [p.result for p in planned] == ["would_apply"] * 5
    assert planned[0].before == {"shared_link_access": "open", "etag": customers.etag}
    assert box.requests
    assert writes(box) == []
    assert box.notifications == []
    assert customers.shared_link is not None
    assert customers.classification == "Confidential"


def test_a_long_rate_limit_is_a_retry_outcome_and_changes_nothing(box: FakeBox) -> None:
    customers = a_file(box, "customers.csv")
    box.faults.add(r"^/2\.0/files/[0-9]+$", 429, retry_after=30, method="PUT")
    outcome = governor_for(box).apply(request(ActionKind.REMOVE_SHARED_LINK, customers))
    assert (outcome.result, outcome.retry_after_seconds) == ("retry", 30.0)
    assert customers.shared_link is not None


def test_box_down_after_the_gateways_retries_is_a_retry_outcome(box: FakeBox) -> None:
    customers = a_file(box, "customers.csv")
    box.faults.add(r"^/2\.0/files/[0-9]+$", 503, times=None, method="PUT")
    outcome = governor_for(box).apply(request(ActionKind.REMOVE_SHARED_LINK, customers))
    assert outcome.result == "retry"
    assert str(outcome.reason).startswith("unavailable: set the shared link")
    assert box.count(method="PUT", status=503) == 4  # the gateway's attempts
    assert customers.shared_link is not None


def test_a_short_hiccup_is_absorbed_by_the_gateway(box: FakeBox) -> None:
    customers = a_file(box, "customers.csv")
    box.faults.add(r"^/2\.0/files/[0-9]+$", 503, times=1, method="PUT")
    box.faults.add(r"^/2\.0/collaborations$", 429, retry_after=0, times=1, method="POST")
    outcome = governor_for(box).apply(request(ActionKind.QUARANTINE, customers))
    assert outcome.result == "applied", outcome.reason
    assert customers.owner_id == box.tenant.user_by_login(ADMIN).id
