"""WindowedRateLimiter against moto's DynamoDB, with a fake clock: no test sleeps in real time.

The table has the state table's key schema (template.yaml: `pk`/`sk` strings, TTL on
`expires_at`). UpdateItem calls are counted at botocore's level, independently of the limiter.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from boxcasb.errors import BoxRateLimited
from boxcasb.rate_limit import (
    ITEM_LIFETIME_SECONDS,
    Lane,
    RateLimiters,
    RateLimitExhausted,
    RateLimitSettings,
    WindowedRateLimiter,
)
from tests.support.moto_tables import pk_sk_table

KEY = "c0ffee00-0000-4000-8000-000000000001"
T0 = 1_800_000_000.0  # a window start (divisible by 10)


class FakeClock:
    """Epoch seconds that move only when a test (or the limiter's sleep) moves them."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with pk_sk_table(monkeypatch, "state", "expires_at") as created:
        yield created


@pytest.fixture
def update_items(table: Any) -> list[dict[str, Any]]:
    """The parameters of every UpdateItem call on the table (botocore's view, not the limiter's)."""
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def record(params: dict[str, Any], **_: Any) -> None:
        with lock:
            seen.append(dict(params))

    table.meta.client.meta.events.register("provide-client-params.dynamodb.UpdateItem", record)
    return seen


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def limiter(
    table: Any, clock: FakeClock, lane: Lane = "priority", key: str = KEY, **settings: Any
) -> WindowedRateLimiter:
    return WindowedRateLimiter(
        table, key, lane, RateLimitSettings(**settings), clock=clock, sleep=clock.sleep
    )


def used(table: Any, window_start: float, key: str = KEY, window_seconds: int = 10) -> int:
    item = table.get_item(
        Key={"pk": f"RATE#{key}", "sk": f"W#{int(window_start // window_seconds)}"}, ConsistentRead=True
    ).get("Item")
    return int(item["used"]) if item else 0


def drain(limiter_: WindowedRateLimiter) -> int:
    """Acquire until the limiter refuses (max_wait 0 makes it refuse instead of waiting)."""
    got = 0
    while True:
        try:
            limiter_.acquire()
        except RateLimitExhausted:
            return got
        got += 1


# --- settings --------------------------------------------------------------------------


def test_default_settings_stay_below_box_limit_in_any_sliding_minute() -> None:
    s = RateLimitSettings()
    assert (s.per_minute, s.window_seconds, s.chunk, s.reserve_fraction) == (800, 10, 25, 0.2)
    assert s.window_cap == 133
    assert s.lane_cap("priority") == 133
    assert s.lane_cap("bulk") == 106
    assert s.worst_minute == 133 * 7 == 931  # a sliding minute touches up to 7 windows of 10 s


@pytest.mark.parametrize(
    "values",
    [
        {"per_minute": 1001},
        {"per_minute": 1000},  # 166 per window x 7 windows in a sliding minute: 1162
        {"per_minute": 900, "window_seconds": 10},
        {"per_minute": 6, "window_seconds": 1},  # no token in a 1 s window
        {"per_minute": 60, "window_seconds": 10, "reserve_fraction": 0.95},  # bulk lane gets none
        {"reserve_fraction": 1.0},
        {"chunk": 0},
        {"max_wait_seconds": -1},
    ],
)
def test_settings_that_could_exceed_box_limit_or_starve_a_lane_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RateLimitSettings(**values)


def test_a_short_window_allows_a_budget_closer_to_box_limit() -> None:
    assert RateLimitSettings(per_minute=980, window_seconds=1).worst_minute == 16 * 61


# --- one worker ---------------------------------------------------------------------------


@pytest.mark.parametrize(("calls", "chunk"), [(1, 25), (25, 25), (26, 25), (60, 25), (100, 7)])
def test_n_calls_cost_ceil_n_over_chunk_writes(
    table: Any, clock: FakeClock, update_items: list[dict[str, Any]], calls: int, chunk: int
) -> None:
    clock.now = T0 + 3.5
    lim = limiter(table, clock, chunk=chunk)
    for _ in range(calls):
        lim.acquire()
    assert len(update_items) == math.ceil(calls / chunk)
    assert used(table, T0) == math.ceil(calls / chunk) * chunk
    assert lim.granted == calls
    assert clock.sleeps == []


def test_window_item_has_its_key_and_a_ttl_after_the_window(table: Any, clock: FakeClock) -> None:
    clock.now = T0 + 4
    limiter(table, clock).acquire()
    items = table.scan()["Items"]
    assert items == [
        {
            "pk": f"RATE#{KEY}",
            "sk": f"W#{int(T0) // 10}",
            "used": 25,
            "expires_at": int(T0) + 10 + ITEM_LIFETIME_SECONDS,
        }
    ]


def test_tokens_are_not_carried_into_the_next_window(
    table: Any, clock: FakeClock, update_items: list[dict[str, Any]]
) -> None:
    lim = limiter(table, clock)
    lim.acquire()  # takes 25, spends 1
    clock.now = T0 + 10  # next window: the 24 left lapse
    lim.acquire()
    assert len(update_items) == 2
    assert used(table, T0) == 25
    assert used(table, T0 + 10) == 25


def test_a_worker_takes_what_is_left_when_the_window_cannot_give_a_chunk(
    table: Any, clock: FakeClock, update_items: list[dict[str, Any]]
) -> None:
    other = limiter(table, clock, chunk=126)  # leaves 133 - 126 = 7
    other.acquire()
    lim = limiter(table, clock, max_wait_seconds=0)
    assert drain(lim) == 7
    # The other's chunk, then ours: a full chunk refused (with the item), then the 7 left,
    # which filled the window: no write to learn that.
    assert len(update_items) == 3
    assert update_items[1]["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    assert used(table, T0) == 133
    with pytest.raises(RateLimitExhausted):
        lim.acquire()
    assert len(update_items) == 3  # a spent window is remembered: no more writes in it


def test_waits_for_the_next_window_when_it_starts_within_max_wait(
    table: Any, clock: FakeClock, update_items: list[dict[str, Any]]
) -> None:
    clock.now = T0 + 2.5
    limiter(table, clock, chunk=133).acquire()  # someone spent the whole window
    lim = limiter(table, clock, max_wait_seconds=10)
    lim.acquire()
    assert clock.sleeps == [7.5]
    assert clock.now == T0 + 10
    assert used(table, T0 + 10) == 25


def test_raises_rate_limit_exhausted_with_retry_after_when_the_wait_is_too_long(
    table: Any, clock: FakeClock
) -> None:
    clock.now = T0 + 3
    limiter(table, clock, chunk=133).acquire()
    lim = limiter(table, clock, max_wait_seconds=5)
    with pytest.raises(RateLimitExhausted) as raised:
        lim.acquire()
    assert raised.value.retry_after_seconds == pytest.approx(7)
    assert isinstance(raised.value, BoxRateLimited)  # callers re-queue it like Box's own 429
    assert KEY in str(raised.value)
    assert clock.sleeps == []


def test_total_wait_is_bounded_by_max_wait(table: Any, clock: FakeClock) -> None:
    clock.now = T0 + 1
    hog = limiter(table, clock, chunk=133, max_wait_seconds=0)
    hog.acquire()
    clock.on_sleep = hog.acquire  # each new window is spent by another worker as it opens
    lim = limiter(table, clock, max_wait_seconds=15)
    with pytest.raises(RateLimitExhausted) as raised:
        lim.acquire()
    assert clock.sleeps == [9]  # waited once; a second wait (10 s) would pass 15 s in all
    assert raised.value.retry_after_seconds == pytest.approx(10)


def test_a_write_that_ends_in_the_next_window_spends_nothing_from_the_old_one(
    table: Any, clock: FakeClock, update_items: list[dict[str, Any]]
) -> None:
    clock.now = T0 + 9.999

    def slow_write(**_: Any) -> None:
        if len(update_items) == 1:
            clock.now = T0 + 10.001  # DynamoDB answered after the window closed

    table.meta.client.meta.events.register("after-call.dynamodb.UpdateItem", slow_write)
    lim = limiter(table, clock)
    lim.acquire()
    assert len(update_items) == 2
    assert used(table, T0) == 25  # taken, lapsed unspent
    assert used(table, T0 + 10) == 25
    assert lim.granted == 1


# --- lanes -------------------------------------------------------------------------------


def test_priority_still_gets_the_reserve_when_bulk_has_used_its_share(table: Any, clock: FakeClock) -> None:
    bulk = [limiter(table, clock, "bulk", max_wait_seconds=0) for _ in range(3)]
    assert sum(drain(b) for b in bulk) == 106
    assert used(table, T0) == 106
    priority = limiter(table, clock, "priority", max_wait_seconds=0)
    assert drain(priority) == 133 - 106
    assert used(table, T0) == 133


def test_bulk_cannot_take_what_priority_left_in_the_reserve(table: Any, clock: FakeClock) -> None:
    limiter(table, clock, "priority", chunk=120).acquire()  # priority alone took 120 of 133
    bulk = limiter(table, clock, "bulk", max_wait_seconds=0)
    assert drain(bulk) == 0  # 120 > 106: nothing for bulk, the rest stays for priority
    assert used(table, T0) == 120


def test_many_workers_interleaved_never_exceed_the_caps_of_any_window(table: Any, clock: FakeClock) -> None:
    rng = random.Random(7)
    settings = {"chunk": 9, "max_wait_seconds": 0}
    lanes: list[Lane] = ["bulk"] * 5 + ["priority"] * 3
    workers = [(lane, limiter(table, clock, lane, **settings)) for lane in lanes]
    granted: Counter[tuple[int, Lane]] = Counter()
    refused = 0
    for _ in range(6000):
        lane, worker = rng.choice(workers)
        try:
            worker.acquire()
        except RateLimitExhausted:
            refused += 1
        else:
            granted[(int(clock.now // 10), lane)] += 1
        clock.now += rng.uniform(0, 0.03)
    windows = sorted({w for w, _ in granted})
    assert len(windows) >= 8
    assert refused > 0  # demand exceeded the budget: the caps were really tested
    for w in windows:
        total = granted[(w, "bulk")] + granted[(w, "priority")]
        assert granted[(w, "bulk")] <= 106
        assert total <= 133
        assert total <= used(table, w * 10) <= 133
    full = [w for w in windows[:-1] if used(table, w * 10) >= 133 - 9]
    assert len(full) >= len(windows) - 2  # the budget was not just under-used


def test_limiters_are_kept_per_connection_and_lane(table: Any, clock: FakeClock) -> None:
    limiter_for = RateLimiters(table, RateLimitSettings(), clock=clock, sleep=clock.sleep)
    first = limiter_for(KEY, "bulk")
    assert limiter_for(KEY, "bulk") is first
    assert limiter_for(KEY, "priority") is not first
    assert limiter_for("another", "bulk") is not first
    first.acquire()
    limiter_for(KEY, "bulk").acquire()  # the same chunk serves the next invocation
    assert used(table, T0) == 25


def test_dynamodb_failures_fail_closed(table: Any, clock: FakeClock) -> None:
    gone = boto3.resource("dynamodb", region_name="us-east-1").Table("no-such-table")
    with pytest.raises(ClientError, match="ResourceNotFound"):
        limiter(gone, clock).acquire()


# --- real threads --------------------------------------------------------------------------


class AtomicUpdates:
    """The table with each UpdateItem under one lock.

    DynamoDB checks a condition and writes as one atomic step; moto's in-process backend does
    not (check, then write, no lock), so threads could both pass one condition. This lock
    gives the test DynamoDB's guarantee, like devstack's AtomicDynamoDB does for server mode.
    """

    def __init__(self, table: Any) -> None:
        self._table = table
        self._lock = threading.Lock()

    def update_item(self, **kwargs: Any) -> Any:
        with self._lock:
            return self._table.update_item(**kwargs)


def test_threads_sharing_a_connection_never_exceed_the_cap(table: Any, clock: FakeClock) -> None:
    atomic = AtomicUpdates(table)
    settings = RateLimitSettings(chunk=4, max_wait_seconds=0)
    for window in range(3):
        clock.now = T0 + 10 * window + 1
        lanes: list[Lane] = ["bulk", "priority"] * 4
        workers = [WindowedRateLimiter(atomic, KEY, lane, settings, clock=clock) for lane in lanes]  # type: ignore[arg-type]
        start = threading.Barrier(len(workers))

        def run(worker: WindowedRateLimiter, start: threading.Barrier = start) -> int:
            start.wait()
            return drain(worker)

        with ThreadPoolExecutor(len(workers)) as pool:
            counts = list(pool.map(run, workers))
        in_store = used(table, clock.now)
        assert sum(counts) == in_store  # every token taken was handed out (each worker drained)
        assert in_store <= 133
        assert sum(c for c, lane in zip(counts, lanes, strict=True) if lane == "bulk") <= 106
        assert in_store >= 133 - 4 * len(workers)  # and the window was really filled
