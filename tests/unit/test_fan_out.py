"""fan_out: side by side, in order, nothing left running, no deadlock when nested."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from boxcasb.fan_out import WIDTH, side_by_side

REQUEST = contextvars.ContextVar[str]("request", default="none")


def test_results_come_back_in_the_calls_order_from_calls_run_at_the_same_time() -> None:
    barrier = threading.Barrier(4, timeout=5)  # passes only if four calls run at once

    def call(n: int) -> int:
        barrier.wait()
        time.sleep(0.01 * (4 - n))  # the first call ends last
        return n

    assert side_by_side([lambda n=n: call(n) for n in range(4)]) == [0, 1, 2, 3]


def test_a_failure_is_raised_only_after_every_call_has_ended() -> None:
    ended: list[int] = []

    def slow(n: int) -> int:
        time.sleep(0.2)
        ended.append(n)
        return n

    def failing() -> int:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        side_by_side([failing, lambda: slow(1), lambda: slow(2)])
    assert sorted(ended) == [1, 2]  # nothing runs on after the caller has its answer


def test_calls_on_the_pool_run_their_parts_in_turn_so_a_full_pool_cannot_deadlock() -> None:
    def outer(n: int) -> list[int]:
        return side_by_side([lambda: n, lambda: n + 100])

    # More outer calls than threads, each fanning out again: inline, not queued behind itself.
    results = side_by_side([lambda n=n: outer(n) for n in range(WIDTH * 2)])
    assert results == [[n, n + 100] for n in range(WIDTH * 2)]


def test_each_call_sees_the_callers_context() -> None:
    REQUEST.set("invocation-42")
    seen = side_by_side([REQUEST.get, REQUEST.get, lambda: threading.current_thread().name])
    assert seen[:2] == ["invocation-42", "invocation-42"]
    assert seen[2].startswith("boxcasb-fan-out")
