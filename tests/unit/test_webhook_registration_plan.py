"""The webhook sync's plan (pure), and the registrar's decisions over an in-memory Box."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boxcasb.errors import BoxAccessDenied, BoxUnavailable, Conflict
from boxcasb.models import BoxUser, Connection, ConnectionStatus
from boxcasb.webhooks.model import REGISTERED_TRIGGERS, WebhookRegistration, WebhookStatus
from boxcasb.webhooks.registration import (
    MAX_UNAVAILABLE_IN_A_ROW,
    ROOT_FILES,
    SyncPlan,
    Target,
    WebhookRegistrar,
    plan_sync,
)

ADDRESS = "https://api.example/webhooks/box"
T0 = datetime(2026, 11, 27, tzinfo=UTC)


def record(
    webhook_id: str,
    folder_id: str,
    owner: str,
    *,
    status: WebhookStatus = WebhookStatus.ACTIVE,
    address: str = ADDRESS,
    triggers: tuple[str, ...] = REGISTERED_TRIGGERS,
    target_type: str = "folder",
    age: int = 0,
) -> WebhookRegistration:
    return WebhookRegistration(
        webhook_id=webhook_id,
        connection_id="c1",
        owner_user_id=owner,
        target_type=target_type,
        target_id=folder_id,
        triggers=triggers,
        address=address,
        created_at=T0 - timedelta(minutes=age),
        status=status,
    )


def targets(*pairs: tuple[str, str]) -> dict[str, Target]:
    return {folder: Target(folder, owner) for folder, owner in pairs}


def sizes(plan: SyncPlan) -> dict[str, int]:
    """How many of each fate, leaving out the empty ones."""
    return {name: len(value) for name, value in vars(plan).items() if value}


# --- plan_sync -----------------------------------------------------------------------------


def test_nothing_recorded_creates_every_target_in_a_stable_order() -> None:
    plan = plan_sync(targets(("12", "u2"), ("11", "u1"), ("10", "u2")), [], address=ADDRESS)
    assert [(t.owner_id, t.folder_id) for t in plan.create] == [("u1", "11"), ("u2", "10"), ("u2", "12")]
    assert sizes(plan) == {"create": 3}


def test_recorded_and_wanted_is_kept_and_nothing_else_happens() -> None:
    kept = record("w1", "10", "u1")
    plan = plan_sync(targets(("10", "u1")), [kept], address=ADDRESS)
    assert plan.keep == [(kept, Target("10", "u1"))]
    assert sizes(plan) == {"keep": 1}


def test_not_wanted_is_removed_unless_its_owner_or_folder_is_undecided() -> None:
    gone = record("w1", "10", "u1")
    unknown_owner = record("w2", "20", "u2")
    unknown_folder = record("w3", "30", "u3")
    plan = plan_sync(
        {},
        [gone, unknown_owner, unknown_folder],
        address=ADDRESS,
        undecided_owners={"u2"},
        undecided_targets={"30"},
    )
    assert plan.remove == [gone]
    assert plan.leave == [unknown_owner, unknown_folder]


def test_marked_or_moved_to_another_owner_is_recreated() -> None:
    marked = record("w1", "10", "u1", status=WebhookStatus.RECREATE)
    transferred = record("w2", "20", "u1")
    plan = plan_sync(targets(("10", "u1"), ("20", "u2")), [marked, transferred], address=ADDRESS)
    assert plan.recreate == [(marked, Target("10", "u1")), (transferred, Target("20", "u2"))]


@pytest.mark.parametrize(
    "stale",
    [
        record("w1", "10", "u1", address="https://old.example/webhooks/box"),
        record("w1", "10", "u1", triggers=("FILE.UPLOADED",)),
    ],
)
def test_another_address_or_other_triggers_are_updated_in_place(stale: WebhookRegistration) -> None:
    plan = plan_sync(targets(("10", "u1")), [stale], address=ADDRESS)
    assert plan.update == [(stale, Target("10", "u1"))]
    assert sizes(plan) == {"update": 1}


def test_duplicates_on_one_target_keep_the_active_one_of_the_right_owner() -> None:
    best = record("w2", "10", "u1", age=10)
    newer_but_marked = record("w3", "10", "u1", status=WebhookStatus.RECREATE)
    wrong_owner = record("w1", "10", "u9")
    plan = plan_sync(targets(("10", "u1")), [newer_but_marked, wrong_owner, best], address=ADDRESS)
    assert plan.keep == [(best, Target("10", "u1"))]
    assert sorted(r.webhook_id for r in plan.remove) == ["w1", "w3"]


def test_a_file_target_is_never_ours_to_keep() -> None:
    on_file = record("w1", "10", "u1", target_type="file")
    plan = plan_sync(targets(("10", "u1")), [on_file], address=ADDRESS)
    assert plan.remove == [on_file]
    assert plan.create == [Target("10", "u1")]


def test_the_per_user_limit_counts_what_the_owner_keeps_and_frees_what_is_removed() -> None:
    recorded = [
        record("w1", "10", "u1"),  # kept: counts
        record("w2", "99", "u1"),  # removed: frees its place
        record("w3", "50", "u2", status=WebhookStatus.RECREATE),  # undecided and broken: doesn't count
        record("w4", "60", "u2"),  # undecided, active: counts
    ]
    plan = plan_sync(
        targets(("10", "u1"), ("11", "u1"), ("12", "u1"), ("20", "u2"), ("21", "u2")),
        recorded,
        address=ADDRESS,
        undecided_owners={"u2"},
        per_user_limit=2,
    )
    assert [t.folder_id for t in plan.create] == ["11", "20"]
    assert [t.folder_id for t in plan.over_limit] == ["12", "21"]


owners = st.sampled_from(["u1", "u2", "u3"])
folders = st.sampled_from([str(n) for n in range(10, 30)])


@given(
    wanted=st.dictionaries(folders, owners, max_size=12),
    existing=st.lists(
        st.tuples(folders, owners, st.sampled_from(list(WebhookStatus)), st.booleans()), max_size=12
    ),
    undecided=st.sets(owners, max_size=1),
    limit=st.integers(min_value=0, max_value=5),
)
def test_every_target_and_every_record_gets_exactly_one_fate(
    wanted: dict[str, str],
    existing: list[tuple[str, str, WebhookStatus, bool]],
    undecided: set[str],
    limit: int,
) -> None:
    ids = itertools.count(1)
    recorded = [
        record(
            f"w{next(ids)}", folder, owner, status=status, address=ADDRESS if same else "https://x.example/"
        )
        for folder, owner, status, same in existing
    ]
    wanted_targets = {folder: Target(folder, owner) for folder, owner in wanted.items()}
    plan = plan_sync(
        wanted_targets, recorded, address=ADDRESS, undecided_owners=undecided, per_user_limit=limit
    )

    fates = [r for r, _ in plan.keep + plan.update + plan.recreate] + plan.remove + plan.leave
    assert sorted(r.webhook_id for r in fates) == sorted(r.webhook_id for r in recorded)
    covered = [t for _, t in plan.keep + plan.update + plan.recreate] + plan.create + plan.over_limit
    assert sorted(t.folder_id for t in covered) == sorted(wanted)
    assert not any(r.target_id in wanted for r in plan.leave)
    for owner in {t.owner_id for t in plan.create}:
        holding = [t for _, t in plan.keep + plan.update + plan.recreate if t.owner_id == owner]
        holding += [r for r in plan.leave if r.owner_user_id == owner and r.status is WebhookStatus.ACTIVE]
        created = [t for t in plan.create if t.owner_id == owner]
        assert len(created) + len(holding) <= limit or not created


# --- the registrar over an in-memory Box ---------------------------------------------------


@dataclass(frozen=True)
class Item:
    type: str
    id: str
    name: str | None
    owner_id: str | None


@dataclass(frozen=True)
class Page:
    entries: list[Item]
    next_marker: str | None = None


@dataclass(frozen=True)
class Hook:
    id: str
    target_type: str
    target_id: str
    address: str | None = None
    triggers: tuple[str, ...] = ()


@dataclass
class MemoryBox:
    """Box for one admin ("admin"): users, what their roots hold, this app's webhooks."""

    users: list[BoxUser]
    roots: dict[str, list[Item]]
    hooks: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (creator, folder)
    fail: dict[str, list[Exception | None]] = field(default_factory=dict)  # per method, in turn; None: answer
    calls: list[str] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    def _enter(self, method: str) -> None:
        self.calls.append(method)
        errors = self.fail.get(method)
        error = errors.pop(0) if errors else None
        if error is not None:
            raise error

    def current_user(self) -> BoxUser:
        return BoxUser(id="admin")

    def managed_users(self) -> list[BoxUser]:
        self._enter("managed_users")
        return self.users

    def list_folder_items_as(self, user_id: str | None, folder_id: str, marker: str | None = None) -> Page:
        self._enter("list_folder_items_as")
        return Page(self.roots[user_id or "admin"])

    def get_folder(self, folder_id: str, user_id: str | None = None) -> Item:
        raise AssertionError("not used by these tests")

    def create_webhook_as(
        self, user_id: str | None, folder_id: str, address: str, triggers: Sequence[str]
    ) -> str:
        self._enter("create_webhook_as")
        if any(folder == folder_id for _, folder in self.hooks.values()):
            raise Conflict("exists")
        webhook_id = str(next(self.ids))
        self.hooks[webhook_id] = (user_id or "admin", folder_id)
        return webhook_id

    def list_webhooks_as(self, user_id: str | None) -> list[Hook]:
        self._enter("list_webhooks_as")
        return [
            Hook(i, "folder", f) for i, (creator, f) in self.hooks.items() if creator == (user_id or "admin")
        ]

    def get_webhook_as(self, user_id: str | None, webhook_id: str) -> Hook | None:
        self._enter("get_webhook_as")
        return Hook(webhook_id, "folder", self.hooks[webhook_id][1], ADDRESS, REGISTERED_TRIGGERS)

    def update_webhook_as(
        self, user_id: str | None, webhook_id: str, address: str, triggers: Sequence[str]
    ) -> bool:
        self._enter("update_webhook_as")
        return webhook_id in self.hooks

    def delete_webhook_as(self, user_id: str | None, webhook_id: str) -> bool:
        self._enter("delete_webhook_as")
        return self.hooks.pop(webhook_id, None) is not None


class MemoryStore:
    def __init__(self) -> None:
        self.webhooks: dict[str, WebhookRegistration] = {}

    def get_connection(self, connection_id: str) -> Connection:
        return Connection(
            connection_id=connection_id,
            status=ConnectionStatus.CONNECTED,
            created_at=T0,
            updated_at=T0,
            admin_user_id="admin",
            role="admin",
        )

    def list_webhooks(self, connection_id: str) -> list[WebhookRegistration]:
        return list(self.webhooks.values())

    def put_webhook(self, registration: WebhookRegistration) -> None:
        self.webhooks[registration.webhook_id] = registration

    def delete_webhook(self, connection_id: str, webhook_id: str) -> None:
        self.webhooks.pop(webhook_id, None)


def folder(folder_id: str, owner: str) -> Item:
    return Item("folder", folder_id, f"folder {folder_id}", owner)


def tenant(**roots: list[Item]) -> MemoryBox:
    return MemoryBox(users=[BoxUser(id=u, login=f"{u}@x", status="active") for u in roots], roots=dict(roots))


def run(box: MemoryBox, store: MemoryStore | None = None, **options: Any) -> Any:
    registrar = WebhookRegistrar(store or MemoryStore(), lambda _: box, ADDRESS, **options)  # type: ignore[arg-type]
    return registrar.sync("c1")


def test_shared_folders_in_a_root_belong_to_their_owner_and_root_files_are_reported() -> None:
    box = tenant(
        admin=[folder("1", "admin")],
        alice=[folder("2", "alice"), folder("1", "admin"), Item("file", "9", "a.txt", "alice")],
        bob=[Item("file", "8", "b.txt", "alice")],  # shared with bob: alice's, not bob's root file
    )
    report = run(box)
    assert sorted(box.hooks.values()) == [("admin", "1"), ("alice", "2")]
    assert [(u.user_id, u.reason) for u in report.uncovered] == [("alice", ROOT_FILES)]


def test_a_user_who_cant_be_listed_keeps_the_recorded_webhooks() -> None:
    box = tenant(admin=[folder("1", "admin")], alice=[folder("2", "alice")])
    store = MemoryStore()
    run(box, store)
    box.fail["list_folder_items_as"] = [BoxAccessDenied("ok"), BoxAccessDenied("Box answered 403")]
    report = run(box, store)
    assert len(store.webhooks) == 2
    assert (report.kept, report.removed) == (2, 0)
    assert {u.user_id for u in report.uncovered} == {"admin", "alice"}
    assert "delete_webhook_as" not in box.calls


def test_a_refused_removal_keeps_the_record_and_says_so() -> None:
    box = tenant(admin=[folder("1", "admin"), folder("2", "admin")])
    store = MemoryStore()
    run(box, store)
    box.roots["admin"] = [folder("1", "admin")]
    box.fail["delete_webhook_as"] = [BoxAccessDenied("Box answered 403")]
    report = run(box, store)
    assert report.removed == 0
    assert {r.target_id for r in store.webhooks.values()} == {"1", "2"}
    [refused] = report.uncovered
    assert refused.target_id == "2"
    assert "kept on record" in refused.reason


def test_box_down_for_one_create_skips_it_but_down_for_several_in_a_row_stops_the_run() -> None:
    roots = [folder(str(n), "admin") for n in range(1, 7)]
    down = BoxUnavailable("Box answered 503")
    store, box = MemoryStore(), tenant(admin=roots)
    box.fail["create_webhook_as"] = [down] * (MAX_UNAVAILABLE_IN_A_ROW - 1)
    report = run(box, store)
    assert report.created == len(roots) - (MAX_UNAVAILABLE_IN_A_ROW - 1)
    assert [u.target_id for u in report.uncovered] == ["1", "2"]
    assert all("503" in u.reason for u in report.uncovered)

    store, box = MemoryStore(), tenant(admin=roots)
    box.fail["create_webhook_as"] = [down, None] + [down] * MAX_UNAVAILABLE_IN_A_ROW  # a success resets
    with pytest.raises(BoxUnavailable):
        run(box, store)
    assert [r.target_id for r in store.webhooks.values()] == ["2"]
    assert list(box.hooks) == [r.webhook_id for r in store.webhooks.values()]
