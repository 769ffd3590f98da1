"""The synthetic tenant: deterministic, as large as asked, walkable over HTTP; listings stay fast."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from devstack.fake_box import FakeBox, Folder, Tenant
from devstack.fake_box.seed import BIG_FOLDER
from devstack.fake_box.synthetic import ACCESS_LEVELS, relink_files, stats, synthetic_tenant, touch_files
from tests.fake_box.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    BoxHttp,
    FakeClock,
    Tokens,
    list_folder,
    walk_owned,
)

ADMIN = "admin@acme.example"


def fingerprint(tenant: Tenant) -> list[tuple[object, ...]]:
    return [
        *((u.id, u.login, u.name, u.role, u.status, u.enterprise_id) for u in tenant.users.values()),
        *((f.id, f.name, f.owner_id, f.parent_id, f.created_at) for f in tenant.folders.values()),
        *(
            (f.id, f.name, f.owner_id, f.parent_id, f.sha1, f.modified_at, f.classification)
            for f in tenant.files.values()
        ),
        *(
            (i.id, i.shared_link.access)
            for i in (*tenant.folders.values(), *tenant.files.values())
            if i.shared_link
        ),
        *(
            (c.id, c.item_type, c.item_id, c.user_id, c.role, c.status)
            for c in tenant.collaborations.values()
        ),
    ]


def test_the_same_seed_and_clock_give_the_same_tenant() -> None:
    clock = FakeClock()
    first = synthetic_tenant(files=3000, users=15, seed=4, clock=clock)
    assert fingerprint(synthetic_tenant(files=3000, users=15, seed=4, clock=clock)) == fingerprint(first)
    assert fingerprint(synthetic_tenant(files=3000, users=15, seed=5, clock=clock)) != fingerprint(first)


def test_counts_are_as_asked() -> None:
    started = time.perf_counter()
    tenant = synthetic_tenant(
        files=20_000, users=50, mean_folder_files=100, depth=4, seed=3, external_users=4
    )
    built = time.perf_counter() - started
    summary = stats(tenant)
    assert (summary.files, summary.users, summary.active_users, summary.external_users) == (20_000, 50, 50, 4)
    assert 0.8 * 200 <= summary.folders <= 1.2 * 200 + 3 * 50  # about files / mean, at least 2 per user
    assert summary.max_depth == 4
    for access in ACCESS_LEVELS:  # 1% of files each
        assert 140 <= summary.shared_files[access] <= 260, summary.shared_files
    assert sum(summary.shared_folders.values()) > 0
    assert 140 <= summary.collaborated_files <= 260  # 1%
    assert summary.collaborated_folders > 0
    assert 0.1 * summary.collaborations <= summary.external_collaborations <= 0.4 * summary.collaborations
    assert 800 <= summary.classified_files <= 1200  # 5%
    sizes = [file.size for file in tenant.files.values()]
    assert min(sizes) >= 20
    assert max(sizes) <= 120
    assert len({file.sha1 for file in tenant.files.values()}) == 20_000
    assert sum(1 for f in tenant.files.values() if b"4111 1111" in f.content or b"AKIA" in f.content) > 0
    admin = tenant.user_by_login(ADMIN)
    assert (admin.role, admin.enterprise_id) == ("admin", tenant.enterprise.id)
    assert any(f.owner_id == admin.id for f in tenant.files.values())
    assert {c.status for c in tenant.collaborations.values()} == {"accepted", "pending", "rejected"}
    assert all(
        tenant.users[c.user_id].id != tenant.collaboration_item(c).owner_id
        for c in tenant.collaborations.values()
    )
    assert len(tenant.events) == 0
    assert built < 10, f"building 20,000 files took {built:.1f} s"


@pytest.fixture
def synthetic_box(clock: FakeClock) -> Iterator[FakeBox]:
    def factory() -> Tenant:
        return synthetic_tenant(
            files=3000, users=12, mean_folder_files=60, seed=5, external_users=3, clock=clock
        )

    with FakeBox(CLIENT_ID, CLIENT_SECRET, port=0, clock=clock, tenant_factory=factory) as fake:
        yield fake


def test_walking_every_user_finds_every_file_once(synthetic_box: FakeBox) -> None:
    tenant = synthetic_box.tenant
    with requests.Session() as session:
        http = BoxHttp(synthetic_box, session)
        admin = http.connect(ADMIN)
        found: Counter[str] = Counter()
        pages = skipped = 0
        for user in tenant.users.values():
            if user.enterprise_id is None:
                continue
            as_user = None if user.login == ADMIN else user.id
            entries, read, others = walk_owned(http, admin, user.id, as_user=as_user, limit=100)
            pages, skipped = pages + read, skipped + others
            for entry in entries:
                if entry["type"] != "file":
                    continue
                found[entry["id"]] += 1
                file = tenant.files[entry["id"]]
                assert (entry["sha1"], entry["size"], entry["name"]) == (file.sha1, file.size, file.name)
                assert entry["parent"]["id"] in (file.parent_id, "0")
                assert entry["path_collection"]["entries"][0]["id"] == "0"
                assert entry["is_externally_owned"] is False
                link = entry["shared_link"]
                assert (link and link["access"]) == (file.shared_link and file.shared_link.access)
                assert entry["has_collaborations"] == bool(tenant.collaborations_on(file))
        assert set(found.values()) == {1}
        assert set(found) == set(tenant.files)
        assert skipped > 0  # shared items show in collaborators' roots too
        folders = sum(1 for f in tenant.folders.values())
        assert pages > folders  # some folders took more than one page of 100
        # No events: both feeds answer empty pages.
        for stream_type in ("admin_logs", "admin_logs_streaming"):
            page = http.get("/2.0/events", admin, stream_type=stream_type).json()
            assert (page["chunk_size"], page["entries"]) == (0, [])


def test_the_factory_survives_reset_and_an_assigned_tenant_does_not(
    synthetic_box: FakeBox, clock: FakeClock
) -> None:
    before = fingerprint(synthetic_box.tenant)
    synthetic_box.tenant.add_user("new@acme.example")
    synthetic_box.reset()
    assert fingerprint(synthetic_box.tenant) == before
    assert synthetic_box.tenant.event_options is synthetic_box.event_options

    with FakeBox(CLIENT_ID, CLIENT_SECRET, port=0, clock=clock) as box:
        box.tenant = synthetic_tenant(files=500, users=5, clock=clock)
        assert box.tenant.event_options is box.event_options
        with requests.Session() as session:
            http = BoxHttp(box, session)
            admin = http.connect(ADMIN)
            assert http.get("/2.0/users", admin).json()["total_count"] == 5
            box.reset()  # back to the seed; the admin's token still works (same id)
            assert http.get("/2.0/users", admin).json()["total_count"] == 6


def test_touching_and_relinking_files(http: BoxHttp, box: FakeBox, admin: Tokens, clock: FakeClock) -> None:
    tenant = synthetic_tenant(files=2000, users=8, seed=9, clock=clock)
    box.tenant = tenant
    before = {
        f.id: (f.sha1, f.etag, f.sequence_id, f.version_id, f.modified_at) for f in tenant.files.values()
    }
    clock.advance(60)
    touched = touch_files(tenant, 25, random.Random(1))
    assert len({f.id for f in touched}) == 25
    for file in tenant.files.values():
        sha1, etag, sequence_id, version_id, modified_at = before[file.id]
        if file in touched:
            assert file.sha1 != sha1
            assert file.version_id != version_id
            assert (int(file.etag), int(file.sequence_id)) == (int(etag) + 1, int(sequence_id) + 1)
            assert file.modified_at == tenant.now()
        else:
            assert (file.sha1, file.etag, file.version_id, file.modified_at) == (
                sha1,
                etag,
                version_id,
                modified_at,
            )
    owner = tenant.users[touched[0].owner_id]
    as_user = None if owner.login == ADMIN else owner.id
    answer = http.get(f"/2.0/files/{touched[0].id}", admin, as_user=as_user, fields="sha1,etag")
    assert answer.status_code == 200, answer.text
    entry = answer.json()
    assert (entry["sha1"], entry["etag"]) == (touched[0].sha1, touched[0].etag)
    assert len(tenant.events) == 0

    links = {f.id: f.shared_link and f.shared_link.access for f in tenant.files.values()}
    relinked = relink_files(tenant, 40, random.Random(2), record_events=True)
    for file in relinked:
        assert (file.shared_link and file.shared_link.access) != links[file.id]
    assert len(tenant.events) == 40
    assert {e.event_type for e in tenant.events} <= {"SHARE", "ITEM_SHARED_UPDATE", "UNSHARE"}
    touch_files(tenant, 5, random.Random(3), record_events=True)
    assert [e.event_type for e in tenant.events][-5:] == ["EDIT"] * 5


# ----- speed ---------------------------------------------------------------------------------


def timed_listing(http: BoxHttp, token: Tokens, folder_id: str, as_user: str | None) -> float:
    """The best of two full listings (1,000 entries and every scan field)."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        [page] = list_folder(http, token, folder_id, as_user=as_user)
        best = min(best, time.perf_counter() - started)
        assert len(page["entries"]) == 1000
    return best


def test_a_page_of_1000_costs_the_same_whatever_the_tenant(
    http: BoxHttp, box: FakeBox, admin: Tokens, clock: FakeClock
) -> None:
    """O(entries): not O(entries x collaborations x depth). The bound is ten times what it takes."""
    tenant = synthetic_tenant(files=20_000, users=40, collaborated_fraction=0.25, seed=2, clock=clock)
    owner, viewer = (tenant.user_by_login(f"user{n:05d}@acme.example") for n in (1, 2))
    top = next(child for child in tenant.children(tenant.root_of(owner)) if isinstance(child, Folder))
    deep = tenant.add_folder(tenant.add_folder(tenant.add_folder(top, "deep 1"), "deep 2"), "deep 3")
    for number in range(999):
        tenant.add_file(deep, f"file-{number:04d}.txt", f"content {number}")
    tenant.add_folder(deep, "deep 4")
    tenant.add_collaboration(top, viewer, role="viewer")
    assert len(tenant.collaborations) > 5000
    box.tenant = tenant
    for as_user in (owner.id, viewer.id):  # the owner, and a collaborator from three levels up
        elapsed = timed_listing(http, admin, deep.id, as_user)
        assert elapsed < 1.0, f"listing 1,000 items as {as_user} took {elapsed:.2f} s"


def test_the_seeded_big_folder_lists_fast(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    bob = box.tenant.user_by_login("bob@acme.example")
    invoices = next(f for f in box.tenant.folders.values() if f.name == BIG_FOLDER)
    started = time.perf_counter()
    pages = list_folder(http, admin, invoices.id, as_user=bob.id)
    elapsed = time.perf_counter() - started
    assert len(pages) == 2
    assert elapsed < 1.0, f"listing 1,050 items took {elapsed:.2f} s"
