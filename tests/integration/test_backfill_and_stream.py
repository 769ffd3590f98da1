"""Backfill and stream logic on the local stack's real tables, with a scripted Box event source.

The source is in memory so each case controls exactly what Box returns: events on window
boundaries, a crash after a chosen page, duplicates and reordering in the stream, 429s.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr

from boxcasb.activity.backfill import BackfillMessage, BackfillService, BackfillSettings, WindowOutcome
from boxcasb.activity.classify import ScanRequest
from boxcasb.activity.ingest import Ingestor
from boxcasb.activity.model import EventPage
from boxcasb.activity.progress import IngestionStatus
from boxcasb.activity.stream import PollReport, StreamPoller
from boxcasb.backoff import MAX_UNAVAILABLE
from boxcasb.errors import BoxAccessDenied, BoxRateLimited, BoxUnavailable
from boxcasb.models import Connection, ConnectionStatus
from boxcasb.wiring import services

CONNECTED_AT = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
SPAN_START = CONNECTED_AT - timedelta(days=60)
POSITION_BASE = 2**60  # positions above 2^53, as Box's are


def event(created_at: datetime, event_type: str = "UPLOAD", item_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "event",
        "event_id": uuid.uuid4().hex,
        "event_type": event_type,
        "created_at": created_at.isoformat(),
        "created_by": {"type": "user", "id": "1001", "login": "admin@acme.example"},
        "source": {
            "item_type": "file",
            "item_id": item_id or str(random.randint(1, 10**9)),
            "item_name": "f",
        },
        "ip_address": "198.51.100.9",
    }


@dataclass
class ScriptedBox:
    """admin_logs (inclusive time bounds, chronological, pages of `limit`) and a streaming log."""

    history: list[dict[str, Any]]
    stream: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[Exception | None] = field(default_factory=list)
    storm: float = 0.0  # share of reads that fail with a random 429 or 5xx
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    failures: int = 0
    positions_seen: list[str] = field(default_factory=list)
    now: datetime = CONNECTED_AT + timedelta(seconds=5)

    def read_events(
        self,
        stream_type: str,
        stream_position: str | None,
        *,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 500,
    ) -> EventPage:
        if self.fail_next:
            failure = self.fail_next.pop(0)
            if failure is not None:  # None: this read succeeds, the next one fails
                raise failure
        if self.storm and self.rng.random() < self.storm:
            self.failures += 1
            if self.rng.random() < 0.5:
                raise BoxRateLimited("429", self.rng.choice([1.0, 30.0, 100.0, 2000.0]))
            raise BoxUnavailable("Box answered 503")
        if stream_position is not None:
            self.positions_seen.append(stream_position)
        if stream_type == "admin_logs_streaming":
            if stream_position == "now":
                return EventPage(entries=[], next_stream_position=POSITION_BASE + len(self.stream))
            offset = int(stream_position or POSITION_BASE) - POSITION_BASE
            page = self.stream[offset : offset + limit]
            return EventPage(entries=page, next_stream_position=POSITION_BASE + offset + len(page))
        assert created_after is not None
        assert created_before is not None
        window = sorted(
            (
                e
                for e in self.history
                if created_after <= datetime.fromisoformat(e["created_at"]) <= created_before
            ),
            key=lambda e: e["created_at"],
        )
        offset = int(stream_position or 0)
        page = window[offset : offset + limit]
        return EventPage(entries=page, next_stream_position=offset + len(page))


@dataclass
class RecordingScans:
    requests: list[ScanRequest] = field(default_factory=list)

    def enqueue(self, connection_id: str, requests: Sequence[ScanRequest], origin: str) -> int:
        self.requests.extend(requests)
        return len(requests)


@dataclass
class ListQueue:
    sent: list[tuple[BackfillMessage, int]] = field(default_factory=list)

    def send(self, messages: list[BackfillMessage], delay_seconds: int = 0) -> None:
        self.sent.extend((m, delay_seconds) for m in messages)


@dataclass
class Harness:
    connection_id: str
    box: ScriptedBox
    queue: ListQueue
    scans: RecordingScans
    backfill: BackfillService
    poller: StreamPoller

    def drain(self, max_rounds: int = 1000, seconds_left: float = 600.0) -> list[str]:
        outcomes = []
        for _ in range(max_rounds):
            if not self.queue.sent:
                return outcomes
            message, _delay = self.queue.sent.pop(0)
            try:
                outcomes.append(self.backfill.handle(message, lambda: seconds_left))
            except BoxUnavailable:
                self.queue.sent.append((message, 0))  # the record fails; SQS delivers it again
                outcomes.append("redelivered")
        raise AssertionError("backfill did not settle")


def harness(box: ScriptedBox, window: timedelta = timedelta(days=7)) -> Harness:
    svc = services()
    cid = str(uuid.uuid4())
    # The backfill drops messages of a connection that does not exist. Pending, so the shared
    # stack's scheduled functions (which act on connected ones) leave it alone.
    svc.store.create_connection(
        Connection(
            connection_id=cid,
            status=ConnectionStatus.PENDING,
            created_at=CONNECTED_AT,
            updated_at=CONNECTED_AT,
            connected_at=CONNECTED_AT,
        )
    )
    scans, queue = RecordingScans(), ListQueue()
    ingestor = Ingestor(svc.activity_store, scans)
    backfill = BackfillService(
        svc.store,
        ingestor,
        queue,
        lambda _cid: box,
        BackfillSettings(days=60, window=window, settle=timedelta(0)),
        clock=lambda: box.now,
    )
    poller = StreamPoller(
        svc.store, ingestor, lambda _cid: box, lambda _cid, _at: False, clock=lambda: box.now
    )
    return Harness(cid, box, queue, scans, backfill, poller)


def stored(connection_id: str) -> list[str]:
    table = services().activity_store._table
    items, kwargs = [], {"FilterExpression": Attr("pk").begins_with(connection_id + "#")}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return [str(i["sk"]).split("#", 1)[1] for i in items]  # sk = <created_at>#<event_id>
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def ninety_days(count: int = 1200) -> list[dict[str, Any]]:
    start = CONNECTED_AT - timedelta(days=90)
    events = [event(start + timedelta(seconds=random.randint(0, 90 * 86400 - 1))) for _ in range(count)]
    # On every boundary that matters: the span's start (in), the connection time (in, since the
    # span ends when the stream position is taken, a few seconds later), and window edges.
    edges = [SPAN_START, SPAN_START - timedelta(seconds=1), CONNECTED_AT]
    edges += [SPAN_START + timedelta(days=7 * k) for k in range(1, 9)]
    return events + [event(t) for t in edges]


def expected_ids(history: list[dict[str, Any]], end: datetime) -> set[str]:
    return {e["event_id"] for e in history if SPAN_START <= datetime.fromisoformat(e["created_at"]) < end}


def test_exactly_the_60_day_span_is_stored_once(stack: Any) -> None:
    box = ScriptedBox(history=ninety_days())
    h = harness(box)
    h.backfill.plan(h.connection_id, CONNECTED_AT)
    outcomes = h.drain()
    assert outcomes.count("done") == 9  # 60 days + 5 s in 7-day windows
    ids = stored(h.connection_id)
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(box.history, box.now)
    progress = services().store.backfill_progress(h.connection_id)
    assert progress is not None
    assert progress.status is IngestionStatus.FINISHED
    assert progress.events_stored == len(ids)
    assert progress.oldest_event == SPAN_START
    assert progress.span_end == box.now


def test_a_crash_after_any_page_resumes_without_gap_or_duplicate(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = ScriptedBox(history=ninety_days(3000))
    h = harness(box, window=timedelta(days=60, seconds=5))  # one window, several 500-event pages
    h.backfill.plan(h.connection_id, CONNECTED_AT)
    crash_after = random.randint(1, 3)
    real = services().store.advance_window
    calls = {"n": 0}

    def crashing_checkpoint(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == crash_after + 1:
            raise RuntimeError("Lambda died after storing a page, before its checkpoint")
        return real(*args, **kwargs)

    monkeypatch.setattr(services().store, "advance_window", crashing_checkpoint)
    message, _ = h.queue.sent.pop(0)
    with pytest.raises(RuntimeError, match="Lambda died"):
        h.backfill.handle(message, lambda: 600.0)
    monkeypatch.undo()
    h.queue.sent.insert(0, (message, 0))  # SQS redelivers the message
    assert h.drain() == ["done"]
    ids = stored(h.connection_id)
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(box.history, box.now)
    progress = services().store.backfill_progress(h.connection_id)
    assert progress is not None
    assert progress.events_stored == len(ids)  # the replayed page was not counted twice


def test_out_of_time_and_rate_limits_requeue_and_lose_nothing(stack: Any) -> None:
    box = ScriptedBox(history=ninety_days(2000))
    h = harness(box, window=timedelta(days=60, seconds=5))
    h.backfill.plan(h.connection_id, CONNECTED_AT)
    message, _ = h.queue.sent.pop(0)
    assert h.backfill.handle(message, lambda: 5.0) == WindowOutcome.CONTINUE.value  # under the reserve
    assert h.queue.sent[-1] == (message, 0)
    box.fail_next = [BoxRateLimited("429", 120.0), BoxRateLimited("429", 5000.0)]
    h.queue.sent.clear()
    assert h.backfill.handle(message, lambda: 600.0) == WindowOutcome.RETRY_LATER.value
    assert h.queue.sent == [(message, 120)]
    h.queue.sent.clear()
    assert h.backfill.handle(message, lambda: 600.0) == WindowOutcome.RETRY_LATER.value
    assert h.queue.sent == [(message, 900)]  # SQS's longest delay
    assert h.drain() == ["done"]
    assert set(stored(h.connection_id)) == expected_ids(box.history, box.now)


def test_box_errors_put_the_message_back_later_each_time_then_fail_it(stack: Any) -> None:
    box = ScriptedBox(history=ninety_days(1200))
    h = harness(box, window=timedelta(days=60, seconds=5))
    box.fail_next = [BoxUnavailable("Box answered 503")]
    h.backfill.handle(
        BackfillMessage(kind="plan", connection_id=h.connection_id, connected_at=CONNECTED_AT), lambda: 600.0
    )
    ((plan, delay),) = h.queue.sent
    assert (plan.kind, plan.unavailable) == ("plan", 1)
    assert 1 <= delay <= 5
    h.queue.sent.clear()
    assert h.backfill.handle(plan, lambda: 600.0) == "planned"
    window, _ = h.queue.sent.pop(0)
    assert window.unavailable == 0
    for attempt in range(MAX_UNAVAILABLE):
        box.fail_next = [BoxUnavailable("Box answered 503")]
        assert h.backfill.handle(window, lambda: 600.0) == WindowOutcome.UNAVAILABLE.value
        ((window, delay),) = h.queue.sent
        h.queue.sent.clear()
        assert window.unavailable == attempt + 1
        assert 1 <= delay <= min(300, 5 * 2**attempt)
    box.fail_next = [BoxUnavailable("Box answered 503")]
    with pytest.raises(BoxUnavailable, match="puts-back"):
        h.backfill.handle(window, lambda: 600.0)  # the record fails: SQS's retries, then the DLQ
    assert h.queue.sent == []
    # A page read before the failure starts the count again: a long window in a storm still ends.
    box.fail_next = [None, BoxUnavailable("Box answered 503")]
    assert h.backfill.handle(window, lambda: 600.0) == WindowOutcome.UNAVAILABLE.value
    ((window, _),) = h.queue.sent
    assert window.unavailable == 1
    h.queue.sent.clear()
    h.queue.sent.append((window, 0))
    assert h.drain() == ["done"]
    assert set(stored(h.connection_id)) == expected_ids(box.history, box.now)


def test_missing_permission_stops_with_a_reason_instead_of_retrying(stack: Any) -> None:
    box = ScriptedBox(history=ninety_days(100))
    h = harness(box)
    h.backfill.plan(h.connection_id, CONNECTED_AT)
    box.fail_next = [BoxAccessDenied("Box answered 403 (access_denied_insufficient_permissions)")]
    first, _ = h.queue.sent.pop(0)
    assert h.backfill.handle(first, lambda: 600.0) == WindowOutcome.STOPPED.value
    progress = services().store.backfill_progress(h.connection_id)
    assert progress is not None
    assert progress.status is IngestionStatus.STOPPED
    assert "403" in (progress.reason or "")
    assert (first, 0) not in h.queue.sent


def test_stream_dedupes_repeats_and_reordering_and_keeps_the_position_exact(stack: Any) -> None:
    box = ScriptedBox(history=[])
    h = harness(box)
    h.backfill.plan(h.connection_id, CONNECTED_AT)
    h.drain()
    fresh = [event(box.now + timedelta(seconds=i)) for i in range(700)]
    late = [event(CONNECTED_AT - timedelta(hours=3)) for _ in range(5)]  # created earlier, arrive now
    stream = fresh[:400] + late + fresh[350:700] + fresh[:50]  # overlaps and repeats
    box.stream = stream
    checkpoint = services().store.get_stream(h.connection_id)
    assert checkpoint is not None
    # Drive this connection directly (it has no connection record), as poll_all does for each.
    h.poller._poll(h.connection_id, checkpoint, lambda: 60.0, PollReport())
    ids = stored(h.connection_id)
    assert len(ids) == len(set(ids))
    assert set(ids) == {e["event_id"] for e in fresh + late}
    final = services().store.get_stream(h.connection_id)
    assert final is not None
    assert final.position == str(POSITION_BASE + len(stream))  # exact, above 2^53
    # Each read resumed from exactly the position the previous page returned: no float rounding.
    streaming = [int(p) - POSITION_BASE for p in box.positions_seen if p != "now" and int(p) >= POSITION_BASE]
    assert streaming == [*range(0, len(stream), 500), len(stream)]


def test_a_page_read_ahead_and_not_stored_is_read_again_by_the_next_run(stack: Any) -> None:
    box = ScriptedBox(history=[])
    h = harness(box)
    h.backfill.plan(h.connection_id, CONNECTED_AT)
    h.drain()
    box.stream = [event(box.now + timedelta(seconds=i)) for i in range(1200)]
    box.positions_seen.clear()
    checkpoint = services().store.get_stream(h.connection_id)
    assert checkpoint is not None
    clock = iter([60.0, 60.0, 5.0])  # out of time after two pages, with the third read ahead
    h.poller._poll(h.connection_id, checkpoint, lambda: next(clock), PollReport())
    after_first = services().store.get_stream(h.connection_id)
    assert after_first is not None
    assert after_first.position == str(POSITION_BASE + 1000)  # only stored pages move it
    assert len(stored(h.connection_id)) == 1000
    assert [int(p) - POSITION_BASE for p in box.positions_seen] == [0, 500, 1000]  # the third, ahead
    h.poller._poll(h.connection_id, after_first, lambda: 60.0, PollReport())
    ids = stored(h.connection_id)
    assert sorted(ids) == sorted(e["event_id"] for e in box.stream)
    assert [int(p) - POSITION_BASE for p in box.positions_seen][3:] == [1000, 1200]


def test_backfill_and_stream_overlap_instead_of_leaving_a_gap(stack: Any) -> None:
    before = [event(CONNECTED_AT - timedelta(minutes=m)) for m in (1, 2, 3)]
    after_position = [event(CONNECTED_AT + timedelta(seconds=7)) for _ in range(3)]
    box = ScriptedBox(history=before)
    h = harness(box)
    h.backfill.plan(h.connection_id, CONNECTED_AT)  # takes the stream position first
    # Events arrive while the backfill runs: in the stream, and (created before the span's end) one
    # also shows up in admin_logs.
    box.stream = [*after_position, before[0]]
    h.drain()
    checkpoint = services().store.get_stream(h.connection_id)
    assert checkpoint is not None
    h.poller._poll(h.connection_id, checkpoint, lambda: 60.0, PollReport())
    ids = stored(h.connection_id)
    assert len(ids) == len(set(ids))
    assert set(ids) == {e["event_id"] for e in before + after_position}


def test_live_content_changes_are_queued_once_per_item_and_views_and_history_never(stack: Any) -> None:
    t = CONNECTED_AT - timedelta(days=1)
    history = [
        event(t, "UPLOAD", item_id="100"),
        event(t + timedelta(seconds=1), "EDIT", item_id="100"),
        event(t + timedelta(seconds=2), "PREVIEW", item_id="200"),
        event(t + timedelta(seconds=3), "DOWNLOAD", item_id="300"),
        event(t + timedelta(seconds=4), "SHARE", item_id="300"),
        event(t + timedelta(seconds=5), "LOGIN", item_id="400"),
    ]
    h = harness(ScriptedBox(history=history))
    h.backfill.plan(h.connection_id, CONNECTED_AT)
    h.drain()
    assert h.scans.requests == []  # history: the first full scan sees these files as they are now
    h.box.stream.extend(history)  # the same changes, live
    checkpoint = services().store.get_stream(h.connection_id)
    assert checkpoint is not None
    h.poller._poll(h.connection_id, checkpoint, lambda: 60.0, PollReport())
    assert sorted((r.item_id, r.reason) for r in h.scans.requests) == [("100", "UPLOAD"), ("300", "SHARE")]


def test_a_storm_of_429s_and_5xx_loses_and_doubles_nothing(stack: Any) -> None:
    box = ScriptedBox(history=ninety_days(1500), storm=0.35)
    h = harness(box, window=timedelta(days=10))
    box.storm = 0.0  # the plan itself succeeds; the storm hits the window reads
    h.backfill.plan(h.connection_id, CONNECTED_AT)
    box.storm = 0.35
    outcomes = h.drain(max_rounds=5000)
    assert box.failures >= 5
    assert "retry_later" in outcomes
    assert "unavailable" in outcomes
    assert outcomes.count("done") == 7
    ids = stored(h.connection_id)
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(box.history, box.now)
    progress = services().store.backfill_progress(h.connection_id)
    assert progress is not None
    assert progress.status is IngestionStatus.FINISHED
    assert progress.events_stored == len(ids)


@pytest.mark.parametrize("kind", ["plan", "resume", "window"])
def test_a_message_for_an_unknown_connection_writes_nothing(stack: Any, kind: str) -> None:
    # Found by fuzzing: a well-formed plan for a connection that never existed wrote a STOPPED
    # backfill item (the token read failed as ReconnectRequired, which plan() records).
    box = ScriptedBox(history=ninety_days(10))
    h = harness(box)
    forged = str(uuid.uuid4())
    message = BackfillMessage(
        kind=kind,
        connection_id=forged,
        connected_at=CONNECTED_AT if kind != "window" else None,
        window_start=SPAN_START if kind == "window" else None,
    )
    assert h.backfill.handle(message, lambda: 600.0) == "unknown connection"
    assert services().store.get_backfill(forged) is None
    assert services().store.get_stream(forged) is None
    assert h.queue.sent == []
    assert box.positions_seen == []  # Box was never asked
