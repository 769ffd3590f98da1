"""The seeded 90-day event history: span, types, sources, boundary instants, late arrivals, cost."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from devstack.fake_box import Event, FakeBox
from tests.fake_box import spec
from tests.fake_box.helpers import FakeClock

CONTENT_TYPES = {
    "UPLOAD", "EDIT", "ITEM_MODIFY", "COPY", "MOVE", "RENAME", "UNDELETE", "FILE_VERSION_RESTORE", "SHARE",
    "ITEM_SHARED_UPDATE", "UNSHARE", "SHARE_EXPIRATION", "UPDATE_SHARE_EXPIRATION", "COLLABORATION_INVITE",
    "COLLABORATION_ACCEPT", "COLLABORATION_ROLE_CHANGE", "COLLABORATION_REMOVE", "CHANGE_FOLDER_PERMISSION",
    "METADATA_INSTANCE_CREATE", "METADATA_INSTANCE_UPDATE", "METADATA_INSTANCE_DELETE",
}  # fmt: skip
VIEW_TYPES = {"PREVIEW", "DOWNLOAD", "ITEM_OPEN", "CONTENT_ACCESS", "FILE_WATERMARKED_DOWNLOAD"}
OTHER_TYPES = {
    "LOGIN",
    "FAILED_LOGIN",
    "ADD_LOGIN_ACTIVITY_DEVICE",
    "ADMIN_LOGIN",
    "GROUP_ADD_USER",
    "DELETE",
    "TRASH",
}
CONNECTOR_KNOWS = CONTENT_TYPES | VIEW_TYPES | OTHER_TYPES


def history(box: FakeBox) -> list[Event]:
    return list(box.tenant.events)


def test_it_spans_exactly_90_days_up_to_now(box: FakeBox) -> None:
    events, now = history(box), box.tenant.now()
    assert 2000 <= len(events) <= 5000
    assert min(e.created_at for e in events) == now - timedelta(days=90)
    assert max(e.created_at for e in events) < now
    assert all(e.created_at <= e.arrived_at <= now for e in events)
    # Spread out, not bunched: every one of the 90 days has events.
    days = {(now - e.created_at) // timedelta(days=1) for e in events}
    assert days == set(range(90)) | {90}  # day 90: the event exactly 90 days back


def test_every_type_the_connector_handles_and_some_it_does_not(box: FakeBox) -> None:
    counts = Counter(e.event_type for e in history(box))
    assert set(counts) >= CONNECTOR_KNOWS
    assert all(counts[event_type] >= 2 for event_type in CONNECTOR_KNOWS)
    unknown = set(counts) - CONNECTOR_KNOWS
    assert unknown >= {"SHIELD_ALERT"}
    event_type = spec.load_spec()["components"]["schemas"]["Event"]["properties"]["event_type"]
    assert unknown - set(event_type["allOf"][0]["enum"]), "a type Box's own spec does not list yet"
    # Views and logins dominate, as in a real log.
    assert counts["PREVIEW"] > counts["METADATA_INSTANCE_DELETE"]
    assert counts["LOGIN"] > counts["ADMIN_LOGIN"]


def test_sources_are_the_tenants_items_users_or_null(box: FakeBox) -> None:
    tenant = box.tenant
    kinds: Counter[str] = Counter()
    for event in history(box):
        source = event.source
        if source is None:
            kinds["null"] += 1
        elif "item_type" in source:
            kinds[source["item_type"]] += 1
            item = tenant.find_item(source["item_type"], source["item_id"])
            assert item is not None
            assert source["item_name"] == item.name
            assert source["owned_by"]["id"] == item.owner_id
            assert source["parent"]["id"] in (item.parent_id, "0")
        else:
            kinds["user"] += 1
            assert source["type"] == "user"
            assert source["id"] in tenant.users
    assert min(kinds["file"], kinds["folder"], kinds["user"], kinds["null"]) >= 20
    logins = [e for e in history(box) if e.event_type == "LOGIN"]
    assert all(e.source == e.created_by for e in logins)
    # Content reached through an open link shows the anonymous user.
    anonymous = [e for e in history(box) if e.created_by["id"] == "2"]
    assert anonymous
    assert all(e.created_by == {"type": "user", "id": "2", "name": "Anonymous User"} for e in anonymous)
    assert {e.event_type for e in anonymous} <= VIEW_TYPES


def test_events_sit_exactly_on_the_boundaries(box: FakeBox) -> None:
    events, now = history(box), box.tenant.now()
    at = Counter(e.created_at for e in events)
    for instant in (now - timedelta(days=90), now - timedelta(days=60), now - timedelta(days=14)):
        assert at[instant] >= 1, instant
    oldest_day = (now - timedelta(days=90)).date()
    midnights = [
        datetime(oldest_day.year, oldest_day.month, oldest_day.day, tzinfo=UTC) + timedelta(days=n)
        for n in range(1, 92)
    ]
    midnights = [m for m in midnights if m < now]
    assert len(midnights) in (90, 91)
    assert all(at[m] >= 1 for m in midnights)
    assert all(at[m - timedelta(seconds=1)] >= 1 for m in midnights[-7:])
    # Generated times are whole seconds, as Box renders them; the fixed ones are whole hours before now.
    assert all(
        e.created_at.microsecond == 0 or (now - e.created_at) % timedelta(hours=1) == timedelta(0)
        for e in events
    )


def test_some_recent_events_arrive_late_so_the_stream_is_out_of_time_order(box: FakeBox) -> None:
    events = history(box)
    late = [e for e in events if e.arrived_at > e.created_at]
    assert 10 <= len(late) <= 100
    assert all(timedelta(minutes=1) <= e.arrived_at - e.created_at <= timedelta(hours=2) for e in late)
    arrivals = [e.arrived_at for e in events]
    assert arrivals == sorted(arrivals), "the stream is in arrival order"
    created = [e.created_at for e in events]
    assert created != sorted(created)


def test_the_history_is_the_same_for_the_same_clock(clock: FakeClock) -> None:
    first, second = FakeBox(clock=clock).tenant, FakeBox(clock=clock).tenant
    assert list(first.events) == list(second.events)
    assert len({e.event_id for e in first.events}) == len(first.events)


def test_seeding_stays_cheap(clock: FakeClock) -> None:
    FakeBox(clock=clock)  # the first seeding in a process also plans the history
    timings = []
    for _ in range(5):
        clock.advance(3600.5)  # another instant: new midnights, a new fraction of a second
        started = time.perf_counter()
        FakeBox(clock=clock)
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.1, timings  # the brief: well under 0.3 s
