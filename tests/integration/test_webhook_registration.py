"""WebhookRegistrar against the fake Box over HTTP and the local stack's table.

What Box should hold is computed from the fake tenant here, independently of the code under
test: each active managed user's own folders directly in their root. Every test starts from
no webhooks of this app in Box and none recorded, because the fake tenant is shared by the
session and Box allows one webhook per target per app (another connection's would be a 409).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from boxcasb.errors import BoxRateLimited
from boxcasb.webhooks.model import REGISTERED_TRIGGERS, WebhookRegistration, WebhookStatus
from boxcasb.webhooks.registration import ROOT_FILES, WebhookRegistrar
from boxcasb.wiring import services
from devstack.browser import consent
from tests.support.flows import admin_api, get_connection, start_connection

ADMIN = "admin@acme.example"
BOX_API = r"^/2\.0/(users|folders|webhooks)"  # what a sync calls (the stack's poller reads /events)
WEBHOOKS = r"^/2\.0/webhooks"


def connect(stack: Any, login: str = ADMIN) -> str:
    api = admin_api(stack.api_url)
    started = start_connection(api)
    consent(started["authorize_url"], login)
    stack.wait_for_async(timeout=120)  # the Test API and the backfill: their Box calls are not ours
    assert get_connection(api, started["connection_id"])["status"] == "connected"
    return str(started["connection_id"])


@pytest.fixture(scope="module")
def admin_connection(stack: Any) -> str:
    return connect(stack)


@pytest.fixture
def cid(admin_connection: str, fake_box: Any) -> Iterator[str]:
    """The admin's connection with no webhook in Box or on record; the fake's limit restored after."""
    forget_all(fake_box, admin_connection)
    yield admin_connection
    fake_box.webhook_options.limit_per_user = 1000
    forget_all(fake_box, admin_connection)


def forget_all(fake_box: Any, connection_id: str) -> None:
    store = services().store
    for registration in store.list_webhooks(connection_id):
        store.delete_webhook(connection_id, registration.webhook_id)
    with fake_box.tenant.lock:
        fake_box.tenant.webhooks.clear()


def registrar(stack: Any, folder_ids: tuple[str, ...] = (), per_user_limit: int = 1000) -> WebhookRegistrar:
    return WebhookRegistrar(
        services().store,
        services().gateways.for_connection,
        stack.webhook_url,
        folder_ids=folder_ids,
        per_user_limit=per_user_limit,
    )


def expected_targets(fake_box: Any) -> dict[str, str]:
    """Folder id -> owner id: every active managed user's own folders directly in their root."""
    tenant = fake_box.tenant
    with tenant.lock:
        return {
            item.id: user.id
            for user in tenant.users.values()
            if user.enterprise_id is not None and user.is_active
            for item in tenant.children(tenant.root_of(user))
            if item.type == "folder" and item.owner_id == user.id
        }


def users_with_root_files(fake_box: Any) -> set[str]:
    tenant = fake_box.tenant
    with tenant.lock:
        return {
            user.id
            for user in tenant.users.values()
            if user.enterprise_id is not None
            and user.is_active
            and any(
                i.type != "folder" and i.owner_id == user.id for i in tenant.children(tenant.root_of(user))
            )
        }


def in_box(fake_box: Any) -> dict[str, Any]:
    """This app's webhooks in Box: target folder id -> webhook."""
    with fake_box.tenant.lock:
        hooks = [w for w in fake_box.tenant.webhooks.values() if w.client_id == fake_box.client_id]
    assert all(w.target_type == "folder" for w in hooks)
    targets = [w.target_id for w in hooks]
    assert len(targets) == len(set(targets))
    return {w.target_id: w for w in hooks}


def recorded(connection_id: str) -> dict[str, WebhookRegistration]:
    registrations = services().store.list_webhooks(connection_id)
    targets = [r.target_id for r in registrations]
    assert len(targets) == len(set(targets)), "one record per target"
    return {r.target_id: r for r in registrations}


def assert_box_matches_records(fake_box: Any, connection_id: str) -> None:
    box, store = in_box(fake_box), recorded(connection_id)
    assert {t: w.id for t, w in box.items()} == {t: r.webhook_id for t, r in store.items()}
    assert {t: w.created_by_id for t, w in box.items()} == {t: r.owner_user_id for t, r in store.items()}


def test_first_sync_covers_each_top_level_folder_as_its_owner_and_a_rerun_changes_nothing(
    stack: Any, fake_box: Any, cid: str
) -> None:
    tenant = fake_box.tenant
    admin, dave = tenant.user_by_login(ADMIN), tenant.user_by_login("dave@acme.example")
    wanted = expected_targets(fake_box)
    owners = set(wanted.values())
    active_users = sum(1 for u in tenant.users.values() if u.enterprise_id is not None and u.is_active)
    assert admin.id in owners
    assert len(owners) >= 4  # admin, co-admin, alice, bob, carol own top-level folders

    fake_box.clear_requests()
    first = registrar(stack).sync(cid)
    calls_first = fake_box.count(path_regex=BOX_API)

    assert (first.created, first.adopted, first.kept, first.recreated, first.removed) == (
        len(wanted),
        0,
        0,
        0,
        0,
    )
    assert {t: w.created_by_id for t, w in in_box(fake_box).items()} == wanted
    assert_box_matches_records(fake_box, cid)
    for webhook in in_box(fake_box).values():
        assert (webhook.address, tuple(webhook.triggers)) == (stack.webhook_url, REGISTERED_TRIGGERS)
    assert all(r.status is WebhookStatus.ACTIVE for r in recorded(cid).values())
    # As-User only for others: Box refuses As-User naming the authenticated user.
    creates = [r for r in fake_box.requests if r.method == "POST" and r.path == "/2.0/webhooks"]
    assert {r.as_user for r in creates} == (owners - {admin.id}) | {None}
    # What no webhook covers: root files (one entry per user), the inactive user.
    root = {u.user_id for u in first.uncovered if u.reason == ROOT_FILES}
    assert root == users_with_root_files(fake_box)
    assert root  # alice, bob and carol keep files in their roots
    assert all(u.target_id == "0" for u in first.uncovered if u.reason == ROOT_FILES)
    [inactive] = [u for u in first.uncovered if u.user_id == dave.id]
    assert "inactive" in inactive.reason
    assert len(first.uncovered) == len(root) + 1
    # users (1 page) + one root listing per active user + one create per folder
    assert calls_first == 1 + active_users + len(wanted)

    fake_box.clear_requests()
    second = registrar(stack).sync(cid)
    calls_second = fake_box.count(path_regex=BOX_API)
    assert (second.created, second.adopted, second.kept, second.recreated, second.removed) == (
        0,
        0,
        len(wanted),
        0,
        0,
    )
    for method in ("POST", "PUT", "DELETE"):
        assert fake_box.count(method=method, path_regex=WEBHOOKS) == 0
    assert_box_matches_records(fake_box, cid)
    # the same discovery, then one webhook list per owner to see that ours are still there
    assert calls_second == 1 + active_users + len(owners)
    assert fake_box.count(method="GET", path_regex=WEBHOOKS) == len(owners)


def test_named_folders_replace_the_default_set_and_the_rest_are_removed(
    stack: Any, fake_box: Any, cid: str
) -> None:
    tenant = fake_box.tenant
    alice, admin = tenant.user_by_login("alice@acme.example"), tenant.user_by_login(ADMIN)
    registrar(stack).sync(cid)
    alice_top = sorted(f for f, owner in expected_targets(fake_box).items() if owner == alice.id)[0]
    admin_top = sorted(f for f, owner in expected_targets(fake_box).items() if owner == admin.id)[0]
    nested = next(
        f.id for f in tenant.folders.values() if f.owner_id == alice.id and f.parent_id == alice_top
    )  # not top level: the admin can't see it, so its owner is found As-User

    fake_box.clear_requests()
    report = registrar(stack, folder_ids=(alice_top, admin_top, nested, "0", "999999")).sync(cid)

    assert (report.kept, report.created, report.adopted, report.recreated) == (2, 1, 0, 0)
    assert report.removed == len(expected_targets(fake_box)) - 2
    assert {u.target_id for u in report.uncovered} == {"0", "999999"}
    assert {t: w.created_by_id for t, w in in_box(fake_box).items()} == {
        alice_top: alice.id,
        admin_top: admin.id,
        nested: alice.id,
    }
    assert_box_matches_records(fake_box, cid)
    assert fake_box.count(method="DELETE", path_regex=WEBHOOKS) == report.removed


def test_marked_or_silently_dropped_webhooks_are_recreated_with_new_ids(
    stack: Any, fake_box: Any, cid: str
) -> None:
    registrar(stack).sync(cid)
    store = services().store
    deleted, session_died, dropped, *_ = sorted(recorded(cid).values(), key=lambda r: r.target_id)
    with fake_box.tenant.lock:
        del fake_box.tenant.webhooks[deleted.webhook_id]  # Box deleted it (the intake marks it)
        del fake_box.tenant.webhooks[dropped.webhook_id]  # Box dropped it and told nobody
    store.mark_webhook_for_recreation(deleted, "Box sent WEBHOOK.DELETED")
    store.mark_webhook_for_recreation(session_died, "Box sent NO_ACTIVE_SESSION")  # still in Box

    fake_box.clear_requests()
    report = registrar(stack).sync(cid)

    assert (report.recreated, report.created, report.adopted, report.removed) == (3, 0, 0, 0)
    assert report.kept == len(expected_targets(fake_box)) - 3
    after = recorded(cid)
    for old in (deleted, session_died, dropped):
        new = after[old.target_id]
        assert new.webhook_id != old.webhook_id
        assert new.status is WebhookStatus.ACTIVE
        assert store.find_webhook(old.webhook_id) is None
    assert_box_matches_records(fake_box, cid)
    # the two marked ones are deleted first (404 for the one Box deleted); the dropped one is known gone
    assert fake_box.count(method="DELETE", path_regex=WEBHOOKS) == 2
    assert fake_box.count(method="DELETE", path_regex=WEBHOOKS, status=404) == 1


class CrashAfterCreates:
    """The state store, dying on a webhook's record: as if the Lambda stopped right after Box created it."""

    def __init__(self, store: Any, survive: int) -> None:
        self._store = store
        self._survive = survive

    def put_webhook(self, registration: WebhookRegistration) -> None:
        if self._survive == 0:
            raise RuntimeError("crashed before recording")
        self._survive -= 1
        self._store.put_webhook(registration)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_crash_between_create_and_record_is_healed_by_adopting(stack: Any, fake_box: Any, cid: str) -> None:
    crashing = WebhookRegistrar(
        CrashAfterCreates(services().store, survive=2),
        services().gateways.for_connection,
        stack.webhook_url,
    )
    with pytest.raises(RuntimeError, match="crashed"):
        crashing.sync(cid)
    assert len(in_box(fake_box)) == 3
    assert len(recorded(cid)) == 2  # one webhook of ours in Box that the table doesn't know

    report = registrar(stack).sync(cid)

    wanted = expected_targets(fake_box)
    assert (report.adopted, report.kept, report.created) == (1, 2, len(wanted) - 3)
    assert {t: w.created_by_id for t, w in in_box(fake_box).items()} == wanted
    assert_box_matches_records(fake_box, cid)


def test_adopting_a_webhook_with_another_address_repoints_it_in_place(
    stack: Any, fake_box: Any, cid: str
) -> None:
    tenant = fake_box.tenant
    folder_id, owner_id = sorted(expected_targets(fake_box).items())[0]
    old = tenant.add_webhook(
        tenant.folders[folder_id],
        "https://old-stack.example/webhooks/box",
        ["FILE.UPLOADED"],
        created_by=tenant.users[owner_id],
        client_id=fake_box.client_id,
    )
    fake_box.clear_requests()
    report = registrar(stack).sync(cid)

    assert report.adopted == 1
    assert report.created == len(expected_targets(fake_box)) - 1
    webhook = in_box(fake_box)[folder_id]
    assert webhook.id == old.id
    assert (webhook.address, tuple(webhook.triggers)) == (stack.webhook_url, REGISTERED_TRIGGERS)
    assert recorded(cid)[folder_id].webhook_id == old.id
    assert fake_box.count(method="PUT", path_regex=WEBHOOKS) == 1
    assert fake_box.count(method="POST", path_regex=WEBHOOKS, status=409) == 1


def test_per_user_limits_leave_folders_uncovered_with_a_reason(stack: Any, fake_box: Any, cid: str) -> None:
    tenant = fake_box.tenant
    bob = tenant.user_by_login("bob@acme.example")
    tenant.add_folder(tenant.root_of(bob), "Limits test")  # bob has two top-level folders or more
    wanted = expected_targets(fake_box)
    owners = set(wanted.values())

    fake_box.webhook_options.limit_per_user = 1  # Box refuses the second (403)
    report = registrar(stack).sync(cid)
    refused = [u for u in report.uncovered if u.target_id in wanted]
    assert report.created == len(owners)
    assert len(refused) == len(wanted) - len(owners)
    assert all("403" in u.reason for u in refused)
    assert_box_matches_records(fake_box, cid)

    # Our own cap counts the webhooks the owner has already: nothing is even asked for.
    fake_box.webhook_options.limit_per_user = 1000
    fake_box.clear_requests()
    capped = registrar(stack, per_user_limit=1).sync(cid)
    assert (capped.created, capped.kept) == (0, len(owners))
    assert fake_box.count(method="POST", path_regex=WEBHOOKS) == 0
    capped_targets = {u.target_id for u in capped.uncovered if "limit per user" in u.reason}
    assert capped_targets == {u.target_id for u in refused}


def test_a_long_rate_limit_propagates_and_what_was_created_is_recorded(
    stack: Any, fake_box: Any, cid: str
) -> None:
    fake_box.faults.add(WEBHOOKS + "$", 429, retry_after=120, method="POST", times=None, skip=2)
    with pytest.raises(BoxRateLimited) as raised:
        registrar(stack).sync(cid)
    assert raised.value.retry_after_seconds == 120
    assert len(recorded(cid)) == 2
    assert_box_matches_records(fake_box, cid)

    fake_box.faults.clear()
    report = registrar(stack).sync(cid)
    assert (report.kept, report.created) == (2, len(expected_targets(fake_box)) - 2)
    assert_box_matches_records(fake_box, cid)


def test_a_5xx_storm_on_one_create_skips_that_folder_and_the_next_sync_covers_it(
    stack: Any, fake_box: Any, cid: str
) -> None:
    # The second create fails on every attempt the retry policy makes (4).
    fake_box.faults.add(WEBHOOKS + "$", 500, method="POST", times=4, skip=1)
    report = registrar(stack).sync(cid)
    wanted = expected_targets(fake_box)
    [failed] = [u for u in report.uncovered if u.target_id in wanted]
    assert "500" in failed.reason
    assert report.created == len(wanted) - 1
    assert_box_matches_records(fake_box, cid)

    again = registrar(stack).sync(cid)
    assert (again.created, again.kept) == (1, len(wanted) - 1)
    assert failed.target_id in recorded(cid)


def test_a_coadmin_covers_plain_users_and_reports_the_admins(stack: Any, fake_box: Any) -> None:
    coadmin_connection = connect(stack, "coadmin@acme.example")
    forget_all(fake_box, coadmin_connection)
    try:
        tenant = fake_box.tenant
        coadmin, admin = tenant.user_by_login("coadmin@acme.example"), tenant.user_by_login(ADMIN)
        fake_box.clear_requests()
        report = registrar(stack).sync(coadmin_connection)
        expected = {f: o for f, o in expected_targets(fake_box).items() if o != admin.id}
        assert {t: w.created_by_id for t, w in in_box(fake_box).items()} == expected
        assert coadmin.id in expected.values()  # its own folders, without As-User
        [admin_gap] = [u for u in report.uncovered if u.user_id == admin.id]
        assert "co-admin" in admin_gap.reason
        assert not [r for r in fake_box.requests if r.as_user in (admin.id, coadmin.id)]
    finally:
        forget_all(fake_box, coadmin_connection)


def test_the_daily_run_resyncs_connections_that_synced_before_and_no_others(
    stack: Any, fake_box: Any, cid: str
) -> None:
    sync = services().webhook_sync()
    assert sync.run(cid).outcome.value == "finished"  # the admin's sync (its report opts it in)
    never_synced = connect(stack)
    victim = sorted(recorded(cid).values(), key=lambda r: r.target_id)[0]
    fake_box.delete_webhook(victim.webhook_id)  # Box deletes it and tells the intake
    assert fake_box.wait_for_deliveries(timeout=30)
    assert recorded(cid)[victim.target_id].status is WebhookStatus.RECREATE

    answer = stack.run_schedule("WebhookSyncFunction")

    assert answer["status"] == "done"
    assert answer["outcomes"][cid] == "finished"
    assert never_synced not in answer["outcomes"]
    assert recorded(never_synced) == {}
    again = recorded(cid)[victim.target_id]
    assert (again.status, again.webhook_id != victim.webhook_id) == (WebhookStatus.ACTIVE, True)
