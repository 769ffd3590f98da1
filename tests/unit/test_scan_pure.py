"""The scan's pure rules: what counts as changed, who can reach a file, whose trees are walked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from boxcasb.activity.classify import ScanRequest
from boxcasb.models import BoxUser
from boxcasb.scan.exposure import (
    exposure_of,
    external_collaborators,
    internal_domains_from,
    merge_collaborators,
    widest_link,
)
from boxcasb.scan.model import Collaborator, Exposure, GapKind, LinkAccess, ListedFile
from boxcasb.scan.plan import StoredState, fingerprint, plan_folder
from boxcasb.scan.walk import choose_walkers
from boxcasb.scan_queue import PriorityScanQueue

DOMAINS = frozenset({"acme.example"})
BOB = Collaborator(kind="user", id="2", login="bob@acme.example", role="editor")
EVE = Collaborator(kind="user", id="9", login="eve@partner.example", role="viewer")
SALES = Collaborator(kind="group", id="77", name="Sales", role="viewer")


def listed(file_id: str = "10", **fields: object) -> ListedFile:
    values: dict[str, object] = {
        "id": file_id,
        "name": f"f{file_id}.txt",
        "parent_id": "500",
        "path": "/Docs",
        "sha1": "a" * 40,
        "etag": "0",
        "owner_id": "1",
    }
    values.update(fields)
    return ListedFile.model_validate(values)


def stored(file: ListedFile, policy: str = "p1", inherited: tuple[Collaborator, ...] = ()) -> StoredState:
    return StoredState(sha1=file.sha1, fingerprint=fingerprint(file, inherited), policy_version=policy)


def test_unchanged_files_cost_nothing_and_new_ones_are_inspected() -> None:
    same, new = listed("10"), listed("11")
    plan = plan_folder([same, new], {"10": stored(same)}, [], "p1")
    assert plan.unchanged == 1
    assert [(w.file.id, w.content_changed) for w in plan.changed] == [("11", True)]
    assert plan.removed == []


@pytest.mark.parametrize(
    ("change", "content_changed"),
    [
        ({"sha1": "b" * 40, "etag": "1"}, True),
        ({"link_access": "open", "etag": "1"}, False),
        ({"has_collaborations": True}, False),
        ({"name": "renamed.txt", "etag": "1"}, False),
        ({"classification": "Confidential"}, False),
    ],
)
def test_a_changed_listing_rescans_and_only_new_content_is_inspected(
    change: dict[str, object], content_changed: bool
) -> None:
    before = listed("10")
    after = listed("10", **change)
    plan = plan_folder([after], {"10": stored(before)}, [], "p1")
    assert [(w.file.id, w.content_changed) for w in plan.changed] == [("10", content_changed)]


def test_a_new_policy_set_reinspects_and_a_folder_share_above_refreshes_exposure() -> None:
    file = listed("10")
    assert plan_folder([file], {"10": stored(file, "p0")}, [], "p1").changed[0].content_changed
    above = plan_folder([file], {"10": stored(file)}, [EVE], "p1")
    assert [(w.file.id, w.content_changed) for w in above.changed] == [("10", False)]


def test_files_no_longer_listed_are_removed() -> None:
    gone = listed("12")
    assert plan_folder([], {"12": stored(gone)}, [], "p1").removed == ["12"]


@pytest.mark.parametrize(
    ("fields", "collaborators", "expected"),
    [
        ({"link_access": "open"}, [], Exposure.PUBLIC),
        ({"link_access": "open", "link_effective_access": "company"}, [], Exposure.COMPANY),
        ({}, [EVE], Exposure.EXTERNAL),
        ({"externally_owned": True}, [], Exposure.EXTERNAL),
        ({"link_access": "company"}, [BOB], Exposure.COMPANY),
        ({}, [BOB, SALES], Exposure.INTERNAL),
        ({"link_access": "collaborators"}, [], Exposure.PRIVATE),
        ({}, [Collaborator(kind="user", id="1", login="owner@acme.example")], Exposure.PRIVATE),
    ],
)
def test_exposure(fields: dict[str, object], collaborators: list[Collaborator], expected: Exposure) -> None:
    assert exposure_of(listed("10", **fields), collaborators, DOMAINS) is expected


def test_a_link_on_a_folder_above_reaches_the_file() -> None:
    assert exposure_of(listed("10"), [], DOMAINS, LinkAccess.OPEN) is Exposure.PUBLIC
    narrowed = listed("10", link_access="open", link_effective_access="company")
    assert exposure_of(narrowed, [], DOMAINS, LinkAccess.COLLABORATORS) is Exposure.COMPANY
    assert widest_link(None, LinkAccess.COLLABORATORS, LinkAccess.COMPANY) is LinkAccess.COMPANY
    assert widest_link(None, None) is None
    file = listed("10")
    shared_above = plan_folder([file], {"10": stored(file)}, [], "p1", LinkAccess.OPEN)
    assert [(w.file.id, w.content_changed) for w in shared_above.changed] == [("10", False)]


def test_external_collaborators_are_flagged_by_domain_not_by_group() -> None:
    odd = Collaborator(kind="user", id="5", login="no-at-sign")
    assert external_collaborators([BOB, EVE, SALES, odd], DOMAINS) == ["eve@partner.example", "no-at-sign"]
    assert external_collaborators([EVE], frozenset({"acme.example", "partner.example"})) == []


def test_the_nearest_collaboration_wins() -> None:
    upgraded = BOB.model_copy(update={"role": "co-owner"})
    assert merge_collaborators([BOB, EVE], [upgraded]) == [upgraded, EVE]


def test_internal_domains_from_the_setting_or_the_admin() -> None:
    assert internal_domains_from(" Acme.example, acme.co.uk ", "x@y.example") == {
        "acme.example",
        "acme.co.uk",
    }
    assert internal_domains_from("", "ada@Acme.Example") == {"acme.example"}
    assert internal_domains_from("", None) == frozenset()


def user(uid: str, role: str = "user", status: str = "active") -> BoxUser:
    return BoxUser(id=uid, login=f"u{uid}@acme.example", role=role, status=status)


def test_an_admin_walks_every_active_user_and_reports_the_inactive() -> None:
    me = user("1", "admin")
    walkers = choose_walkers(me, [me, user("2", "coadmin"), user("3"), user("4", status="inactive")])
    assert walkers.users == [("1", None), ("2", "2"), ("3", "3")]
    assert [(g.kind, g.subject) for g in walkers.gaps] == [(GapKind.USER_INACTIVE, "u4@acme.example")]


def test_a_coadmin_cannot_walk_admins() -> None:
    me = user("2", "coadmin")
    walkers = choose_walkers(me, [user("1", "admin"), me, user("3"), user("5", "coadmin")])
    assert walkers.users == [("2", None), ("3", "3")]
    assert {(g.kind, g.subject) for g in walkers.gaps} == {
        (GapKind.USER_NOT_ACTIONABLE, "u1@acme.example"),
        (GapKind.USER_NOT_ACTIONABLE, "u5@acme.example"),
    }


def test_link_access_values_are_box_values() -> None:
    assert {a.value for a in LinkAccess} == {"open", "company", "collaborators"}


class RecordingSqs:
    def __init__(self) -> None:
        self.entries: list[dict[str, str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, object]:
        self.entries.extend(Entries)
        return {}


def test_one_change_is_one_message_and_a_later_change_another() -> None:
    sqs = RecordingSqs()
    at = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    same = ScanRequest("file", "10", "SHARE", changed_at=at)
    queue = PriorityScanQueue(sqs, "url")
    queue.enqueue("c", [same], "webhook")
    queue.enqueue("c", [ScanRequest("file", "10", "UPLOAD", changed_at=at)], "event_stream")
    queue.enqueue("c", [ScanRequest("file", "10", "SHARE", changed_at=at + timedelta(seconds=40))], "webhook")
    ids = [e["MessageDeduplicationId"] for e in sqs.entries]
    assert ids[0] == ids[1] != ids[2]
    assert {e["MessageGroupId"] for e in sqs.entries} == {"c:file:10"}
