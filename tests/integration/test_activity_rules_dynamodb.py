"""The activity rules' DynamoDB state under moto: dedupe, one decision per window, TTLs, races.

The table has the key schema the state module asks for (`pk`/`sk` strings, TTL on `ttl`).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from boxcasb.activity.model import ActivityEvent
from boxcasb.activity_rules.engine import WINDOW_GRACE, ActivityEngine
from boxcasb.activity_rules.geo import CsvIpCountry
from boxcasb.activity_rules.matches import ActivityMatch
from boxcasb.activity_rules.model import ActivityPolicy, ActivityRules
from boxcasb.activity_rules.state import DynamoDbActivityState, EventMark, Scope, Sighting
from tests.support.moto_tables import server_table

CONN = "c0ffee00-0000-4000-8000-000000000002"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=30)
GEO = CsvIpCountry.from_lines(["81.0.0.0,81.255.255.255,FR", "85.0.0.0,85.255.255.255,DE"])
RULES = """
- {id: mass-download, kind: threshold, category: download, count: 5, window_minutes: 60}
- {id: geo, kind: new_country, remember_days: 30}
"""


@pytest.fixture
def table(stack: Any) -> Iterator[Any]:
    with server_table("activity-rules", "ttl") as created:
        yield created


class AtomicUpdates:
    """The table with each UpdateItem under one lock.

    DynamoDB checks a condition and writes as one atomic step; moto's in-process backend does
    not (check, then write, no lock), so threads could both pass one condition. This lock gives
    the test DynamoDB's guarantee; the threads still interleave freely between calls.
    """

    def __init__(self, table: Any) -> None:
        self._table = table
        self._lock = threading.Lock()
        self.calls = 0

    def update_item(self, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
            return self._table.update_item(**kwargs)


def download(at: datetime, user_id: str = "11", event_id: str | None = None) -> ActivityEvent:
    return box_event("DOWNLOAD", at, user_id, event_id=event_id)


def box_event(
    event_type: str, at: datetime, user_id: str = "11", ip: str = "81.1.1.1", event_id: str | None = None
) -> ActivityEvent:
    return ActivityEvent.from_box(
        {
            "type": "event",
            "event_id": event_id or str(uuid.uuid4()),
            "event_type": event_type,
            "created_at": at.isoformat(),
            "created_by": {"type": "user", "id": user_id, "login": f"u{user_id}@acme.example"},
            "source": {"item_type": "file", "item_id": "5", "item_name": "plan.xlsx"},
            "ip_address": ip,
        }
    )


def engine(state: DynamoDbActivityState, now: datetime = NOW) -> ActivityEngine:
    policy = ActivityPolicy(policy_id="p1", rules=ActivityRules.model_validate(yaml.safe_load(RULES)))
    return ActivityEngine([policy], state, GEO, lambda _c: frozenset({"acme.example"}), clock=lambda: now)


def run(eng: ActivityEngine, *events: ActivityEvent) -> list[ActivityMatch]:
    return [m for e in events for m in eng.evaluate(CONN, e)]


def test_a_window_fires_once_at_its_count_and_again_in_the_next(table: Any) -> None:
    eng = engine(DynamoDbActivityState(table))
    first = [download(T0 + timedelta(minutes=i)) for i in range(8)]
    later = [download(T0 + timedelta(minutes=60 + i)) for i in range(5)]
    fired = [run(eng, e) for e in [*first, *later]]
    assert [i for i, m in enumerate(fired) if m] == [4, 12]
    assert fired[4][0].event_ids == tuple(e.event_id for e in first[:5])
    assert fired[12][0].event_ids == tuple(e.event_id for e in later)
    assert (fired[4][0].first_at, fired[4][0].last_at) == (T0, T0 + timedelta(minutes=4))


def test_redelivery_does_not_double_count_and_repeats_only_the_decision(table: Any) -> None:
    state = DynamoDbActivityState(table)
    eng = engine(state)
    events = [download(T0 + timedelta(minutes=i)) for i in range(6)]
    assert run(eng, *events[:4], *events[:4]) == []  # 8 deliveries, 4 events
    (match,) = run(eng, events[4])
    assert run(eng, events[4]) == [match]  # a retry after a crash gets the same decision back
    assert run(eng, *events) == [match]  # only the deciding event repeats it
    # A fresh container (no memo) decides the same from the table alone.
    assert run(engine(DynamoDbActivityState(table)), *events) == [match]


def test_the_window_item_holds_the_counted_events_and_expires_after_the_window(table: Any) -> None:
    eng = engine(DynamoDbActivityState(table))
    events = [download(T0 + timedelta(minutes=i)) for i in range(7)]
    run(eng, *events)
    window = int(T0.timestamp()) // 3600
    item = table.get_item(Key={"pk": f"ACT#{CONN}#p1#mass-download#11", "sk": f"W#{window}"})["Item"]
    assert item["marks"] == [EventMark(e.event_id, e.created_at).token for e in events[:5]]
    window_end = T0 + timedelta(hours=1)
    assert int(item["ttl"]) == int((window_end + WINDOW_GRACE).timestamp())
    # History replayed long after its window expires a day after it is written, not in the past.
    old = download(T0 - timedelta(days=40))
    run(eng, old)
    old_item = table.get_item(Key={"pk": f"ACT#{CONN}#p1#mass-download#11", "sk": f"W#{window - 960}"})[
        "Item"
    ]
    assert int(old_item["ttl"]) == int((NOW + WINDOW_GRACE).timestamp())


def test_after_a_window_fires_this_container_stops_writing_to_it(table: Any) -> None:
    atomic = AtomicUpdates(table)
    state = DynamoDbActivityState(atomic)  # type: ignore[arg-type]
    eng = engine(state)
    events = [download(T0 + timedelta(seconds=i)) for i in range(50)]
    matches = run(eng, *events)
    assert len(matches) == 1
    assert atomic.calls == state.writes == 5  # the rest of the window cost nothing
    other = DynamoDbActivityState(atomic)  # type: ignore[arg-type]
    run(engine(other), *events[10:])
    assert other.writes == 1  # a container new to the window: one failed write, then it knows


def test_threads_hammering_one_window_fire_it_exactly_once(table: Any) -> None:
    """Eight "Lambdas" (each its own state object, no shared memo) take one user's burst at once,
    each event delivered twice. Exactly one event decides; only its redelivery repeats the match."""
    atomic = AtomicUpdates(table)
    events = [download(T0 + timedelta(seconds=i)) for i in range(120)]
    lambdas = 8
    start = threading.Barrier(lambdas)

    def worker(part: list[ActivityEvent]) -> list[ActivityMatch]:
        eng = engine(DynamoDbActivityState(atomic))  # type: ignore[arg-type]
        start.wait()
        return run(eng, *part, *reversed(part))

    with ThreadPoolExecutor(lambdas) as pool:
        results = list(pool.map(worker, [events[i::lambdas] for i in range(lambdas)]))
    matches = [m for r in results for m in r]
    assert {m.match_id for m in matches} == {matches[0].match_id}
    assert len(matches) == 2
    assert matches[0] == matches[1]
    ids = matches[0].event_ids
    assert len(ids) == len(set(ids)) == 5
    assert set(ids) <= {e.event_id for e in events}


def test_threads_racing_on_many_users_and_windows_fire_once_each(table: Any) -> None:
    atomic = AtomicUpdates(table)
    events = [
        download(T0 + timedelta(minutes=60 * window + i), user_id=user)
        for user in ("11", "12", "13")
        for window in range(2)
        for i in range(7)
    ]
    start = threading.Barrier(6)

    def worker(part: list[ActivityEvent]) -> list[str]:
        eng = engine(DynamoDbActivityState(atomic))  # type: ignore[arg-type]
        start.wait()
        return [m.match_id for m in run(eng, *part)]

    with ThreadPoolExecutor(6) as pool:
        decided = [i for r in pool.map(worker, [events[i::6] for i in range(6)]) for i in r]
    assert len(decided) == len(set(decided)) == 6  # 3 users x 2 windows, each once


def test_new_country_state_records_then_decides_once(table: Any) -> None:
    state = DynamoDbActivityState(table)
    eng = engine(state)
    first = box_event("LOGIN", T0, ip="81.1.1.1")
    again = box_event("LOGIN", T0 + timedelta(hours=1), ip="81.9.9.9")
    germany = box_event("LOGIN", T0 + timedelta(hours=2), ip="85.1.1.1")
    assert run(eng, first, again, first) == []
    (match,) = run(eng, germany)
    assert match.details["country"] == "DE"
    assert match.details["known_countries"] == "FR"
    assert run(eng, germany) == [match]  # redelivery: same decision, same id
    assert run(eng, box_event("LOGIN", T0 + timedelta(hours=3), ip="85.2.2.2")) == []
    item = table.get_item(Key={"pk": f"ACT#{CONN}#p1#geo#11", "sk": "GEO"})["Item"]
    assert item["baseline"] == "FR"
    assert (item["c_FR"], item["c_DE"]) == (first.event_id, germany.event_id)
    assert int(item["ttl"]) == int(
        (NOW + timedelta(days=30)).timestamp()
    )  # remember_days after the last login


def test_concurrent_first_logins_from_two_countries_make_one_baseline(table: Any) -> None:
    atomic = AtomicUpdates(table)
    scope = Scope(CONN, "p1", "geo", "11")
    expires = NOW + timedelta(days=1)
    marks = [(country, EventMark(str(uuid.uuid4()), T0)) for country in ("FR", "DE", "US", "JP") * 5]
    start = threading.Barrier(len(marks))

    def sight(item: tuple[str, EventMark]) -> tuple[str, Sighting]:
        state = DynamoDbActivityState(atomic)  # type: ignore[arg-type]
        start.wait()
        return item[0], state.see_country(scope, item[0], item[1], expires).sighting

    with ThreadPoolExecutor(len(marks)) as pool:
        seen = list(pool.map(sight, marks))
    assert sum(s is Sighting.FIRST for _, s in seen) == 1
    first = next(c for c, s in seen if s is Sighting.FIRST)
    new = sorted(c for c, s in seen if s is Sighting.NEW)
    assert new == sorted({"FR", "DE", "US", "JP"} - {first})  # every other country decided once


def test_another_ttl_attribute_can_be_named(table: Any) -> None:
    state = DynamoDbActivityState(table, ttl_attribute="expires_at")
    state.count(Scope(CONN, "p1", "r", "11"), 7, 3, EventMark("e1", T0), T0 + timedelta(days=1))
    item = table.get_item(Key={"pk": f"ACT#{CONN}#p1#r#11", "sk": "W#7"})["Item"]
    assert int(item["expires_at"]) == int((T0 + timedelta(days=1)).timestamp())
    assert "ttl" not in item
