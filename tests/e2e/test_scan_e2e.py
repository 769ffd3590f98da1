"""File scanning end to end through the local stack: the same handlers, queues and events as deployed.

What the inventory should hold is computed from the fake tenant, independently of the code under
test. One admin connection is shared by the module: its generations follow each other.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from boxcasb.activity.classify import ScanRequest
from boxcasb.cli.api_client import AdminApi
from boxcasb.wiring import services
from devstack.browser import consent
from tests.support.flows import admin_api, every_page, get_connection, start_connection

ADMIN = "admin@acme.example"
COADMIN = "coadmin@acme.example"
LISTINGS = r"^/2\.0/folders/[0-9]+/items"


@pytest.fixture(scope="module")
def scanning(stack: Any) -> Iterator[None]:
    """The first scan after a passing Test API, which the shared test stack turns off."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCAN_AFTER_API_TEST", "true")
        _reset()
        yield
    _reset()


def _reset() -> None:
    from tests.conftest import reset_package_caches

    reset_package_caches()


def connect(stack: Any, login: str = ADMIN) -> tuple[AdminApi, str]:
    api = admin_api(stack.api_url)
    started = start_connection(api)
    consent(started["authorize_url"], login)
    stack.wait_for_async(timeout=300)
    return api, str(started["connection_id"])


@pytest.fixture(scope="module")
def admin(stack: Any, scanning: None) -> tuple[AdminApi, str]:
    return connect(stack)


def inventory(api: AdminApi, cid: str, **query: str) -> list[dict[str, Any]]:
    return every_page(api, f"/connections/{cid}/files", "files", **(query | {"limit": "1000"}))


EXPOSURES = ("public", "external", "company", "internal", "private")


def all_files(api: AdminApi, cid: str) -> dict[str, dict[str, Any]]:
    listed = [f for x in EXPOSURES for f in inventory(api, cid, exposure=x)]
    by_id = {f["file_id"]: f for f in listed}
    assert len(by_id) == len(listed), "a file is listed twice"
    return by_id


def scannable(fake_box: Any, *, coadmin: bool = False) -> set[str]:
    """Files of active enterprise users the connection can act as."""
    tenant = fake_box.tenant
    with tenant.lock:
        owners = {
            u.id
            for u in tenant.users.values()
            if u.is_active and u.enterprise_id == tenant.enterprise.id and not (coadmin and u.role == "admin")
        }
        return {f.id for f in tenant.files.values() if f.owner_id in owners}


def run_scan(stack: Any, api: AdminApi, cid: str) -> dict[str, Any]:
    started = api.request("POST", f"/connections/{cid}/scans", {})["scan"]
    stack.wait_for_async(timeout=300)
    scan = get_connection(api, cid)["scan"]
    assert scan["number"] == started["number"]
    return dict(scan)


def test_first_generation_scans_every_file_once(admin: tuple[AdminApi, str], fake_box: Any) -> None:
    api, cid = admin
    scan = get_connection(api, cid)["scan"]
    assert (scan["status"], scan["trigger"], scan["number"]) == ("complete", "api_test", 1)
    files = all_files(api, cid)
    assert set(files) == scannable(fake_box)
    counters = scan["counters"]
    # A file the priority queue rescanned just before its folder was listed is current already:
    # the generation counts it as unchanged. Either way each file is counted once.
    assert counters["files_seen"] == len(files)
    assert counters["files_scanned"] + counters["files_unchanged"] == len(files)
    assert counters["jobs_finished"] == counters["jobs_registered"]
    assert counters["errors"] == 0
    gaps = {(g["kind"], g["subject"]) for g in scan["gaps"]}
    assert ("user_inactive", "dave@acme.example") in gaps
    assert {f["generation"] for f in files.values()} <= {0, 1}


def test_inventory_knows_exposure_owner_and_path(admin: tuple[AdminApi, str], fake_box: Any) -> None:
    api, cid = admin
    files = all_files(api, cid)
    tenant = fake_box.tenant
    for file_id, record in files.items():
        truth = tenant.files[file_id]
        assert record["sha1"] == truth.sha1
        assert record["owner_id"] == truth.owner_id
        assert record["path"] == "/" + "/".join(f.name for f in tenant.ancestors(truth)[1:])
        links = [item.shared_link for item in (truth, *tenant.ancestors(truth)) if item.shared_link]
        if any((link.effective_access or link.access) == "open" for link in links):
            assert record["exposure"] == "public", record["name"]
    customers = next(f for f in files.values() if f["name"] == "customers.csv")
    assert customers["exposure"] == "public"
    # No link of its own, but in carol's Personal folder, which has an open link.
    holiday = next(f for f in files.values() if f["name"] == "holiday.jpg")
    assert (holiday["exposure"], holiday["link_access"], holiday["folder_link_access"]) == (
        "public",
        None,
        "open",
    )
    shared = next(f for f in files.values() if f["name"] == "shared-with-eve.txt")
    assert shared["exposure"] == "external"
    assert shared["external_collaborators"] == ["eve@partner.example"]
    alice = tenant.user_by_login("alice@acme.example")
    owned = inventory(api, cid, owner=alice.id)
    assert {f["file_id"] for f in owned} == {f.id for f in tenant.files.values() if f.owner_id == alice.id}
    public_of_alice = inventory(api, cid, owner=alice.id, exposure="public")
    assert {f["exposure"] for f in public_of_alice} == {"public"}


def test_unchanged_files_are_skipped_and_changes_rescanned(
    stack: Any, admin: tuple[AdminApi, str], fake_box: Any
) -> None:
    api, cid = admin
    fake_box.clear_requests()
    second = run_scan(stack, api, cid)
    counters = second["counters"]
    assert second["status"] == "complete"
    assert counters["files_scanned"] == 0
    assert counters["files_unchanged"] == counters["files_seen"] == len(scannable(fake_box))
    # Only listings: no file or collaboration reads for unchanged files.
    assert fake_box.count(path_regex=r"^/2\.0/files/") == 0
    # Change one file's content and another's link: exactly those two are scanned again.
    tenant = fake_box.tenant
    with tenant.lock:
        readme = next(f for f in tenant.files.values() if f.name == "readme.txt")
        todo = next(f for f in tenant.files.values() if f.name == "todo.txt")
        tenant.update_content(readme, b"Welcome, edited.\n")
        tenant.set_shared_link(todo, "open")
    third = run_scan(stack, api, cid)
    assert third["counters"]["files_scanned"] == 2
    files = all_files(api, cid)
    assert files[readme.id]["sha1"] == readme.sha1
    assert files[readme.id]["generation"] == third["number"]
    assert files[todo.id]["exposure"] == "public"


def test_a_priority_rescan_overtakes_a_running_bulk_scan(
    stack: Any, admin: tuple[AdminApi, str], fake_box: Any
) -> None:
    api, cid = admin
    tenant = fake_box.tenant
    with tenant.lock:
        budget = next(f for f in tenant.files.values() if f.name == "budget.xlsx")
        tenant.set_shared_link(budget, "open")
    # Every listing takes 0.4 s: the bulk scan runs for many seconds.
    fake_box.faults.add(LISTINGS, delay_seconds=0.4, times=None)
    api.request("POST", f"/connections/{cid}/scans", {})
    time.sleep(1.0)
    queued_at = time.monotonic()
    services().priority_queue().enqueue(
        cid, [ScanRequest("file", budget.id, "SHARE", owner_id=budget.owner_id)], "webhook"
    )
    latency = None
    while time.monotonic() - queued_at < 30:
        record = services().inventory.get(cid, budget.parent_id or "", budget.id)
        if record is not None and record.exposure.value == "public":
            latency = time.monotonic() - queued_at
            break
        time.sleep(0.05)
    running = get_connection(api, cid)["scan"]["status"]
    fake_box.faults.clear()
    stack.wait_for_async(timeout=300)
    assert latency is not None, "the priority rescan never happened"
    assert running == "running", "the bulk scan ended before the priority rescan: the test proves nothing"
    assert latency < 5.0


def test_rate_limits_and_server_errors_lose_nothing(
    stack: Any, admin: tuple[AdminApi, str], fake_box: Any
) -> None:
    api, cid = admin
    # Short 429s are waited out in the call; a 429 longer than a Lambda should sleep puts the
    # job back on the queue with Box's delay; 5xx are retried with jitter.
    fake_box.faults.add(LISTINGS, 429, retry_after=1, times=3, skip=2)
    fake_box.faults.add(LISTINGS, 429, retry_after=7, times=1, skip=4)
    fake_box.faults.add(LISTINGS, 503, times=4, skip=6)
    scan = run_scan(stack, api, cid)
    assert scan["status"] == "complete"
    assert scan["counters"]["files_seen"] == len(scannable(fake_box))
    assert scan["counters"]["errors"] == 0
    assert set(all_files(api, cid)) == scannable(fake_box)


def test_a_coadmin_connection_reports_admin_files_as_a_gap(stack: Any, scanning: None, fake_box: Any) -> None:
    api, cid = connect(stack, COADMIN)
    scan = get_connection(api, cid)["scan"]
    assert scan["status"] == "complete"
    gaps = {(g["kind"], g["subject"]) for g in scan["gaps"]}
    assert ("user_not_actionable", ADMIN) in gaps
    files = all_files(api, cid)
    admin_id = fake_box.tenant.user_by_login(ADMIN).id
    assert not [f for f in files.values() if f["owner_id"] == admin_id]
    assert set(files) == scannable(fake_box, coadmin=True)


def test_a_plain_user_connection_ends_its_generation_with_a_gap(stack: Any, scanning: None) -> None:
    # Box refuses a plain user the enterprise's user list: the start job records why and the
    # generation ends, rather than the job retrying into the DLQ.
    api, cid = connect(stack, "alice@acme.example")
    assert get_connection(api, cid).get("scan") is None  # a failed Test API starts no scan
    scan = run_scan(stack, api, cid)
    assert scan["status"] == "complete"
    assert [(g["kind"], g["subject"]) for g in scan["gaps"]] == [("users_unlisted", "connection")]
    assert scan["counters"]["errors"] == 1


def test_cli_scan_status_and_files(
    stack: Any, admin: tuple[AdminApi, str], fake_box: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from boxcasb.cli.main import main as boxcasb

    _, cid = admin
    base = ["--api-url", stack.api_url, "--region", "us-east-1"]
    assert boxcasb([*base, "scan", cid, "--timeout", "300"]) == 0
    out = capsys.readouterr().out
    assert "COMPLETE" in out
    assert "files seen" in out
    assert boxcasb([*base, "status", cid]) == 0
    assert "user_inactive dave@acme.example" in capsys.readouterr().out
    assert boxcasb([*base, "files", cid, "--exposure", "public", "--all"]) == 0
    listed = capsys.readouterr().out
    assert "/Documents/Reports/customers.csv" in listed
    assert "private" not in listed
    assert boxcasb([*base, "files", cid]) == 2
    assert "give --exposure, --owner or --folder" in capsys.readouterr().err
