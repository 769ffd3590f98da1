"""admin_logs and admin_logs_streaming over HTTP: bounds, order, latency, short and empty pages, duplicates.

Each test reads the feeds the way the connector will (page after page until an empty
one) and checks the contract the README states.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from devstack.fake_box import Event, FakeBox, File, User
from tests.fake_box.helpers import BoxHttp, FakeClock, Tokens, entry_ids, read_pages

ADMIN_LOGS = {"stream_type": "admin_logs"}
STREAM = {"stream_type": "admin_logs_streaming"}
MICROSECOND = timedelta(microseconds=1)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def in_time_order(events: Iterable[Event]) -> list[str]:
    return [e.event_id for e in sorted(events, key=lambda e: (e.created_at, e.seq))]


def retained(box: FakeBox) -> list[str]:
    horizon = box.tenant.now() - timedelta(days=14)
    return [e.event_id for e in box.tenant.events if e.arrived_at >= horizon]


def position_of(http: BoxHttp, admin: Tokens) -> str:
    page = http.get("/2.0/events", admin, **STREAM, stream_position="now").json()
    assert page["entries"] == []
    position: str = page["next_stream_position"]
    return position


def alice_and_a_file(box: FakeBox) -> tuple[User, File]:
    alice = box.tenant.user_by_login("alice@acme.example")
    return alice, next(f for f in box.tenant.files.values() if f.owner_id == alice.id)


def midnights_between(start: datetime, end: datetime) -> list[datetime]:
    first = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=1)
    count = (end - first) // timedelta(days=1) + 1
    return [m for m in (first + timedelta(days=n) for n in range(count)) if start < m < end]


# ----- admin_logs ----------------------------------------------------------------


def test_both_window_bounds_are_inclusive(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    now = box.tenant.now()
    start = now - timedelta(days=60)  # the history has an event exactly here...
    end = midnights_between(start, now)[1]  # ...and here
    alice, file = alice_and_a_file(box)
    for moment in (start, end):  # and recorded ones too
        box.tenant.add_event("EDIT", alice, source=file, created_at=moment)
    events = {e.event_id: e for e in box.tenant.events}

    def window(after: datetime, before: datetime) -> list[str]:
        pages = read_pages(
            http, admin, **ADMIN_LOGS, created_after=iso(after), created_before=iso(before), limit=500
        )
        return entry_ids(pages)

    ids = window(start, end)
    assert ids == in_time_order(e for e in events.values() if start <= e.created_at <= end)
    assert [events[i].created_at for i in ids[:2]] == [start, start]
    assert [events[i].created_at for i in ids[-2:]] == [end, end]
    narrower = window(start + MICROSECOND, end - MICROSECOND)
    assert narrower == [i for i in ids if events[i].created_at not in (start, end)]
    assert len(narrower) < len(ids)


def test_day_windows_meet_at_midnight_events_which_both_return(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    """The backfill's one-day windows: together they return everything; events on a shared bound, twice."""
    now = box.tenant.now()
    bounds = [now - timedelta(days=90), *midnights_between(now - timedelta(days=90), now), now]
    seen: Counter[str] = Counter()
    for after, before in itertools.pairwise(bounds):
        pages = read_pages(
            http, admin, **ADMIN_LOGS, created_after=iso(after), created_before=iso(before), limit=500
        )
        ids = entry_ids(pages)
        assert len(ids) == len(set(ids)), "no duplicates inside one window"
        seen.update(ids)
    events = {e.event_id: e for e in box.tenant.events}
    assert set(seen) == set(events)
    twice = {events[i].created_at for i, n in seen.items() if n == 2}
    assert twice == set(bounds[1:-1])
    assert max(seen.values()) == 2


def test_short_pages_do_not_end_a_window(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    now = box.tenant.now()
    # Pages of 20, not 100: which pages are short depends on where each starts (so on "now"); with
    # dozens of pages, fewer than two short ones is as good as impossible, whatever the day.
    window = {"created_after": iso(now - timedelta(days=30)), "created_before": iso(now), "limit": 20}
    expected = in_time_order(e for e in box.tenant.events if e.created_at >= now - timedelta(days=30))
    full = [page["chunk_size"] for page in read_pages(http, admin, **ADMIN_LOGS, **window)]
    assert all(size == 20 for size in full[:-2]), "off by default"

    box.event_options.admin_logs_short_pages = True
    pages = read_pages(http, admin, **ADMIN_LOGS, **window)
    sizes = [page["chunk_size"] for page in pages]
    assert sizes[-1] == 0
    assert all(0 < size <= 20 for size in sizes[:-1]), "only the last page is empty"
    assert sum(0 < size < 20 for size in sizes[:-2]) >= 2, "short pages with more after them"
    assert entry_ids(pages) == expected, "chronological, complete, no duplicates"
    again = http.get("/2.0/events", admin, **ADMIN_LOGS, **window).json()
    assert again == pages[0], "the same request gets the same page"


def test_latency_hides_fresh_arrivals_until_they_age(
    http: BoxHttp, box: FakeBox, admin: Tokens, clock: FakeClock
) -> None:
    box.event_options.admin_logs_latency = 600
    tenant = box.tenant
    alice, file = alice_and_a_file(box)
    now = tenant.now()
    stream_start = position_of(http, admin)
    fresh = tenant.add_event("UPLOAD", alice, source=file)

    def admin_logs(after: datetime, before: datetime) -> list[str]:
        pages = read_pages(
            http, admin, **ADMIN_LOGS, created_after=iso(after), created_before=iso(before), limit=500
        )
        return entry_ids(pages)

    recent = (now - timedelta(hours=1), now + timedelta(hours=1))
    assert fresh.event_id not in admin_logs(*recent)
    stream = read_pages(http, admin, **STREAM, stream_position=stream_start)
    assert entry_ids(stream) == [fresh.event_id], "the stream has it at once"
    clock.advance(599)
    assert fresh.event_id not in admin_logs(*recent)
    clock.advance(1)
    assert fresh.event_id in admin_logs(*recent)

    # A late event sorts back in time: a window read before it aged misses it for good.
    late = tenant.add_late_event("EDIT", alice, source=file, created_at=tenant.now() - timedelta(hours=3))
    back_then = (tenant.now() - timedelta(hours=4), tenant.now() - timedelta(hours=2))
    assert late.event_id not in admin_logs(*back_then)
    clock.advance(600)
    assert late.event_id in admin_logs(*back_then)


def test_events_at_one_instant_page_in_seq_order(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    alice, file = alice_and_a_file(box)
    instant = box.tenant.now() - timedelta(days=3, seconds=0.5)
    same = [box.tenant.add_event("PREVIEW", alice, source=file, created_at=instant) for _ in range(7)]
    window = {"created_after": iso(instant), "created_before": iso(instant), "limit": 2}
    pages = read_pages(http, admin, **ADMIN_LOGS, **window)
    assert entry_ids(pages) == [e.event_id for e in same]
    assert [page["chunk_size"] for page in pages] == [2, 2, 2, 1, 0]


def test_without_latency_a_new_event_shows_at_once(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    alice, file = alice_and_a_file(box)
    fresh = box.tenant.add_event("UPLOAD", alice, source=file)
    pages = read_pages(http, admin, **ADMIN_LOGS, created_after=iso(fresh.created_at), limit=500)
    assert entry_ids(pages) == [fresh.event_id]


# ----- admin_logs_streaming --------------------------------------------------------


def test_no_duplicates_unless_asked(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    ids = entry_ids(read_pages(http, admin, **STREAM, limit=100))
    assert ids == retained(box)


def test_duplicates_repeat_an_already_delivered_event(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    box.event_options.streaming_duplicates = 1
    pages = read_pages(http, admin, **STREAM, limit=100)
    ids = entry_ids(pages)
    assert len(ids) > len(set(ids))
    assert list(dict.fromkeys(ids)) == retained(box), "after dedupe: every retained event, in order"
    bodies: dict[str, dict[str, object]] = {}
    for page in pages:
        assert len(page["entries"]) <= 100
        for entry in page["entries"]:
            assert bodies.setdefault(entry["event_id"], entry) == entry, "same id, same body"
    for before, page in itertools.pairwise(pages[:-1]):
        assert page["entries"][0] == before["entries"][-1], "the last event of the page before, again"

    box.event_options.streaming_duplicates = 3
    sparse = read_pages(http, admin, **STREAM, limit=100)
    repeats = [
        i for i, page in enumerate(sparse[1:-1], 1) if page["entries"][0] == sparse[i - 1]["entries"][-1]
    ]
    assert 1 <= len(repeats) <= len(sparse) // 3 + 1


def test_retention_counts_from_arrival(http: BoxHttp, box: FakeBox, admin: Tokens, clock: FakeClock) -> None:
    alice, file = alice_and_a_file(box)
    start = position_of(http, admin)
    late = box.tenant.add_late_event(
        "EDIT", alice, source=file, created_at=box.tenant.now() - timedelta(days=20)
    )
    assert entry_ids(read_pages(http, admin, **STREAM, stream_position=start)) == [late.event_id]
    assert late.event_id in entry_ids(read_pages(http, admin, **STREAM, limit=500))
    clock.advance(14 * 86400 + 1)
    admin = http.connect("admin@acme.example")  # the old access token expired meanwhile
    assert late.event_id not in entry_ids(read_pages(http, admin, **STREAM, limit=500))
    gone = box.tenant.add_event("EDIT", alice, source=file, created_at=box.tenant.now() - timedelta(days=16))
    assert gone.event_id not in entry_ids(read_pages(http, admin, **STREAM, stream_position=start))


def test_late_and_backdated_events_join_the_stream_with_older_times(
    http: BoxHttp, box: FakeBox, admin: Tokens
) -> None:
    tenant = box.tenant
    alice, file = alice_and_a_file(box)
    start = position_of(http, admin)
    now = tenant.now()
    first = tenant.add_event("LOGIN", alice, source=alice)
    late = tenant.add_late_event("EDIT", alice, source=file, created_at=now - timedelta(hours=3))
    backdated = tenant.add_event("PREVIEW", alice, source=file, created_at=now - timedelta(days=2))
    assert (late.arrived_at, backdated.arrived_at) == (now, backdated.created_at)
    with pytest.raises(ValueError, match="past"):
        tenant.add_late_event("EDIT", alice, created_at=now)

    entries = [
        e for page in read_pages(http, admin, **STREAM, stream_position=start) for e in page["entries"]
    ]
    assert [e["event_id"] for e in entries] == [first.event_id, late.event_id, backdated.event_id]
    created = [datetime.fromisoformat(e["created_at"]) for e in entries]
    assert created[0] > created[1] > created[2]
    # admin_logs puts them back in time order.
    after = {"created_after": iso(now - timedelta(days=3)), "limit": 500}
    in_admin_logs = entry_ids(read_pages(http, admin, **ADMIN_LOGS, **after))
    assert [i for i in in_admin_logs if i in {first.event_id, late.event_id, backdated.event_id}] == [
        backdated.event_id,
        late.event_id,
        first.event_id,
    ]


def test_empty_pages_that_move_the_position(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    box.event_options.streaming_empty_pages = 1
    alice, file = alice_and_a_file(box)

    def read(position: str) -> dict[str, Any]:
        response = http.get("/2.0/events", admin, **STREAM, stream_position=position)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    start = position_of(http, admin)
    first, second = read(start), read(str(read(start)["next_stream_position"]))
    assert first["entries"] == second["entries"] == []
    moved = [int(start), int(first["next_stream_position"]), int(second["next_stream_position"])]
    assert moved[0] < moved[1] < moved[2]
    assert all(p > 2**53 and p % 2 == 1 for p in moved)
    added = box.tenant.add_event("UPLOAD", alice, source=file)
    for position in moved:  # every position handed out resumes, and nothing was skipped
        assert [e["event_id"] for e in read(str(position))["entries"]] == [added.event_id]
    past_the_end = str(int(position_of(http, admin)) + 2)
    assert http.get("/2.0/events", admin, **STREAM, stream_position=past_the_end).status_code == 400

    box.event_options.streaming_empty_pages = 2
    end = position_of(http, admin)
    assert [read(end)["next_stream_position"] for _ in range(4)].count(end) == 2, "every second read moves"


def test_an_empty_page_never_hides_events(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    box.event_options.streaming_empty_pages = 1
    box.event_options.streaming_duplicates = 2
    pages = read_pages(http, admin, **STREAM, limit=50)
    assert list(dict.fromkeys(entry_ids(pages))) == retained(box), "one read gets everything"
    assert int(pages[-1]["next_stream_position"]) > int(pages[-2]["next_stream_position"])


def test_resuming_from_any_returned_position(http: BoxHttp, box: FakeBox, admin: Tokens) -> None:
    pages = read_pages(http, admin, **STREAM, limit=97)
    everything = entry_ids(pages)
    delivered = 0
    for page in pages:
        delivered += page["chunk_size"]
        rest = read_pages(http, admin, **STREAM, stream_position=page["next_stream_position"], limit=500)
        assert entry_ids(rest) == everything[delivered:]
    # admin_logs positions resume inside their window too.
    window = {"created_after": iso(box.tenant.now() - timedelta(days=20)), "limit": 300}
    pages = read_pages(http, admin, **ADMIN_LOGS, **window)
    everything, delivered = entry_ids(pages), 0
    for page in pages:
        delivered += page["chunk_size"]
        rest = read_pages(http, admin, **ADMIN_LOGS, **window, stream_position=page["next_stream_position"])
        assert entry_ids(rest) == everything[delivered:]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_polling_reader_gets_every_event(
    http: BoxHttp, box: FakeBox, admin: Tokens, clock: FakeClock, seed: int
) -> None:
    """Continuous ingestion as the connector does it, with every misbehaviour on: nothing is lost."""
    box.event_options.streaming_duplicates = 2
    box.event_options.streaming_empty_pages = 1
    rng = random.Random(seed)
    tenant = box.tenant
    users = [u for u in tenant.users.values() if u.is_active]
    files = list(tenant.files.values())
    position = position_of(http, admin)
    recorded: list[str] = []
    delivered: list[str] = []
    for _minute in range(12):
        for _ in range(rng.randint(0, 40)):
            user, file = rng.choice(users), rng.choice(files)
            if rng.random() < 0.2:
                ago = timedelta(seconds=rng.randint(1, 7200))
                event = tenant.add_late_event("EDIT", user, source=file, created_at=tenant.now() - ago)
            else:
                event = tenant.add_event(rng.choice(["UPLOAD", "PREVIEW", "SHARE"]), user, source=file)
            recorded.append(event.event_id)
        clock.advance(60)
        pages = read_pages(http, admin, **STREAM, stream_position=position, limit=rng.choice([2, 7, 50, 500]))
        delivered += entry_ids(pages)
        position = pages[-1]["next_stream_position"]
    assert list(dict.fromkeys(delivered)) == recorded
    assert len(delivered) > len(recorded), "duplicates came, and deduping on event_id absorbed them"


# ----- options ----------------------------------------------------------------------


def test_options_from_the_constructor_and_over_http(clock: FakeClock) -> None:
    with FakeBox(clock=clock, admin_logs_latency=5, streaming_empty_pages=3) as box:
        options = box.event_options
        assert (options.admin_logs_latency, options.streaming_empty_pages, options.streaming_duplicates) == (
            5,
            3,
            0,
        )
        assert box.tenant.event_options is options
        url = f"{box.url}/_fake/event-options"
        changed = requests.post(
            url, json={"streaming_duplicates": 2, "admin_logs_short_pages": True}, timeout=10
        )
        assert changed.status_code == 200
        assert changed.json() == {
            "admin_logs_latency": 5,
            "admin_logs_short_pages": True,
            "streaming_duplicates": 2,
            "streaming_empty_pages": 3,
        }
        for bad in ({"streaming_duplicates": -1}, {"no_such_option": 1}, {"admin_logs_short_pages": 1}):
            assert requests.post(url, json=bad, timeout=10).status_code == 400, bad
        box.reset()
        assert box.tenant.event_options is options
        assert requests.get(url, timeout=10).json()["streaming_duplicates"] == 2

        before = len(box.tenant.events)
        added = requests.post(
            f"{box.url}/_fake/synthetic-events", json={"count": 5000, "days": 2}, timeout=10
        )
        assert added.status_code == 201
        assert len(box.tenant.events) == before + 5000 == added.json()["events"]
        bad_count = requests.post(f"{box.url}/_fake/synthetic-events", json={"count": 0}, timeout=10)
        assert bad_count.status_code == 400
