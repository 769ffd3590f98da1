"""The event log's two readers against brute force, on mixes of recorded, packed and synthetic events."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.fake_box import Event, EventOptions, Tenant
from devstack.fake_box.eventlog import STREAMING_RETENTION
from devstack.fake_box.seed import seed_tenant

NOW = 1_800_000_000.25  # a fixed clock, with a fraction of a second
SECOND_US = 1_000_000
HOUR_US = 3600 * SECOND_US


def build(steps: list[tuple[str, int, int]]) -> Tenant:
    """A tenant from steps: ("event", hours ago, arrival delay in minutes), ("block", count, hours ago)
    or ("packed", count, seed): events on whole hours (so ties), some arriving late."""
    tenant = seed_tenant(lambda: NOW, history=False)
    alice = tenant.user_by_login("alice@acme.example")
    file = next(iter(tenant.files.values()))
    body = tenant.event_template("PREVIEW", alice, source=file)
    now = tenant.now()
    now_us = int(NOW * SECOND_US)
    for kind, first, second in steps:
        if kind == "event":
            created = now - timedelta(hours=first)
            arrived = min(created + timedelta(minutes=second), now)
            tenant.add_event("EDIT", alice, source=file, created_at=created, arrived_at=arrived)
        elif kind == "block":
            end = now - timedelta(hours=second)
            tenant.add_synthetic_events(first, end - timedelta(hours=1), end)
        else:
            rng = random.Random(second)
            times = [now_us - rng.randint(0, 24 * 20) * HOUR_US for _ in range(first)]
            arrivals = [min(t + rng.choice([0, 0, 300, 7200]) * SECOND_US, now_us) for t in times]
            pairs = sorted(zip(arrivals, times, strict=True))
            tenant.events.add_packed([p[1] for p in pairs], [p[0] for p in pairs], [body] * first)
    return tenant


steps = st.lists(
    st.one_of(
        st.tuples(st.just("event"), st.integers(0, 24 * 20), st.sampled_from([0, 0, 5, 90])),
        # Many events in an hour: sub-second times.
        st.tuples(st.just("block"), st.integers(1, 150), st.integers(0, 24 * 20)),
        st.tuples(st.just("packed"), st.integers(1, 60), st.integers(0, 1000)),
    ),
    max_size=8,
)


def admin_logs_oracle(
    tenant: Tenant, after: datetime | None, before: datetime | None, latency: float
) -> list[str]:
    visible = tenant.now() - timedelta(seconds=latency)
    chosen = [
        e
        for e in tenant.events
        if (after is None or e.created_at >= after)
        and (before is None or e.created_at <= before)
        and e.arrived_at <= visible
    ]
    return [e.event_id for e in sorted(chosen, key=lambda e: (e.created_at, e.seq))]


@settings(max_examples=50, deadline=None)
@given(
    steps=steps,
    after_hours=st.one_of(st.none(), st.integers(0, 24 * 21)),
    span_hours=st.one_of(st.none(), st.integers(0, 24 * 21)),
    limit=st.integers(1, 12),
    short=st.booleans(),
    latency=st.sampled_from([0, 600, 7200]),
)
def test_admin_logs_pages_add_up_to_the_window(
    steps: list[tuple[str, int, int]],
    after_hours: int | None,
    span_hours: int | None,
    limit: int,
    short: bool,
    latency: float,
) -> None:
    tenant = build(steps)
    now = tenant.now()
    after = None if after_hours is None else now - timedelta(hours=after_hours)
    before = None if after is None or span_hours is None else after + timedelta(hours=span_hours)
    options = EventOptions(admin_logs_latency=latency, admin_logs_short_pages=short)
    got: list[str] = []
    cursor: Event | None = None
    while True:
        page = tenant.events.admin_logs_page(
            after=after, before=before, cursor=cursor, limit=limit, types=None, now=now, options=options
        )
        assert len(page) <= limit
        if not page:
            break
        got += [e.event_id for e in page]
        cursor = page[-1]
    assert got == admin_logs_oracle(tenant, after, before, latency)


@settings(max_examples=50, deadline=None)
@given(steps=steps, start=st.integers(0, 2000), limit=st.integers(1, 12), duplicates=st.integers(0, 3))
def test_stream_pages_add_up_to_what_follows_the_position(
    steps: list[tuple[str, int, int]], start: int, limit: int, duplicates: int
) -> None:
    tenant = build(steps)
    now = tenant.now()
    log = tenant.events
    start = min(start, log.last_seq)
    options = EventOptions(streaming_duplicates=duplicates, streaming_empty_pages=1)
    horizon = now - STREAMING_RETENTION
    expected = [e.event_id for e in log if e.seq > start and e.arrived_at >= horizon]
    got: list[str] = []
    cursor = start
    while True:
        page, position = log.stream_page(cursor=cursor, limit=limit, types=None, now=now, options=options)
        assert len(page) <= limit
        assert position > cursor or (not page and position == cursor)
        if not page:
            assert position > cursor, "an empty page that moves (option on)"
            break
        got += [e.event_id for e in page]
        cursor = position
    # A re-delivery on the first page may repeat the event at the start position itself.
    at_or_before_start = {e.event_id for e in log if e.seq <= start}
    assert list(dict.fromkeys(i for i in got if i not in at_or_before_start)) == expected
    assert len([i for i in got if i in at_or_before_start]) <= 1
    if not duplicates:
        assert got == expected
    # Nothing follows the moved position until something new is recorded.
    assert log.stream_page(cursor=cursor, limit=limit, types=None, now=now, options=EventOptions())[0] == []
