"""The Governor over an in-memory Box: plans, idempotence, dry runs, failures, quarantine's dance."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from boxcasb.errors import (
    BoxAccessDenied,
    BoxCasbError,
    BoxRateLimited,
    BoxRequestFailed,
    BoxUnavailable,
    ReconnectRequired,
)
from boxcasb.govern.actions import Governor
from boxcasb.govern.model import ActionKind, ActionRequest, Collaboration, FileState, PathFolder
from boxcasb.scan.model import LinkAccess

ADMIN, ALICE, BOB = "1", "2", "3"
DOMAINS = frozenset({"acme.example"})
T0 = datetime(2026, 5, 1, tzinfo=UTC)


def root(user: str) -> str:
    return f"root{user}"


def missing(what: str) -> BoxRequestFailed:
    return BoxRequestFailed(f"Box answered 404 (not_found): {what}", 404, "not_found")


@dataclass
class Item:
    name: str
    owner: str
    parent: str | None  # None: a user's root
    link: LinkAccess | None = None
    classification: str | None = None
    etag: int = 0


@dataclass
class Grant:
    item: str
    kind: Literal["user", "group", "invite"]
    user_id: str | None
    email: str | None
    role: str = "editor"


@dataclass
class MemoryBox:
    """Box as the actions see it: ownership follows the folder, visibility by ownership or a
    collaboration on the parent folder, As-User refusals, and one-shot injected failures."""

    files: dict[str, Item] = field(default_factory=dict)
    folders: dict[str, Item] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    refused_as: set[str] = field(default_factory=set)  # As-User targets Box refuses (403)
    # "method" (its next call) or "method#n" (its nth call) -> raised once
    failures: dict[str, BoxCasbError] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    ignored: set[str] = field(default_factory=set)  # writes Box answers 200 to and does not do
    writes: list[str] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    def __post_init__(self) -> None:
        for user in (ADMIN, ALICE, BOB):
            self.folders[root(user)] = Item("All Files", user, None)

    # --- building
    def folder(self, owner: str, name: str, parent: str | None = None) -> str:
        folder_id = str(next(self.ids))
        self.folders[folder_id] = Item(name, owner, parent or root(owner))
        return folder_id

    def file(self, owner: str, parent: str, **kwargs: object) -> str:
        file_id = str(next(self.ids))
        self.files[file_id] = Item(f"file-{file_id}.txt", owner, parent, **kwargs)  # type: ignore[arg-type]
        return file_id

    def grant(self, item: str, kind: Literal["user", "group", "invite"], who: str) -> str:
        grant_id = str(next(self.ids))
        user_id, email = (who, f"{who}@acme.example") if kind == "user" and "@" not in who else (None, who)
        if kind == "group":
            user_id, email = who, None
        self.grants[grant_id] = Grant(item, kind, user_id, email)
        return grant_id

    # --- the port
    def _enter(self, method: str, as_user: str | None, write: bool = False) -> str:
        self.calls[method] += 1
        failure = self.failures.pop(method, None) or self.failures.pop(f"{method}#{self.calls[method]}", None)
        if failure is not None:
            raise failure
        if as_user in self.refused_as:
            raise BoxAccessDenied("Box answered 403 (access_denied_insufficient_permissions)")
        if write:
            self.writes.append(method)
        return as_user or ADMIN

    def _sees(self, who: str, file: Item) -> bool:
        parent = str(file.parent)
        return file.owner == who or any(g.item == parent and g.user_id == who for g in self.grants.values())

    def read_file(self, file_id: str, as_user: str | None) -> FileState:
        who = self._enter("read_file", as_user)
        file = self.files.get(file_id)
        if file is None or not self._sees(who, file):
            raise missing(f"file {file_id}")
        return FileState(
            id=file_id,
            name=file.name,
            etag=str(file.etag),
            owner_id=file.owner,
            parent_id=self._shown(str(file.parent)),
            path=self._path(who, str(file.parent)),
            link_access=file.link,
            classification=file.classification,
        )

    def _shown(self, folder_id: str) -> str:
        return "0" if folder_id.startswith("root") else folder_id

    def _real(self, folder_id: str, who: str) -> str:
        return root(who) if folder_id == "0" else folder_id

    def _path(self, who: str, folder_id: str) -> tuple[PathFolder, ...]:
        chain: list[PathFolder] = []
        current: str | None = folder_id
        while current is not None:
            folder = self.folders[current]
            if folder.owner != who and not any(
                g.item == current and g.user_id == who for g in self.grants.values()
            ):
                break
            chain.append(PathFolder(self._shown(current), folder.name))
            current = folder.parent
        if not chain or chain[-1].id != "0":
            chain.append(PathFolder("0", "All Files"))
        return tuple(reversed(chain))

    def set_shared_link(self, file_id: str, as_user: str | None, access: LinkAccess | None) -> None:
        self._enter("set_shared_link", as_user, write=True)
        if "set_shared_link" not in self.ignored:
            self.files[file_id].link = access
            self.files[file_id].etag += 1

    def collaborations(
        self, item_type: Literal["file", "folder"], item_id: str, as_user: str | None
    ) -> list[Collaboration]:
        self._enter("collaborations", as_user)
        if item_type == "file" and item_id not in self.files:
            raise missing(f"file {item_id}")
        return [
            Collaboration(
                id=gid, kind=g.kind, user_id=g.user_id, email=g.email, role=g.role, status="accepted"
            )
            for gid, g in self.grants.items()
            if g.item == item_id
        ]

    def remove_collaboration(self, collaboration_id: str, as_user: str | None) -> bool:
        self._enter("remove_collaboration", as_user, write=True)
        if "remove_collaboration" in self.ignored:
            return True
        return self.grants.pop(collaboration_id, None) is not None

    def invite(self, folder_id: str, user_id: str, role: str, as_user: str | None) -> str:
        self._enter("invite", as_user, write=True)
        grant_id = str(next(self.ids))
        self.grants[grant_id] = Grant(folder_id, "user", user_id, f"{user_id}@acme.example", role)
        return grant_id

    def set_classification(self, file_id: str, as_user: str | None, label: str, *, replace: bool) -> None:
        self._enter("set_classification", as_user, write=True)
        assert replace == (self.files[file_id].classification is not None)
        self.files[file_id].classification = label

    def ensure_folder(self, parent_id: str, name: str, as_user: str | None) -> str:
        who = self._enter("ensure_folder", as_user)
        parent = self._real(parent_id, who)
        for folder_id, folder in self.folders.items():
            if folder.parent == parent and folder.name.casefold() == name.casefold():
                return folder_id
        self.writes.append("create_folder")
        return self.folder(self.folders[parent].owner, name, parent)

    def move_file(self, file_id: str, parent_id: str, as_user: str | None) -> None:
        who = self._enter("move_file", as_user, write=True)
        file, destination = self.files[file_id], self._real(parent_id, who)
        if not self._sees(who, file) or destination not in self.folders:
            raise missing(f"folder {parent_id}")
        file.parent, file.owner = destination, self.folders[destination].owner
        file.etag += 1

    def delete_empty_folder(self, folder_id: str, as_user: str | None) -> bool:
        self._enter("delete_empty_folder", as_user, write=True)
        if any(f.parent == folder_id for f in self.files.values()):
            return False
        return self.folders.pop(folder_id, None) is not None


def governor(box: MemoryBox) -> Governor:
    return Governor(box, connection_id="c1", admin_user_id=ADMIN, clock=lambda: T0)


def request(kind: ActionKind, file_id: str, owner: str = ALICE, **extra: object) -> ActionRequest:
    return ActionRequest(kind=kind, file_id=file_id, owner_id=owner, **extra)  # type: ignore[arg-type]


@pytest.fixture
def box() -> MemoryBox:
    return MemoryBox()


# ----- requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "missing_field"),
    [
        (ActionKind.NARROW_SHARED_LINK, "access"),
        (ActionKind.APPLY_CLASSIFICATION, "classification"),
        (ActionKind.REMOVE_EXTERNAL_COLLABORATORS, "internal_domains"),
        (ActionKind.RESTORE, "original_parent_id"),
    ],
)
def test_a_request_without_what_its_action_needs_is_refused(kind: ActionKind, missing_field: str) -> None:
    with pytest.raises(ValidationError, match=missing_field):
        request(kind, "10")


@pytest.mark.parametrize(
    "extra",
    [{"file_id": "10/../11"}, {"access": "open"}, {"internal_domains": ["not a domain"]}, {"colour": "red"}],
)
def test_malformed_requests_are_refused(extra: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "kind": "narrow_shared_link",
        "file_id": "10",
        "owner_id": "2",
        "access": "company",
    }
    with pytest.raises(ValidationError):
        ActionRequest.model_validate(fields | extra)


def test_internal_domains_are_compared_in_lower_case() -> None:
    made = request(ActionKind.REMOVE_EXTERNAL_COLLABORATORS, "10", internal_domains=[" ACME.example "])
    assert made.internal_domains == frozenset({"acme.example"})


# ----- shared links -----------------------------------------------------------------------


def test_removing_an_open_link_then_again(box: MemoryBox) -> None:
    file_id = box.file(ALICE, root(ALICE), link=LinkAccess.OPEN)
    gov = governor(box)
    first = gov.apply(request(ActionKind.REMOVE_SHARED_LINK, file_id))
    assert (first.result, first.before, first.after) == (
        "applied",
        {"shared_link_access": "open", "etag": "0"},
        {"shared_link_access": None, "etag": "1"},
    )
    assert first.acting_user_id == ALICE
    assert box.writes == ["set_shared_link"]
    second = gov.apply(request(ActionKind.REMOVE_SHARED_LINK, file_id))
    assert (second.result, second.after) == ("already", {})
    assert box.writes == ["set_shared_link"]


@pytest.mark.parametrize(
    ("current", "target", "result"),
    [
        (LinkAccess.OPEN, "company", "applied"),
        (LinkAccess.OPEN, "collaborators", "applied"),
        (LinkAccess.COMPANY, "collaborators", "applied"),
        (LinkAccess.COMPANY, "company", "already"),
        (LinkAccess.COLLABORATORS, "company", "already"),  # narrowing never widens
        (None, "company", "already"),
    ],
)
def test_narrowing_only_ever_narrows(
    box: MemoryBox, current: LinkAccess | None, target: str, result: str
) -> None:
    file_id = box.file(ALICE, root(ALICE), link=current)
    outcome = governor(box).apply(request(ActionKind.NARROW_SHARED_LINK, file_id, access=target))
    assert outcome.result == result
    expected = LinkAccess(target) if result == "applied" else current
    assert box.files[file_id].link is expected


def test_a_write_box_ignores_is_reported_not_applied(box: MemoryBox) -> None:
    file_id = box.file(ALICE, root(ALICE), link=LinkAccess.OPEN)
    box.ignored.add("set_shared_link")
    outcome = governor(box).apply(request(ActionKind.NARROW_SHARED_LINK, file_id, access="company"))
    assert outcome.result == "failed"
    assert outcome.reason == "not_applied: Box still shows the link as open"


def test_the_admins_own_file_is_changed_without_as_user(box: MemoryBox) -> None:
    box.refused_as.add(ADMIN)  # Box refuses an As-User naming the authenticated user
    file_id = box.file(ADMIN, root(ADMIN), link=LinkAccess.COMPANY)
    outcome = governor(box).apply(request(ActionKind.REMOVE_SHARED_LINK, file_id, owner=ADMIN))
    assert outcome.result == "applied"
    assert outcome.acting_user_id == ADMIN


# ----- collaborators ----------------------------------------------------------------------


def test_external_collaborators_and_invites_go_internal_ones_and_groups_stay(box: MemoryBox) -> None:
    file_id = box.file(ALICE, root(ALICE))
    keep = {box.grant(file_id, "user", BOB), box.grant(file_id, "group", "77")}
    eve = box.grant(file_id, "user", "eve@partner.example")
    invite = box.grant(file_id, "invite", "new@ELSEWHERE.example")
    gov = governor(box)
    req = request(ActionKind.REMOVE_EXTERNAL_COLLABORATORS, file_id, internal_domains=DOMAINS)
    outcome = gov.apply(req)
    assert outcome.result == "applied"
    assert [c["id"] for c in outcome.before["external_collaborations"]] == [eve, invite]  # type: ignore[index, union-attr]
    assert outcome.after == {"external_collaborations": []}
    assert set(box.grants) == keep
    assert gov.apply(req).result == "already"
    assert box.writes == ["remove_collaboration", "remove_collaboration"]


def test_a_removal_that_stops_midway_leaves_the_audit_what_went(box: MemoryBox) -> None:
    file_id = box.file(ALICE, root(ALICE))
    eve = box.grant(file_id, "user", "eve@partner.example")
    mallory = box.grant(file_id, "user", "mallory@evil.example")
    box.failures["remove_collaboration#2"] = BoxAccessDenied("Box answered 403")
    req = request(ActionKind.REMOVE_EXTERNAL_COLLABORATORS, file_id, internal_domains=DOMAINS)
    outcome = governor(box).apply(req)
    assert outcome.result == "failed"
    assert outcome.reason == (
        f"insufficient_permissions: remove collaboration {mallory} from file {file_id} as user {ALICE}: "
        "Box answered 403"
    )
    assert [c["id"] for c in outcome.before["external_collaborations"]] == [eve, mallory]  # type: ignore[index, union-attr]
    assert [c["id"] for c in outcome.after["external_collaborations"]] == [mallory]  # type: ignore[index, union-attr]


def test_a_subdomain_is_not_the_enterprise(box: MemoryBox) -> None:
    file_id = box.file(ALICE, root(ALICE))
    box.grant(file_id, "user", "someone@eu.acme.example")
    req = request(ActionKind.REMOVE_EXTERNAL_COLLABORATORS, file_id, internal_domains=DOMAINS)
    assert governor(box).dry_run(req).result == "would_apply"


def test_collaborators_that_stay_after_removal_fail_the_action(box: MemoryBox) -> None:
    file_id = box.file(ALICE, root(ALICE))
    box.grant(file_id, "user", "eve@partner.example")
    box.ignored.add("remove_collaboration")
    req = request(ActionKind.REMOVE_EXTERNAL_COLLABORATORS, file_id, internal_domains=DOMAINS)
    outcome = governor(box).apply(req)
    assert outcome.result == "failed"
    assert outcome.reason == "not_applied: 1 external collaboration(s) still on the file"


# ----- classification ---------------------------------------------------------------------


@pytest.mark.parametrize("current", [None, "Internal"])
def test_classification_is_created_or_replaced(box: MemoryBox, current: str | None) -> None:
    file_id = box.file(ALICE, root(ALICE), classification=current)
    req = request(ActionKind.APPLY_CLASSIFICATION, file_id, classification="Confidential")
    outcome = governor(box).apply(req)
    assert (outcome.result, outcome.before, outcome.after) == (
        "applied",
        {"classification": current},
        {"classification": "Confidential"},
    )
    assert governor(box).apply(req).result == "already"


# ----- quarantine and restore -------------------------------------------------------------


def test_quarantine_moves_the_file_into_a_folder_of_its_own_and_restore_brings_it_back(
    box: MemoryBox,
) -> None:
    reports = box.folder(ALICE, "Reports")
    file_id = box.file(ALICE, reports)
    gov = governor(box)
    quarantined = gov.apply(request(ActionKind.QUARANTINE, file_id))
    assert quarantined.result == "applied"
    assert quarantined.before == {"parent_id": reports, "owner_id": ALICE, "path": "/Reports"}
    holder = str(box.files[file_id].parent)
    assert quarantined.after == {"parent_id": holder, "owner_id": ADMIN, "path": f"/Quarantine/{file_id}"}
    assert box.grants == {}  # alice was let in for the move only
    assert box.writes == ["create_folder", "create_folder", "invite", "move_file", "remove_collaboration"]
    with pytest.raises(BoxRequestFailed):
        box.read_file(file_id, ALICE)  # hers no more

    box.writes.clear()
    assert gov.apply(request(ActionKind.QUARANTINE, file_id)).result == "already"
    assert box.writes == []

    back = request(ActionKind.RESTORE, file_id, original_parent_id=quarantined.before["parent_id"])
    restored = gov.apply(back)
    assert restored.result == "applied"
    assert restored.after == {"parent_id": reports, "owner_id": ALICE, "path": "/Reports"}
    assert holder not in box.folders  # the emptied per-file folder is deleted
    assert box.grants == {}
    box.writes.clear()
    assert gov.apply(back).result == "already"
    assert box.writes == []


def test_the_quarantine_folder_is_found_not_made_twice(box: MemoryBox) -> None:
    first, second = box.file(ALICE, root(ALICE)), box.file(BOB, root(BOB))
    gov = governor(box)
    assert gov.apply(request(ActionKind.QUARANTINE, first)).result == "applied"
    assert gov.apply(request(ActionKind.QUARANTINE, second, owner=BOB)).result == "applied"
    quarantine = [f for f in box.folders.values() if f.name == "Quarantine"]
    assert len(quarantine) == 1
    assert box.writes.count("create_folder") == 3  # Quarantine once, then one folder per file


def test_a_failed_move_takes_the_owner_out_of_the_quarantine_folder_again(box: MemoryBox) -> None:
    file_id = box.file(ALICE, root(ALICE))
    box.failures["move_file"] = BoxUnavailable("Box answered 503 (unavailable)")
    outcome = governor(box).apply(request(ActionKind.QUARANTINE, file_id))
    assert outcome.result == "retry"
    assert outcome.reason == (
        f"unavailable: move file {file_id} into folder {_holder(box, file_id)} "
        f"as user {ALICE}: Box answered 503 (unavailable)"
    )
    assert box.grants == {}
    assert box.files[file_id].owner == ALICE


def _holder(box: MemoryBox, file_id: str) -> str:
    return next(fid for fid, f in box.folders.items() if f.name == file_id)


def test_a_collaboration_left_behind_is_removed_by_the_next_run(box: MemoryBox) -> None:
    file_id = box.file(ALICE, root(ALICE))
    box.failures["remove_collaboration"] = BoxUnavailable("Box answered 502 (bad_gateway)")
    gov = governor(box)
    assert gov.apply(request(ActionKind.QUARANTINE, file_id)).result == "retry"
    assert box.files[file_id].owner == ADMIN  # moved, but alice still has the folder
    assert len(box.grants) == 1
    dry = gov.dry_run(request(ActionKind.QUARANTINE, file_id))
    assert dry.result == "would_apply"
    again = gov.apply(request(ActionKind.QUARANTINE, file_id))
    assert again.result == "applied"
    assert again.after["quarantine_folder_collaborations"] == []
    assert box.grants == {}
    assert gov.apply(request(ActionKind.QUARANTINE, file_id)).result == "already"


def test_quarantine_refuses_a_file_whose_owner_changed(box: MemoryBox) -> None:
    file_id = box.file(BOB, root(BOB))
    box.grant(root(BOB), "user", ALICE)  # alice can see it, but it is bob's
    outcome = governor(box).apply(request(ActionKind.QUARANTINE, file_id, owner=ALICE))
    assert outcome.result == "failed"
    assert outcome.reason == f"owner_changed: file {file_id} is owned by user {BOB}, not {ALICE}"
    assert box.writes == []


def test_restoring_a_file_that_is_not_quarantined_fails(box: MemoryBox) -> None:
    elsewhere = box.folder(ALICE, "Elsewhere")
    file_id = box.file(ALICE, elsewhere)
    outcome = governor(box).apply(request(ActionKind.RESTORE, file_id, original_parent_id="4242"))
    assert outcome.result == "failed"
    assert outcome.reason == f"not_quarantined: file {file_id} is in folder {elsewhere}"


def test_restore_into_a_folder_that_is_gone(box: MemoryBox) -> None:
    reports = box.folder(ALICE, "Reports")
    file_id = box.file(ALICE, reports)
    gov = governor(box)
    gov.apply(request(ActionKind.QUARANTINE, file_id))
    del box.folders[reports]
    outcome = gov.apply(request(ActionKind.RESTORE, file_id, original_parent_id=reports))
    assert outcome.result == "failed"
    assert str(outcome.reason).startswith(
        f"not_found: move file {file_id} into folder {reports} as user {ALICE}"
    )
    assert box.grants == {}
    assert box.files[file_id].owner == ADMIN  # still safe in quarantine


# ----- failures and dry runs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "result", "reason", "wait"),
    [
        (BoxAccessDenied("Box answered 403"), "failed", "insufficient_permissions", None),
        (missing("file"), "failed", "not_found", None),
        (BoxRequestFailed("Box answered 400 (bad_request)", 400, "bad_request"), "failed", "rejected", None),
        (BoxRateLimited("Box answered 429: retry after 90 s", 90.0), "retry", "rate_limited", 90.0),
        (BoxUnavailable("Box answered 503"), "retry", "unavailable", None),
        (ReconnectRequired("Box refused the refresh token"), "failed", "reconnect_required", None),
    ],
)
def test_box_errors_become_outcomes(
    box: MemoryBox, error: BoxCasbError, result: str, reason: str, wait: float | None
) -> None:
    file_id = box.file(ALICE, root(ALICE), link=LinkAccess.OPEN)
    box.failures["set_shared_link"] = error
    outcome = governor(box).apply(request(ActionKind.REMOVE_SHARED_LINK, file_id))
    assert (outcome.result, outcome.retry_after_seconds) == (result, wait)
    assert str(outcome.reason).startswith(f"{reason}: ")
    assert outcome.before == {"shared_link_access": "open", "etag": "0"}


def test_a_coadmin_refused_as_user_gets_a_clear_reason(box: MemoryBox) -> None:
    box.refused_as.add(BOB)
    file_id = box.file(BOB, root(BOB), link=LinkAccess.OPEN)
    outcome = governor(box).apply(request(ActionKind.REMOVE_SHARED_LINK, file_id, owner=BOB))
    assert outcome.result == "failed"
    assert outcome.reason == (
        f"insufficient_permissions: read file {file_id} as user {BOB}: "
        "Box answered 403 (access_denied_insufficient_permissions)"
    )
    assert outcome.before == {}


def test_dry_runs_write_nothing(box: MemoryBox) -> None:
    file_id = box.file(ALICE, root(ALICE), link=LinkAccess.OPEN, classification="Public")
    box.grant(file_id, "user", "eve@partner.example")
    gov = governor(box)
    requests = [
        request(ActionKind.REMOVE_SHARED_LINK, file_id),
        request(ActionKind.NARROW_SHARED_LINK, file_id, access="collaborators"),
        request(ActionKind.REMOVE_EXTERNAL_COLLABORATORS, file_id, internal_domains=DOMAINS),
        request(ActionKind.APPLY_CLASSIFICATION, file_id, classification="Confidential"),
        request(ActionKind.QUARANTINE, file_id),
    ]
    outcomes = [gov.dry_run(r) for r in requests]
    assert [o.result for o in outcomes] == ["would_apply"] * 5
    assert [o.after for o in outcomes] == [
        {"shared_link_access": None},
        {"shared_link_access": "collaborators"},
        {"external_collaborations": []},
        {"classification": "Confidential"},
        {"owner_id": ADMIN, "path": f"/Quarantine/{file_id}"},
    ]
    assert box.writes == []
    assert [f.name for f in box.folders.values()] == ["All Files"] * 3


def test_the_audit_record_says_who_did_what(box: MemoryBox) -> None:
    file_id = box.file(ALICE, root(ALICE), link=LinkAccess.OPEN)
    gov = governor(box)
    record = gov.audit(gov.apply(request(ActionKind.REMOVE_SHARED_LINK, file_id)))
    assert record.model_dump() == {
        "connection_id": "c1",
        "admin_user_id": ADMIN,
        "acting_user_id": ALICE,
        "action": ActionKind.REMOVE_SHARED_LINK,
        "file_id": file_id,
        "dry_run": False,
        "result": "applied",
        "before": {"shared_link_access": "open", "etag": "0"},
        "after": {"shared_link_access": None, "etag": "1"},
        "reason": None,
        "at": T0,
        "requested_by": None,  # set when an admin asked (a restore); a scan's actions have none
    }
    with pytest.raises(ValidationError):
        record.model_validate(record.model_dump() | {"at": datetime(2026, 1, 1)})  # a time without a zone


# ----- properties ---------------------------------------------------------------------------

LINKS = st.sampled_from([None, *LinkAccess])
WHO = st.sampled_from(
    ["user:3", "user:eve@partner.example", "invite:x@other.example", "group:77", "user:x@ACME.example"]
)


@st.composite
def situations(draw: st.DrawFn) -> tuple[MemoryBox, ActionRequest]:
    box = MemoryBox()
    file_id = box.file(
        ALICE, root(ALICE), link=draw(LINKS), classification=draw(st.sampled_from([None, "Public"]))
    )
    for who in draw(st.lists(WHO, max_size=4)):
        kind, _, name = who.partition(":")
        box.grant(file_id, kind, name)  # type: ignore[arg-type]
    kind = draw(st.sampled_from([k for k in ActionKind if k is not ActionKind.RESTORE]))
    extra = {
        ActionKind.NARROW_SHARED_LINK: {"access": draw(st.sampled_from(["company", "collaborators"]))},
        ActionKind.APPLY_CLASSIFICATION: {
            "classification": draw(st.sampled_from(["Public", "Confidential"]))
        },
        ActionKind.REMOVE_EXTERNAL_COLLABORATORS: {"internal_domains": DOMAINS},
    }.get(kind, {})
    return box, request(kind, file_id, **extra)


@settings(max_examples=150, deadline=None)
@given(situations())
def test_a_dry_run_predicts_apply_and_a_second_apply_changes_nothing(
    situation: tuple[MemoryBox, ActionRequest],
) -> None:
    box, req = situation
    gov = governor(box)
    planned = gov.dry_run(req)
    assert box.writes == []
    done = gov.apply(req)
    assert {"would_apply": "applied", "already": "already"}[planned.result] == done.result
    assert planned.before == done.before
    assert planned.after.items() <= done.after.items()
    writes = list(box.writes)
    again = gov.apply(req)
    assert again.result == "already"
    assert box.writes == writes
