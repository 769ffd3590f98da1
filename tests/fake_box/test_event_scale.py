"""A million synthetic events: built fast and small, paged by window and by position in milliseconds."""

from __future__ import annotations

import bisect
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from devstack.fake_box import Event, FakeBox, SyntheticEvents
from devstack.fake_box.eventlog import STREAMING_RETENTION
from devstack.fake_box.render import Renderer
from devstack.fake_box.routes_events import encode_position
from tests.fake_box.helpers import BoxHttp, FakeClock, Tokens

MILLION = 1_000_000
PAGE = 500


def rss_mb() -> float | None:
    statm = Path("/proc/self/statm")
    if not statm.exists():
        return None
    return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Big:
    box: FakeBox
    block: SyntheticEvents
    built_seconds: float
    grown_mb: float | None
    http: BoxHttp
    admin: Tokens


@pytest.fixture(scope="module")
def big() -> Iterator[Big]:
    clock = FakeClock()
    before = rss_mb()
    started = time.perf_counter()
    box = FakeBox(clock=clock)
    now = box.tenant.now()
    block = box.tenant.add_synthetic_events(MILLION, now - timedelta(days=90), now, seed=11)
    built = time.perf_counter() - started
    after = rss_mb()
    grown = None if before is None or after is None else after - before
    with box, requests.Session() as session:
        http = BoxHttp(box, session)
        yield Big(box, block, built, grown, http, http.connect("admin@acme.example"))


def cpu_ms(work: Callable[[], object], times: int = 9) -> float:
    """Median thread CPU of ``work``: what the fake spends, whatever else the machine does."""
    spent = []
    for _ in range(times):
        started = time.thread_time()
        work()
        spent.append(time.thread_time() - started)
    return statistics.median(spent) * 1000


def served(events: list[Event]) -> str:
    return ", ".join(Renderer.event_json(event) for event in events)


def test_a_million_events_build_fast_and_small(big: Big) -> None:
    assert big.built_seconds < 3
    if big.grown_mb is not None:
        assert big.grown_mb < 100  # the brief allows 500 MB
    log, block = big.box.tenant.events, big.block
    assert len(log) == MILLION + block.first_seq - 1
    assert log[block.first_seq - 1 + 123_456].seq == block.first_seq + 123_456
    assert log[-1] == block.event(MILLION - 1)
    times = [block.event(i).created_at for i in range(0, MILLION, 997)]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert {block.event(i).event_type for i in range(0, 20_000, 7)} >= {"UPLOAD", "PREVIEW", "LOGIN"}


def first_synthetic_at_or_after(block: SyntheticEvents, moment: datetime) -> int:
    i = bisect.bisect_left(range(block.count), moment, key=lambda i: block.event(i).created_at)
    assert i == 0 or block.event(i - 1).created_at < moment <= block.event(i).created_at
    return i


def test_an_admin_logs_page_in_the_middle_of_a_window(big: Big) -> None:
    tenant, block = big.box.tenant, big.block
    now = tenant.now()
    after, before = now - timedelta(days=45, seconds=0.5), now - timedelta(days=44)
    window = {
        "stream_type": "admin_logs",
        "created_after": after.isoformat(),
        "created_before": before.isoformat(),
    }
    # What the first two pages must hold: the window's events of every segment, in (created_at, seq) order.
    first = first_synthetic_at_or_after(block, after)
    candidates = [block.event(i) for i in range(first, first + 2 * PAGE)]
    candidates += [e for e in tenant.events[: block.first_seq - 1] if after <= e.created_at <= before]
    expected = [e.event_id for e in sorted(candidates, key=lambda e: (e.created_at, e.seq))[: 2 * PAGE]]

    one = big.http.get("/2.0/events", big.admin, **window, limit=PAGE).json()
    two = big.http.get(
        "/2.0/events", big.admin, **window, limit=PAGE, stream_position=one["next_stream_position"]
    ).json()
    assert [e["event_id"] for e in one["entries"] + two["entries"]] == expected
    assert any(e.seq < block.first_seq for e in candidates[2 * PAGE :]), "the seeded history is merged in"

    log, options = tenant.events, tenant.event_options
    cursor = log.by_seq(int((int(one["next_stream_position"]) - 2**60 - 1) // 2))
    spent = cpu_ms(
        lambda: served(
            log.admin_logs_page(
                after=after, before=before, cursor=cursor, limit=PAGE, types=None, now=now, options=options
            )
        )
    )
    assert spent < 50, f"{spent:.1f} ms of fake CPU for a page"


def test_a_stream_page_from_a_position_in_the_middle(big: Big) -> None:
    tenant, block = big.box.tenant, big.block
    middle = block.first_seq + 900_000  # inside the two weeks the stream keeps
    page = big.http.get(
        "/2.0/events",
        big.admin,
        stream_type="admin_logs_streaming",
        stream_position=encode_position(middle),
        limit=PAGE,
    ).json()
    assert [e["event_id"] for e in page["entries"]] == [
        block.event(900_001 + k).event_id for k in range(PAGE)
    ]
    assert page["next_stream_position"] == encode_position(middle + PAGE)

    # From before the retention horizon, the page starts at the first event still kept.
    old = big.http.get(
        "/2.0/events",
        big.admin,
        stream_type="admin_logs_streaming",
        stream_position=encode_position(block.first_seq + 100_000),
        limit=1,
    ).json()
    kept = first_synthetic_at_or_after(block, tenant.now() - STREAMING_RETENTION)
    assert old["entries"][0]["event_id"] == block.event(kept).event_id

    log, options, now = tenant.events, tenant.event_options, tenant.now()
    spent = cpu_ms(
        lambda: served(log.stream_page(cursor=middle, limit=PAGE, types=None, now=now, options=options)[0])
    )
    assert spent < 50, f"{spent:.1f} ms of fake CPU for a page"


def test_pages_over_http_stay_quick(big: Big) -> None:
    now = big.box.tenant.now()
    window = {
        "stream_type": "admin_logs",
        "created_after": (now - timedelta(days=30)).isoformat(),
        "created_before": (now - timedelta(days=29)).isoformat(),
        "limit": PAGE,
    }
    position, elapsed = None, []
    for _ in range(8):
        started = time.perf_counter()
        query = window if position is None else {**window, "stream_position": position}
        response = big.http.get("/2.0/events", big.admin, **query)
        elapsed.append(time.perf_counter() - started)
        body = response.json()
        assert body["chunk_size"] == PAGE
        position = body["next_stream_position"]
    assert statistics.median(elapsed) < 0.25, elapsed  # round trip, both sides' JSON included
    assert len(json.dumps(body)) > 100_000
