"""until_processed: DynamoDB's leftovers sent again, with backoff, and a bound."""

from __future__ import annotations

from typing import Any

import pytest

from boxcasb import state_store
from boxcasb.state_store import until_processed


def test_leftovers_are_sent_again_until_none_remain(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(state_store.time, "sleep", slept.append)
    sent: list[dict[str, Any]] = []
    answers = iter([{"UnprocessedKeys": {"t": ["b", "c"]}}, {"UnprocessedKeys": {"t": ["c"]}}, {}])

    def send(RequestItems: dict[str, Any]) -> dict[str, Any]:
        sent.append(RequestItems)
        return next(answers)

    assert len(list(until_processed(send, {"t": ["a", "b", "c"]}, "UnprocessedKeys"))) == 3
    assert sent == [{"t": ["a", "b", "c"]}, {"t": ["b", "c"]}, {"t": ["c"]}]
    assert slept == [0.05, 0.1]


def test_eight_answers_with_leftovers_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_store.time, "sleep", lambda _s: None)
    calls = []

    def send(RequestItems: dict[str, Any]) -> dict[str, Any]:
        calls.append(RequestItems)
        return {"UnprocessedItems": RequestItems}

    with pytest.raises(RuntimeError, match="UnprocessedItems after 8 attempts"):
        list(until_processed(send, {"t": ["x"]}, "UnprocessedItems"))
    assert len(calls) == 8
