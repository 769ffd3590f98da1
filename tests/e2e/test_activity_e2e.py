"""Activity log end to end: connect, 60-day backfill from the fake's 90-day history, the stream, the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from boxcasb.cli.api_client import AdminApi, ApiError
from devstack.browser import consent
from tests.support.flows import admin_api, every_page, get_connection, start_connection

ADMIN = "admin@acme.example"


def connect(stack: Any) -> tuple[AdminApi, str]:
    api = admin_api(stack.api_url)
    started = start_connection(api)
    consent(started["authorize_url"], ADMIN)
    stack.wait_for_async(timeout=120)
    return api, str(started["connection_id"])


def activities(api: AdminApi, cid: str, **query: str) -> list[dict[str, Any]]:
    """Every page of GET /activities, following cursors."""
    return every_page(api, f"/connections/{cid}/activities", "events", **(query | {"limit": "500"}))


def iso(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def sixty_days(activity_settings: Any) -> None:
    activity_settings(backfill_days=60, backfill_window_hours=360)


def test_connect_backfills_exactly_sixty_of_ninety_days(stack: Any, fake_box: Any, sixty_days: None) -> None:
    api, cid = connect(stack)
    progress = get_connection(api, cid)["activity"]["backfill"]
    assert progress["status"] == "finished"
    # 60 days and the few seconds until the stream position was taken, in 15-day windows.
    assert (progress["windows_done"], progress["windows_total"]) == (5, 5)
    start, end = (datetime.fromisoformat(progress[k]) for k in ("span_start", "span_end"))
    history = list(fake_box.tenant.events)
    assert min(e.created_at for e in history) < start - timedelta(days=20)  # the fake holds 90 days
    expected = {e.event_id for e in history if start <= e.created_at < end}
    listed = activities(api, cid, since=iso(progress["span_start"]), until=iso(progress["span_end"]))
    ids = [e["event_id"] for e in listed]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert progress["events_stored"] == len(expected)
    assert [e["created_at"] for e in listed] == sorted((e["created_at"] for e in listed), reverse=True)
    types = {e["event_type"] for e in listed}
    assert {"UPLOAD", "PREVIEW", "LOGIN"} <= types
    assert any(t not in {"UPLOAD", "PREVIEW", "LOGIN", "SHARE", "DOWNLOAD"} for t in types)


def test_filters_by_user_file_and_type(stack: Any, fake_box: Any) -> None:
    api, cid = connect(stack)
    progress = get_connection(api, cid)["activity"]["backfill"]
    window = {"since": iso(progress["span_start"]), "until": iso(progress["span_end"])}
    everything = activities(api, cid, **window)
    assert everything
    user = everything[0]["created_by"]["id"]
    by_user = activities(api, cid, user=user, **window)
    assert by_user
    assert {e["event_id"] for e in by_user} == {
        e["event_id"] for e in everything if e["created_by"]["id"] == user
    }
    uploads = activities(api, cid, event_type="UPLOAD", **window)
    assert {e["event_id"] for e in uploads} == {
        e["event_id"] for e in everything if e["event_type"] == "UPLOAD"
    }
    with_file = next(e for e in everything if (e.get("source") or {}).get("item_type") == "file")
    file_id = with_file["source"]["item_id"]
    by_file = activities(api, cid, file=file_id, **window)
    assert with_file["event_id"] in {e["event_id"] for e in by_file}
    assert all(e["source"]["item_id"] == file_id for e in by_file)


def test_the_stream_picks_up_new_and_late_events_once(stack: Any, fake_box: Any) -> None:
    api, cid = connect(stack)
    tenant = fake_box.tenant
    admin = next(u for u in tenant.users.values() if u.login == ADMIN)
    now = datetime.now(UTC)
    new = tenant.add_event("LOGIN", admin, created_at=now)
    late = tenant.add_late_event("UPLOAD", admin, created_at=now - timedelta(hours=2))
    first = stack.run_schedule("ActivityPollerFunction")
    assert cid not in first["stopped"]
    again = stack.run_schedule("ActivityPollerFunction")  # nothing new: nothing stored twice
    assert again["deferred"] == []
    listed = activities(
        api,
        cid,
        since=iso((now - timedelta(days=1)).isoformat()),
        until=iso((now + timedelta(minutes=5)).isoformat()),
    )
    ids = [e["event_id"] for e in listed]
    assert ids.count(new.event_id) == 1
    assert ids.count(late.event_id) == 1
    stream = get_connection(api, cid)["activity"]["stream"]
    assert stream["status"] == "running"
    assert int(stream["position"]) > 2**53
    assert stream["position"] == str(int(stream["position"]))


def test_live_changes_are_rescanned_at_once_and_history_waits_for_the_full_scan(
    stack: Any, fake_box: Any
) -> None:
    api, cid = connect(stack)
    exposures = ("public", "external", "company", "internal", "private")

    def inventory() -> dict[str, dict[str, Any]]:
        return {
            f["file_id"]: f
            for x in exposures
            for f in every_page(api, f"/connections/{cid}/files", "files", exposure=x)
        }

    # 60 days of uploads, edits and shares were stored, and none of them queued a rescan.
    assert inventory() == {}
    tenant = fake_box.tenant
    with tenant.lock:
        readme = next(f for f in tenant.files.values() if f.name == "readme.txt")
        owner = tenant.users[readme.owner_id]
        tenant.set_shared_link(readme, "open")
        tenant.add_event("SHARE", owner, source=readme, additional_details={"access": "open"})
        tenant.add_event("PREVIEW", owner, source=readme)
        tenant.add_event("UPLOAD", owner, source=readme)  # the same item again: one rescan
    stack.run_schedule("ActivityPollerFunction")
    stack.wait_for_async(timeout=60)
    files = inventory()
    assert set(files) == {readme.id}
    assert files[readme.id]["exposure"] == "public"
    assert files[readme.id]["generation"] == 0  # a priority rescan, outside any generation


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", 400),
        ("since=yesterday", 400),
        ("limit=0", 400),
        ("limit=501", 400),
        ("cursor=not-a-cursor", 400),
        ("user=alice", 400),
        ("surprise=1", 400),
    ],
)
def test_bad_activity_queries_are_clear_errors(stack: Any, query: str, status: int) -> None:
    api, cid = admin_api(stack.api_url), None
    cid = start_connection(api)["connection_id"]
    with pytest.raises(ApiError) as error:
        api.request("GET", f"/connections/{cid}/activities?{query}")
    assert error.value.status == status


def test_activities_of_an_unknown_connection_is_404(stack: Any) -> None:
    with pytest.raises(ApiError) as error:
        admin_api(stack.api_url).request(
            "GET", "/connections/00000000-0000-4000-8000-000000000000/activities"
        )
    assert error.value.status == 404


def test_a_plain_user_stops_ingestion_and_an_admin_reconnect_starts_it(stack: Any, fake_box: Any) -> None:
    api = admin_api(stack.api_url)
    started = start_connection(api)
    consent(started["authorize_url"], "alice@acme.example")
    stack.wait_for_async(timeout=60)
    cid = started["connection_id"]
    stopped = get_connection(api, cid)["activity"]
    assert stopped["backfill"]["status"] == "stopped"
    assert "403" in stopped["backfill"]["reason"]
    assert stopped["stream"] is None
    again = start_connection(api, {"reconnect": cid})
    consent(again["authorize_url"], ADMIN)
    stack.wait_for_async(timeout=120)
    connection = get_connection(api, cid)
    activity = connection["activity"]
    assert activity["backfill"]["status"] == "finished"
    assert activity["stream"]["status"] == "running"
    # The span ends where the stream began, after the reconnect: nothing falls between.
    assert activity["backfill"]["span_end"] >= connection["connected_at"]
    assert activity["backfill"]["span_end"] == activity["stream"]["started_at"]
