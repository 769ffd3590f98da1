"""Pure activity logic: classification of every listed type, windows, the event model at our edge."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from boxcasb.activity.backfill import BackfillMessage, plan_windows
from boxcasb.activity.classify import (
    Impact,
    ScanRequest,
    impact_of_event,
    impact_of_trigger,
    scan_request,
)
from boxcasb.activity.model import ActivityEvent, EventPage, InvalidEvent

# The lists from shared/reference/box-api-notes.md, spelled out again on purpose: the table in
# the code must match the product's rule, not itself.
RESCAN_EVENTS = [
    "UPLOAD",
    "EDIT",
    "ITEM_MODIFY",
    "COPY",
    "MOVE",
    "RENAME",
    "UNDELETE",
    "FILE_VERSION_RESTORE",
    "SHARE",
    "ITEM_SHARED_UPDATE",
    "UNSHARE",
    "SHARE_EXPIRATION",
    "UPDATE_SHARE_EXPIRATION",
    "COLLABORATION_INVITE",
    "COLLABORATION_ACCEPT",
    "COLLABORATION_ROLE_CHANGE",
    "COLLABORATION_REMOVE",
    "CHANGE_FOLDER_PERMISSION",
    "METADATA_INSTANCE_CREATE",
    "METADATA_INSTANCE_UPDATE",
    "METADATA_INSTANCE_DELETE",
]
VIEW_EVENTS = ["PREVIEW", "DOWNLOAD", "ITEM_OPEN", "CONTENT_ACCESS", "FILE_WATERMARKED_DOWNLOAD"]
OTHER_EVENTS = [
    "LOGIN",
    "FAILED_LOGIN",
    "ADMIN_LOGIN",
    "GROUP_ADD_USER",
    "DELETE",
    "SHIELD_ALERT",
    "SOMETHING_NEW",
]
RESCAN_TRIGGERS = [
    "FILE.UPLOADED",
    "FILE.COPIED",
    "FILE.MOVED",
    "FILE.RENAMED",
    "FILE.RESTORED",
    "SHARED_LINK.CREATED",
    "SHARED_LINK.UPDATED",
    "SHARED_LINK.DELETED",
    "COLLABORATION.CREATED",
    "COLLABORATION.ACCEPTED",
    "COLLABORATION.UPDATED",
    "COLLABORATION.REMOVED",
    "METADATA_INSTANCE.CREATED",
    "METADATA_INSTANCE.UPDATED",
    "METADATA_INSTANCE.DELETED",
]
VIEW_TRIGGERS = ["FILE.PREVIEWED", "FILE.DOWNLOADED"]


@pytest.mark.parametrize("event_type", RESCAN_EVENTS)
def test_content_and_exposure_events_rescan(event_type: str) -> None:
    assert impact_of_event(event_type) is Impact.CONTENT_OR_EXPOSURE
    assert scan_request(impact_of_event(event_type), event_type, "file", "42") == ScanRequest(
        "file", "42", event_type
    )


@pytest.mark.parametrize("event_type", VIEW_EVENTS)
def test_view_only_events_wait_for_the_regular_scan(event_type: str) -> None:
    assert impact_of_event(event_type) is Impact.VIEW_ONLY
    assert scan_request(impact_of_event(event_type), event_type, "file", "42") is None


@pytest.mark.parametrize("event_type", OTHER_EVENTS)
def test_other_events_are_recorded_only(event_type: str) -> None:
    assert impact_of_event(event_type) is Impact.OTHER


@pytest.mark.parametrize("trigger", RESCAN_TRIGGERS)
def test_content_and_exposure_triggers_rescan(trigger: str) -> None:
    assert impact_of_trigger(trigger) is Impact.CONTENT_OR_EXPOSURE


@pytest.mark.parametrize("trigger", [*VIEW_TRIGGERS, "WEBHOOK.DELETED", "FOLDER.CREATED"])
def test_other_triggers_do_not_rescan(trigger: str) -> None:
    assert impact_of_trigger(trigger) is not Impact.CONTENT_OR_EXPOSURE


@pytest.mark.parametrize(
    ("item_type", "item_id"), [("user", "7"), ("file", None), ("web_link", "3"), (None, "1")]
)
def test_only_files_and_folders_with_an_id_are_scanned(item_type: str | None, item_id: str | None) -> None:
    assert scan_request(Impact.CONTENT_OR_EXPOSURE, "UPLOAD", item_type, item_id) is None


@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    days=st.integers(min_value=1, max_value=400),
    hours=st.integers(min_value=1, max_value=24 * 31),
)
def test_windows_tile_the_span_exactly(start: datetime, days: int, hours: int) -> None:
    end = start + timedelta(days=days, seconds=17)
    windows = plan_windows(start, end, timedelta(hours=hours))
    assert windows[0].start == start
    assert windows[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert all(w.start < w.end for w in windows)


def box_event(**overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "type": "event",
        "event_id": "f82c3ba03e41f7e8a7608363cc6c0390183c3f83",
        "event_type": "UPLOAD",
        "created_at": "2026-11-26T10:53:43-08:00",
        "created_by": {"type": "user", "id": "11446498", "name": "Aaron", "login": "aaron@acme.example"},
        "source": {"item_type": "file", "item_id": "12345", "item_name": "q3.xlsx", "parent": {"id": "0"}},
        "ip_address": "198.51.100.4",
        "session_id": "abc",
        "additional_details": {"size": 10},
    }
    return event | overrides


def test_event_is_normalised_to_utc_and_keeps_every_box_field() -> None:
    event = ActivityEvent.from_box(box_event(future_field={"x": 1}))
    assert event.created_at == datetime(2026, 11, 26, 18, 53, 43, tzinfo=UTC)
    assert (event.user_id, event.user_login) == ("11446498", "aaron@acme.example")
    assert (event.item_type, event.item_id, event.item_name) == ("file", "12345", "q3.xlsx")
    assert event.raw["future_field"] == {"x": 1}
    assert event.sort_key == "2026-11-26T18:53:43.000000Z#f82c3ba03e41f7e8a7608363cc6c0390183c3f83"


def test_user_sources_are_not_items_and_null_sources_are_fine() -> None:
    login = ActivityEvent.from_box(
        box_event(event_type="LOGIN", source={"type": "user", "id": "9", "login": "x"})
    )
    assert (login.item_type, login.item_id) == ("user", None)
    assert ActivityEvent.from_box(box_event(source=None)).item_id is None


@pytest.mark.parametrize(
    "broken",
    [
        {"event_id": None},
        {"created_at": "yesterday"},
        {"created_at": "2026-11-26T10:53:43"},  # no zone: ambiguous, refused
    ],
)
def test_events_without_id_type_or_time_are_refused(broken: dict[str, object]) -> None:
    entry = {k: v for k, v in box_event(**broken).items() if v is not None}
    with pytest.raises(InvalidEvent):
        ActivityEvent.from_box(entry)


@given(st.integers(min_value=2**53, max_value=2**64))
def test_stream_positions_above_2_53_stay_exact(position: int) -> None:
    assert EventPage(entries=[], next_stream_position=position).next_stream_position == str(position)
    assert EventPage(entries=[], next_stream_position=str(position)).next_stream_position == str(position)


def test_a_position_that_went_through_a_float_is_refused() -> None:
    with pytest.raises(ValueError, match="integer or a string"):
        EventPage(entries=[], next_stream_position=float(2**60 + 1))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "window", "connection_id": "c"},
        {"kind": "plan", "connection_id": "c"},
        {"kind": "explode", "connection_id": "c"},
        {"kind": "resume", "connection_id": "../etc"},
        {"kind": "resume", "connection_id": "c", "extra": 1},
    ],
)
def test_malformed_backfill_messages_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BackfillMessage.model_validate(body)
