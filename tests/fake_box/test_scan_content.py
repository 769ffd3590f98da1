"""The seeded tenant as a content scan meets it: a folder of 1,050 files, deep trees, links of
every level, collaborations on files and folders; and the tenant's changes and indexes."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from devstack.fake_box import FakeBox, File, Folder
from devstack.fake_box.seed import (
    BIG_FOLDER,
    BIG_FOLDER_FILES,
    BIG_FOLDER_LINKS,
    BIG_FOLDER_SECRET,
    DEEPEST_FOLDER,
    EMEA_FOLDER,
    FILE_SHARED_INSIDE,
)
from devstack.fake_box.synthetic import stats
from devstack.fake_box.tenant import CollaborationStatus, Tenant
from tests.fake_box.helpers import SCAN_FIELDS, BoxHttp, FakeClock, Tokens, list_folder, walk_owned

ADMIN, COADMIN = "admin@acme.example", "coadmin@acme.example"
ALICE, BOB, CAROL, DAVE = "alice@acme.example", "bob@acme.example", "carol@acme.example", "dave@acme.example"
MANAGED = (ADMIN, COADMIN, ALICE, BOB, CAROL, DAVE)


def folder_named(box: FakeBox, owner: str, name: str) -> Folder:
    owner_id = box.tenant.user_by_login(owner).id
    return next(f for f in box.tenant.folders.values() if f.owner_id == owner_id and f.name == name)


def file_named(box: FakeBox, name: str) -> File:
    return next(f for f in box.tenant.files.values() if f.name == name)


def walk_everyone(http: BoxHttp, box: FakeBox, admin: Tokens) -> dict[str, list[dict[str, Any]]]:
    """Every active managed user's own entries, walked as that user (the admin as themselves)."""
    walked: dict[str, list[dict[str, Any]]] = {}
    for login in MANAGED:
        user = box.tenant.user_by_login(login)
        if user.is_active:
            as_user = None if login == ADMIN else user.id
            walked[login] = walk_owned(http, admin, user.id, as_user=as_user)[0]
    return walked


def test_the_big_folder_pages_in_two_by_marker(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    invoices = folder_named(box, BOB, BIG_FOLDER)
    assert [f.name for f in box.tenant.ancestors(invoices)] == ["All Files", "Documents", "Archive"]
    pages = list_folder(http, admin, invoices.id, as_user=box.tenant.user_by_login(BOB).id)
    assert [len(page["entries"]) for page in pages] == [1000, BIG_FOLDER_FILES - 1000]
    entries = [entry for page in pages for entry in page["entries"]]
    names = [entry["name"] for entry in entries]
    assert names == [f"invoice-{number:04d}.txt" for number in range(1, BIG_FOLDER_FILES + 1)]
    assert all(set(entry) == {"etag", *SCAN_FIELDS.split(",")} for entry in entries)
    links = {entry["name"]: entry["shared_link"]["access"] for entry in entries if entry["shared_link"]}
    assert links == {f"invoice-{number:04d}.txt": access for number, access in BIG_FOLDER_LINKS.items()}
    secret = f"invoice-{BIG_FOLDER_SECRET:04d}.txt"
    assert secret in {entry["name"] for entry in pages[1]["entries"]}
    assert b"5555 5555 5555 4444" in file_named(box, secret).content
    assert len({entry["sha1"] for entry in entries}) == BIG_FOLDER_FILES  # every content differs
    assert [e["name"] for e in entries[0]["path_collection"]["entries"]] == [
        "All Files",
        "Documents",
        "Archive",
        BIG_FOLDER,
    ]


def test_alice_has_six_levels_and_a_scan_reaches_the_bottom(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    alice = box.tenant.user_by_login(ALICE)
    berlin = folder_named(box, ALICE, DEEPEST_FOLDER)
    [contract] = [
        entry
        for entry in walk_owned(http, admin, alice.id, as_user=alice.id)[0]
        if entry["name"] == "contract-acme-gmbh.pdf"
    ]
    path = [entry["name"] for entry in contract["path_collection"]["entries"]]
    assert path == ["All Files", "Documents", "Reports", "Regions", EMEA_FOLDER, "Germany", DEEPEST_FOLDER]
    assert contract["parent"]["id"] == berlin.id
    assert contract["classification"]["name"] == "Confidential"
    assert stats(box.tenant).max_depth == 6


def test_every_link_level_and_a_narrowed_one(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    walked = walk_everyone(http, box, admin)
    links = {
        entry["name"]: (entry["shared_link"]["access"], entry["shared_link"]["effective_access"])
        for entries in walked.values()
        for entry in entries
        if entry["shared_link"]
    }
    assert {access for access, _ in links.values()} == {"open", "company", "collaborators"}
    assert links["price-list.xlsx"] == ("open", "company")  # the enterprise narrows it
    assert links["customers.csv"] == ("open", "open")
    assert links["travel-policy.pdf"] == ("company", "company")  # the admin's, nested
    assert links["Personal"] == ("open", "open")  # a folder
    # Everyone's files, each once: dave's (suspended) are the only ones a scan cannot reach.
    files = Counter(
        entry["id"] for entries in walked.values() for entry in entries if entry["type"] == "file"
    )
    assert set(files.values()) == {1}
    dave = box.tenant.user_by_login(DAVE)
    assert set(files) == {f.id for f in box.tenant.files.values() if f.owner_id != dave.id}
    assert any(f.owner_id == dave.id for f in box.tenant.files.values())


def test_internal_and_external_collaborators(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    tenant = box.tenant

    def collaborators(kind: str, item: File | Folder) -> dict[str, str]:
        owner = tenant.users[item.owner_id]
        as_user = None if owner.login == ADMIN else owner.id
        page = http.get(f"/2.0/{kind}/{item.id}/collaborations", admin, as_user=as_user).json()
        assert page["next_marker"] is None
        return {entry["accessible_by"]["login"]: entry["role"] for entry in page["entries"]}

    assert collaborators("files", file_named(box, FILE_SHARED_INSIDE)) == {CAROL: "editor"}
    assert collaborators("files", file_named(box, "shared-with-eve.txt")) == {"eve@partner.example": "viewer"}
    assert collaborators("folders", folder_named(box, ALICE, "Projects")) == {
        BOB: "editor",
        "eve@partner.example": "viewer",
    }
    assert collaborators("folders", folder_named(box, ALICE, EMEA_FOLDER)) == {CAROL: "viewer"}
    summary = stats(tenant)
    assert (summary.collaborated_files, summary.collaborated_folders) == (2, 2)
    assert summary.external_collaborations == 2
    assert summary.collaborations - summary.external_collaborations == 3  # bob and carol (twice)


def test_the_collaborator_finds_a_shared_file_and_folder_in_their_root(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    tenant = box.tenant
    carol, bob, alice = (tenant.user_by_login(login) for login in (CAROL, BOB, ALICE))
    forecast, emea = file_named(box, FILE_SHARED_INSIDE), folder_named(box, ALICE, EMEA_FOLDER)
    [root] = list_folder(http, admin, "0", as_user=carol.id)
    shared = {entry["id"]: entry for entry in root["entries"] if entry["owned_by"]["id"] != carol.id}
    assert set(shared) == {forecast.id, emea.id}
    assert shared[forecast.id]["owned_by"]["login"] == BOB
    assert shared[forecast.id]["has_collaborations"] is True
    assert [e["id"] for e in shared[forecast.id]["path_collection"]["entries"]] == ["0"]
    file = http.get(f"/2.0/files/{forecast.id}", admin, as_user=carol.id, fields="permissions,parent").json()
    assert (file["parent"]["id"], file["permissions"]["can_upload"]) == ("0", True)  # editor
    assert http.get(f"/2.0/files/{forecast.id}/content", admin, as_user=carol.id).status_code == 302
    # Beneath the shared folder, paths start at carol's root and skip alice's folders above it.
    berlin = folder_named(box, ALICE, DEEPEST_FOLDER)
    [page] = list_folder(http, admin, berlin.id, as_user=carol.id)
    path = [e["name"] for e in page["entries"][0]["path_collection"]["entries"]]
    assert path == ["All Files", EMEA_FOLDER, "Germany", DEEPEST_FOLDER]
    # Its owner and nobody else: bob has it in his Documents, alice does not see it.
    [bob_root] = list_folder(http, admin, "0", as_user=bob.id)
    assert forecast.id not in {entry["id"] for entry in bob_root["entries"]}
    assert http.get(f"/2.0/files/{forecast.id}", admin, as_user=alice.id).status_code == 404


def test_admin_coadmin_and_suspended_owners(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    walked = walk_everyone(http, box, admin)
    owned = {login: {e["name"] for e in entries if e["type"] == "file"} for login, entries in walked.items()}
    assert owned[ADMIN] == {"acceptable-use.pdf", "travel-policy.pdf"}
    assert owned[COADMIN] == {"runbook.md"}
    dave = box.tenant.user_by_login(DAVE)
    assert http.get("/2.0/folders/0/items", admin, as_user=dave.id).status_code == 403
    assert {f.name for f in box.tenant.files.values() if f.owner_id == dave.id} == {"legacy.doc"}
    assert file_named(box, "empty.txt").size == 0


def test_the_scan_content_leaves_webhook_targets_and_the_history_alone(box: FakeBox) -> None:
    tenant = box.tenant
    top_level = {
        user.login: sorted(
            (child.type, child.name)
            for child in tenant.children(tenant.root_of(user))
            if child.owner_id == user.id
        )
        for user in tenant.users.values()
    }
    assert top_level == {
        ADMIN: [("folder", "Policies")],
        COADMIN: [("folder", "Ops")],
        ALICE: [("file", "readme.txt"), ("folder", "Documents"), ("folder", "Projects")],
        BOB: [("file", "todo.txt"), ("folder", "Documents")],
        CAROL: [("file", "shared-with-eve.txt"), ("folder", "Designs"), ("folder", "Personal")],
        DAVE: [("folder", "Old")],
        "eve@partner.example": [],
    }
    added = {item.id for item in tenant.files.values() if int(item.id) > 4_000_000_016}
    added |= {item.id for item in tenant.folders.values() if int(item.id) > 300_000_017}
    assert len(added) == BIG_FOLDER_FILES + 9 + 9  # 9 more files, 9 folders
    mentioned = {
        event.source["item_id"] for event in tenant.events if event.source and "item_id" in event.source
    }
    assert mentioned
    assert not mentioned & added  # the history is planned over the content before them


# ----- changes -----------------------------------------------------------------------------


def test_a_new_version_and_a_link_change_move_etag_and_sequence(
    http: BoxHttp, box: FakeBox, admin: Tokens, clock: FakeClock
) -> None:
    tenant = box.tenant
    events = len(tenant.events)
    bob = tenant.user_by_login(BOB)
    invoice = file_named(box, "invoice-0001.txt")
    fields = "sha1,size,etag,sequence_id,file_version,modified_at,shared_link"
    before = http.get(f"/2.0/files/{invoice.id}", admin, as_user=bob.id, fields=fields).json()
    clock.advance(60)
    tenant.update_content(invoice, "Invoice 0001: corrected\n")
    after = http.get(f"/2.0/files/{invoice.id}", admin, as_user=bob.id, fields=fields).json()
    assert after["sha1"] != before["sha1"]
    assert after["size"] == len("Invoice 0001: corrected\n")
    assert after["file_version"]["id"] != before["file_version"]["id"]
    assert (before["etag"], after["etag"]) == ("0", "1")
    assert (before["sequence_id"], after["sequence_id"]) == ("0", "1")
    assert after["modified_at"] > before["modified_at"]
    assert after["shared_link"] == before["shared_link"]

    tenant.set_shared_link(invoice, "company")
    relinked = http.get(f"/2.0/files/{invoice.id}", admin, as_user=bob.id, fields=fields).json()
    assert (relinked["shared_link"]["access"], relinked["etag"], relinked["sequence_id"]) == (
        "company",
        "2",
        "2",
    )
    assert relinked["shared_link"]["url"] == before["shared_link"]["url"]  # the same link, narrowed
    tenant.set_shared_link(invoice, None)
    unlinked = http.get(f"/2.0/files/{invoice.id}", admin, as_user=bob.id, fields=fields).json()
    assert (unlinked["shared_link"], unlinked["etag"]) == (None, "3")
    assert len(tenant.events) == events  # changes only: no events


def test_ending_collaborations_updates_what_collaborators_see(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    tenant = box.tenant
    carol = tenant.user_by_login(CAROL)
    forecast, emea = file_named(box, FILE_SHARED_INSIDE), folder_named(box, ALICE, EMEA_FOLDER)

    def carol_sees() -> set[str]:
        [root] = list_folder(http, admin, "0", as_user=carol.id)
        return {entry["name"] for entry in root["entries"] if entry["owned_by"]["id"] != carol.id}

    assert carol_sees() == {FILE_SHARED_INSIDE, EMEA_FOLDER}
    [collaboration] = tenant.collaborations_on(forecast)
    tenant.remove_collaboration(collaboration)
    assert carol_sees() == {EMEA_FOLDER}
    assert http.get(f"/2.0/files/{forecast.id}", admin, as_user=carol.id).status_code == 404
    bob = tenant.user_by_login(BOB)
    entry = http.get(f"/2.0/files/{forecast.id}", admin, as_user=bob.id, fields="has_collaborations").json()
    assert entry["has_collaborations"] is False
    tenant.delete_item(folder_named(box, ALICE, "Regions"))
    assert carol_sees() == set()
    assert tenant.collaborations.of_user(carol.id) == []
    assert all(c.item_id != emea.id for c in tenant.collaborations.values())


def test_the_collaboration_indexes_match_a_scan(box: FakeBox) -> None:
    """Random adds, removals, status changes and deletions: the indexes answer like a full scan."""
    tenant: Tenant = box.tenant
    rng = random.Random(7)
    users = list(tenant.users.values())
    for _ in range(300):
        items: list[File | Folder] = [
            *rng.sample(list(tenant.files.values()), min(3, len(tenant.files))),
            *(f for f in tenant.folders.values() if not f.is_root),
        ]
        action = rng.random() if items else 0.7
        if action < 0.6:
            status: CollaborationStatus = "accepted" if rng.random() < 0.7 else "pending"
            tenant.add_collaboration(rng.choice(items), rng.choice(users), status=status)
        elif action < 0.8 and tenant.collaborations:
            tenant.remove_collaboration(rng.choice(list(tenant.collaborations.values())))
        elif action < 0.9 and tenant.collaborations:
            rng.choice(list(tenant.collaborations.values())).status = "rejected"
        else:
            # A file, or a folder with all beneath it (never a root, never the big folder).
            doomed = [i for i in items if not i.name.startswith("invoice-") and i.name != BIG_FOLDER]
            if doomed:
                tenant.delete_item(rng.choice(doomed))
        everything = list(tenant.collaborations.values())
        for item in items:
            if item.id in tenant.files or item.id in tenant.folders:
                expected = [c for c in everything if (c.item_type, c.item_id) == (item.type, item.id)]
                assert tenant.collaborations_on(item) == expected
        for user in users:
            assert tenant.collaborations.of_user(user.id) == [c for c in everything if c.user_id == user.id]
    assert dict(tenant.collaborations) == {c.id: c for c in everything}
    assert len(tenant.collaborations) == len(everything)
