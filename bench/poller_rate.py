"""Event poller rate: a live enterprise event stream at R events a second, read by the real poller.

An admin connects to the fake Box (a synthetic tenant of U users, 20 files each, no history) and
the backfill plan stores the stream position "now", as after a real connection. Then a thread
records R events a second into the fake's log for D seconds, each at the moment it happens
(`Tenant.add_event_like`, the history's mix of types, actors and items:
`history.event_templates`), and the activity poller (the real handler, with its schedule's event)
reads `admin_logs_streaming` from the stored position. Measured:

- produced vs stored: every event read back through the admin API exactly once;
- lag per event, from the moment the fake recorded it to the answer of the BatchWriteItem that
  stored it (a botocore hook on the handlers' session), over the stream and by tenth of it, and
  its trend (seconds of lag gained per second of stream): bounded, or growing;
- the sustained ingest rate while the stream runs, and how long catching up takes after it;
- Box calls (the fake's request log) and DynamoDB and SQS requests (a botocore `before-call`
  hook, as bench.scan_generation counts them) per event;
- CPU by thread and where the poller's thread spends its wall clock (bench.activity_ingest's
  sampler): moto, botocore, our code, the fake Box.

How the poller is invoked: back to back by default (`--every 0`), each run starting when the last
ends, the fastest its design allows (one run at a time per connection: a second one would find
the position moved and stop). This measures what one poller can ingest and the lag of ingestion
itself. On its schedule (`--every 60`, the template's rate(1 minute)) each run reads what the last
minute brought: lag then adds up to a minute by design, and it keeps up if a run ingests a
minute of events within the 45 s its timeout leaves (55 s, less the 10 s reserve).

The SQS event sources are off, so the poller is measured alone (in AWS the priority scans and the
backfill run in their own Lambdas): the backfill windows stay queued, and a bench thread takes
the priority messages off their queue as they come (receive and delete, no scan), since moto's
cost per FIFO send grows with the queue's length where SQS's does not (see
bench.webhook_burst.count_queues_cheaply, applied here too). moto, the fake Box and the poller
share this process and its GIL: the rate is a floor for our code plus moto.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from bench import emit
from bench.activity_ingest import Sampler, _json_body, thread_component
from bench.scan_generation import _count_requests, apply_policies, generic_path
from bench.webhook_burst import activity_ids, count_queues_cheaply
from bench.webhook_intake import _percentiles
from devstack.browser import consent
from devstack.fake_box import FakeBox
from devstack.fake_box.history import event_templates
from devstack.fake_box.recorder import RecordedRequest
from devstack.fake_box.synthetic import ADMIN_LOGIN, synthetic_tenant
from devstack.fake_box.tenant import Tenant
from devstack.schedules import rate_seconds
from devstack.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID, CLIENT_SECRET = "bench-client-id", "bench-client-secret"
DEFAULT_RATE = 1000
DEFAULT_SECONDS = 60
MAKE_BENCH_SECONDS = 10  # what `python -m bench` runs
# An enterprise making 1,000 events a second has thousands of users; with a handful, the activity
# rules' count windows would fill at once and their writes stop (boxcasb/activity_rules/state.py).
DEFAULT_USERS = 1000
FILES_PER_USER = 20
POLLER = "ActivityPollerFunction"
PARAMETERS = {"LogLevel": "WARNING", "BackfillSettleSeconds": "0", "ScanAfterApiTest": "false"}
POLLER_THREAD, PRODUCER_THREAD, SINK_THREAD = "poller-runs", "fake-box-live-stream", "priority-sink"
TICK_SECONDS = 0.01  # the producer records what is due every tick
GROWING = 0.05  # seconds of lag gained per second of stream above which the poller falls behind


# --- the fake Box's live stream --------------------------------------------------------------------


class LiveStream(threading.Thread):
    """`rate` events a second for `seconds`, recorded in the fake's log at the moment they happen."""

    def __init__(self, tenant: Tenant, rate: int, seconds: float, seed: int) -> None:
        super().__init__(name=PRODUCER_THREAD, daemon=True)
        self._tenant = tenant
        self._rate = rate
        self._total = round(rate * seconds)
        self._templates = event_templates(tenant, seed)
        self._rng = random.Random(seed)
        self.created: dict[str, float] = {}  # event id -> when it was recorded (time.time())
        self.started = 0.0
        self.ended = 0.0

    def run(self) -> None:
        self.started = time.time()
        produced = 0
        while produced < self._total:
            now = time.time()
            due = min(self._total, int((now - self.started) * self._rate))
            if due > produced:
                moment = datetime.fromtimestamp(now, UTC)
                with self._tenant.lock:
                    for _ in range(due - produced):
                        template = self._rng.choice(self._templates)
                        event = self._tenant.add_event_like(template, created_at=moment, notify=False)
                        self.created[event.event_id] = now
                produced = due
            time.sleep(TICK_SECONDS)
        self.ended = time.time()


class PrioritySink(threading.Thread):
    """Takes the priority messages off their queue as they come, as the priority workers would."""

    def __init__(self, stack: LocalStack) -> None:
        super().__init__(name=SINK_THREAD, daemon=True)
        self._sqs = stack.client("sqs")
        self._url = stack.env["PRIORITY_SCAN_QUEUE_URL"]
        self._stop = threading.Event()
        self.taken = 0

    def run(self) -> None:
        while not self._stop.is_set():
            messages = self._sqs.receive_message(
                QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if messages:
                self._sqs.delete_message_batch(
                    QueueUrl=self._url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )
                self.taken += len(messages)

    def stop(self) -> None:
        self._stop.set()
        self.join()


# --- when each event was stored --------------------------------------------------------------------


class StoredAt:
    """When each event's item was written: the answer to the BatchWriteItem that carried it."""

    def __init__(self, table_name: str) -> None:
        self._table = table_name
        self._lock = threading.Lock()
        self.at: dict[str, float] = {}  # event id -> first successful write (time.time())
        self.items_written = 0  # every write, repeated ones included

    def attach(self, events: Any) -> None:
        events.register("before-call.dynamodb.BatchWriteItem", self._before)
        events.register("after-call.dynamodb.BatchWriteItem", self._after)

    def _before(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        requests = _json_body(params).get("RequestItems", {}).get(self._table, [])
        context["bench_event_ids"] = [
            _event_id(r["PutRequest"]["Item"]) for r in requests if "PutRequest" in r
        ]

    def _after(self, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        ids = context.pop("bench_event_ids", None)
        if not ids:
            return
        now = time.time()
        left = parsed.get("UnprocessedItems", {}).get(self._table, [])  # resent by the batch writer
        unprocessed = {_event_id(r["PutRequest"]["Item"]) for r in left if "PutRequest" in r}
        with self._lock:
            for event_id in ids:
                if event_id not in unprocessed:
                    self.at.setdefault(event_id, now)
                    self.items_written += 1

    def count_of(self, ids: Iterable[str]) -> int:
        with self._lock:
            return sum(1 for event_id in ids if event_id in self.at)


def _event_id(item: Mapping[str, Any]) -> str:
    """The event id in an activity item's sort key, `<created_at>#<event id>` (boxcasb.activity.store)."""
    return str(item["sk"]["S"]).split("#", 1)[1]


class RequestTimes:
    """Wall time of each AWS request the poller's thread makes, by operation (botocore's own clock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds: Counter[str] = Counter()
        self.count: Counter[str] = Counter()

    def attach(self, events: Any) -> None:
        events.register("before-call", self._before)
        events.register("after-call", self._after)

    def _before(self, context: dict[str, Any], **_: Any) -> None:
        if threading.current_thread().name == POLLER_THREAD:
            context["bench_started"] = time.perf_counter()

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        started = context.pop("bench_started", None)
        if started is None:
            return
        key = f"{model.service_model.service_name}.{model.name}"
        with self._lock:
            self.seconds[key] += time.perf_counter() - started
            self.count[key] += 1

    def report(self, events: int) -> dict[str, dict[str, float]]:
        return {
            key: {
                "per_event": round(self.count[key] / max(1, events), 4),
                "mean_ms": round(self.seconds[key] / self.count[key] * 1000, 1),
                "ms_per_event": round(self.seconds[key] / max(1, events) * 1000, 2),
            }
            for key, _ in self.seconds.most_common()
        }


# --- the poller's runs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    started: float  # time.time()
    seconds: float
    pages: int
    events: int
    error: str | None = None


class PollerRuns(threading.Thread):
    """The real handler with its schedule's event: back to back (every 0), or every `every` seconds."""

    def __init__(self, stack: LocalStack, every: float) -> None:
        super().__init__(name=POLLER_THREAD, daemon=True)
        self._stack = stack
        self._every = every
        self._stop = threading.Event()
        self.runs: list[Run] = []

    def run(self) -> None:
        due = time.monotonic() + self._every
        while not self._stop.is_set():
            if self._every and self._stop.wait(max(0.0, due - time.monotonic())):
                return
            due += self._every  # a run longer than the period delays the next one (one at a time here)
            started, clock = time.time(), time.monotonic()
            try:
                report = self._stack.run_schedule(POLLER)
            except Exception as exc:  # reported with the run: the benchmark goes on
                self.runs.append(Run(started, time.monotonic() - clock, 0, 0, f"{type(exc).__name__}: {exc}"))
                continue
            self.runs.append(
                Run(started, time.monotonic() - clock, int(report["pages"]), int(report["events"]))
            )

    def stop(self) -> None:
        self._stop.set()
        self.join()


class PollerSampler(Sampler):
    """activity_ingest's sampler, pointed at the poller's thread, with the producer named."""

    def worker(self) -> threading.Thread | None:
        return next((t for t in threading.enumerate() if t.name == POLLER_THREAD), None)

    def component(self, thread: threading.Thread, frame: FrameType | None) -> str:
        if thread.name == POLLER_THREAD:
            return "poller thread (the handler)"
        if thread.name == PRODUCER_THREAD:
            return "fake Box: live stream producer"
        if thread.name == SINK_THREAD:
            return "priority queue sink (this benchmark)"
        return thread_component(thread, frame)


# --- one run ------------------------------------------------------------------------------------------


def start_stream(stack: LocalStack, api: Any) -> str:
    """The admin connects; the backfill's plan stores the stream position "now" (its windows stay queued)."""
    from boxcasb.wiring import services

    begun = api.request("POST", "/connections", {})
    consent(begun["authorize_url"], ADMIN_LOGIN)
    stack.wait_for_async(timeout=300)  # the Test API
    connection_id = str(begun["connection_id"])
    connected_at = services().store.get_connection(connection_id).connected_at
    assert connected_at is not None
    services().backfill().plan(connection_id, connected_at)  # what the backfill worker does first
    return connection_id


def schedule_period(stack: LocalStack) -> float:
    (schedule,) = [s for s in stack.template.schedules if s.function_id == POLLER]
    period = rate_seconds(str(schedule.expression))
    assert period is not None
    return period


@dataclass
class Measured:
    rate: int
    seconds: float
    users: int
    every: float
    policies: str
    period: float  # the template's schedule
    connection_id: str
    stream: LiveStream
    stored: StoredAt
    taken_by_the_sink: int
    times: RequestTimes
    runs: list[Run]
    caught_up: bool
    listed: Counter[str]
    calls: Counter[tuple[str, str]]
    items: Counter[tuple[str, str]]
    box_requests: list[RecordedRequest]
    sampler: PollerSampler
    cpu: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def measure(
    rate: int, seconds: float, users: int, every: float, policies: str, catch_up_timeout: float, seed: int
) -> Measured:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    count_queues_cheaply()
    load_before = os.getloadavg()
    tenant = synthetic_tenant(files=users * FILES_PER_USER, users=users, seed=seed)
    with (
        FakeBox(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            port=0,
            history=False,
            tenant_factory=lambda: tenant,
        ) as box,
        LocalStack(
            template=str(ROOT / "template.yaml"),
            box_base_url=box.url,
            box_client_id=CLIENT_ID,
            box_client_secret=CLIENT_SECRET,
            parameter_overrides=PARAMETERS,
            poll_queues=False,
        ) as stack,
    ):
        import boto3

        handlers, _ = _count_requests(stack)
        stored = StoredAt(stack.env["ACTIVITY_TABLE_NAME"])
        assert boto3.DEFAULT_SESSION is not None
        session_events = boto3.DEFAULT_SESSION.events
        stored.attach(session_events)
        session_events.register("before-call.sns", handlers._other)  # alerts' notifications, if any
        times = RequestTimes()
        times.attach(session_events)
        api = stack.admin_api()
        connection_id = start_stream(stack, api)
        apply_policies(api, connection_id, policies)
        stack.run_schedule(POLLER)  # warm: the cold start is bench.import_time's business
        stream = LiveStream(box.tenant, rate, seconds, seed)
        poller = PollerRuns(stack, every)
        sink = PrioritySink(stack)
        sink.start()
        sampler = PollerSampler()
        box.clear_requests()
        calls0, items0 = handlers.snapshot()
        cpu0 = time.process_time()
        sampler.start()
        stream.start()
        poller.start()
        stream.join()
        deadline = time.monotonic() + catch_up_timeout
        # Only the stream's events are stored meanwhile: the count is enough to wait on.
        while len(stored.at) < len(stream.created) and time.monotonic() < deadline:
            time.sleep(0.2)
        caught_up = stored.count_of(stream.created) == len(stream.created)
        poller.stop()
        sink.stop()
        sampler.stop()
        cpu = time.process_time() - cpu0
        calls1, items1 = handlers.snapshot()
        box_requests = box.requests
        since = datetime.fromtimestamp(stream.started, UTC) - timedelta(minutes=1)
        listed = activity_ids(api, connection_id, since, datetime.now(UTC) + timedelta(minutes=1))
        return Measured(
            rate=rate,
            seconds=seconds,
            users=users,
            every=every,
            policies=policies,
            period=schedule_period(stack),
            connection_id=connection_id,
            stream=stream,
            stored=stored,
            taken_by_the_sink=sink.taken,
            times=times,
            runs=list(poller.runs),
            caught_up=caught_up,
            listed=listed,
            calls=calls1 - calls0,
            items=items1 - items0,
            box_requests=box_requests,
            sampler=sampler,
            cpu=cpu,
            load_before=load_before,
            load_after=os.getloadavg(),
        )


def _lags(m: Measured) -> list[tuple[float, float]]:
    """(seconds into the stream when created, seconds until stored) for every stored event."""
    start, at = m.stream.started, m.stored.at
    return sorted((created - start, at[i] - created) for i, created in m.stream.created.items() if i in at)


def _by_tenth(lags: list[tuple[float, float]], seconds: float) -> list[dict[str, float]]:
    width = seconds / 10
    tenths: list[list[float]] = [[] for _ in range(10)]
    for offset, lag in lags:
        tenths[min(9, int(offset / width))].append(lag)
    return [_percentiles(values, 2) for values in tenths if values]


def _requests(calls: Counter[tuple[str, str]], service: str) -> Counter[str]:
    """Summed over threads: in this window only the poller calls AWS. The alerts table, the one
    `_count_requests` does not name, comes out as `other`."""
    counted: Counter[str] = Counter()
    for (_, key), n in calls.items():
        if key.startswith(f"{service}."):
            counted[key.replace(".other", ".alerts") if service == "dynamodb" else key] += n
    return counted


def report(m: Measured) -> dict[str, Any]:
    produced = m.stream.created
    n = len(produced)
    lags = _lags(m)
    values = [lag for _, lag in lags]
    stream_seconds = m.stream.ended - m.stream.started
    during = sum(1 for i, created in produced.items() if m.stored.at.get(i, float("inf")) <= m.stream.ended)
    last = max((m.stored.at[i] for i in produced if i in m.stored.at), default=m.stream.ended)
    slope = statistics.linear_regression(*zip(*lags, strict=True)).slope if len(lags) > 1 else 0.0
    listed = {i: c for i, c in m.listed.items() if i in produced}
    exactly_once = listed.keys() == produced.keys() and all(c == 1 for c in listed.values())
    events_calls = [r for r in m.box_requests if r.path == "/2.0/events"]
    dynamodb, sqs, sns = _requests(m.calls, "dynamodb"), _requests(m.calls, "sqs"), _requests(m.calls, "sns")
    sqs_items = _requests(m.items, "sqs")
    ran = [r for r in m.runs if r.error is None]
    worker = Counter({k: v for k, v in m.sampler.samples.items() if not k.startswith("event source poller")})
    return {
        "rate_per_second": m.rate,
        "stream_seconds": m.seconds,
        "tenant_users": m.users,
        "policies": m.policies,
        "invoked": "back to back" if not m.every else f"every {m.every:g} s",
        "template_schedule_seconds": m.period,
        "events": {
            "produced": n,
            "produced_per_second": round(n / stream_seconds, 1),
            "stored": len(m.stored.at.keys() & produced.keys()),
            "listed_by_the_admin_api": len(listed),
            "listed_more_than_once": sum(1 for c in listed.values() if c > 1),
            "exactly_once": exactly_once,
            "items_written_per_event": round(m.stored.items_written / max(1, n), 4),
        },
        "ingest": {
            "stored_while_the_stream_ran_per_second": round(during / stream_seconds, 1),
            "overall_per_second": round(n / max(1e-9, last - m.stream.started), 1),
            "caught_up": m.caught_up,
            "catch_up_seconds_after_the_stream": round(max(0.0, last - m.stream.ended), 2),
        },
        "lag_seconds": {
            "all": _percentiles(values, 2) if values else None,
            "by_tenth_of_the_stream": _by_tenth(lags, stream_seconds),
            "trend_seconds_per_second_of_stream": round(slope, 4),
            "growing": slope > GROWING,
        },
        "keeps_up": exactly_once and m.caught_up and slope <= GROWING,
        "runs": {
            "count": len(m.runs),
            "errors": [r.error for r in m.runs if r.error],
            "seconds": _percentiles([r.seconds for r in ran], 2) if ran else None,
            "pages": _percentiles([float(r.pages) for r in ran], 0) if ran else None,
            "events": _percentiles([float(r.events) for r in ran], 0) if ran else None,
            "empty": sum(1 for r in ran if r.events == 0),
        },
        "box_calls": {
            "events_pages": len(events_calls),
            "per_event": round(len(events_calls) / max(1, n), 5),
            "others": dict(Counter(generic_path(r.path) for r in m.box_requests if r.path != "/2.0/events")),
            "not_2xx": sum(1 for r in m.box_requests if not 200 <= r.status < 300),
        },
        "dynamodb": {
            "requests_per_event": round(dynamodb.total() / max(1, n), 4),
            "by_operation_per_event": {k: round(v / max(1, n), 5) for k, v in sorted(dynamodb.items())},
        },
        "sqs": {
            "requests_per_event": round(sqs.total() / max(1, n), 4),
            "priority_messages_per_event": round(sqs_items["sqs.SendMessageBatch.priority"] / max(1, n), 4),
            "priority_messages_taken_off_by_the_sink": m.taken_by_the_sink,
        },
        "sns_publish_per_event": round(sns.total() / max(1, n), 5),
        "cpu_seconds_by_thread": {
            **{k: round(v, 1) for k, v in sorted(m.sampler.cpu.items(), key=lambda kv: -kv[1])},
            "process": round(m.cpu, 1),
        },
        "poller_requests_wall_time": m.times.report(n),
        "poller_thread_wall_share_sampled": {
            k: round(v / max(1, worker.total()), 3) for k, v in worker.most_common()
        },
        "conditions": {
            "cores": len(os.sched_getaffinity(0)),
            "load_average_1_5_15_before": [round(x, 2) for x in m.load_before],
            "load_average_1_5_15_after": [round(x, 2) for x in m.load_after],
        },
    }


def run(
    rate: int = DEFAULT_RATE,
    seconds: float = DEFAULT_SECONDS,
    users: int = DEFAULT_USERS,
    every: float = 0.0,
    policies: str = "deployed",
    catch_up_timeout: float = 1800.0,
    seed: int = 3,
) -> dict[str, Any]:
    return report(measure(rate, seconds, users, every, policies, catch_up_timeout, seed))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.poller_rate",
        description="A live event stream at R events a second, read by the real activity poller.",
    )
    parser.add_argument("--rate", type=int, default=DEFAULT_RATE, help="events a second")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="how long the stream runs")
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="users of the synthetic tenant")
    parser.add_argument(
        "--every", type=float, default=0.0, help="seconds between runs (0: back to back; 60: the schedule)"
    )
    parser.add_argument(
        "--policies",
        choices=("deployed", "none"),
        default="deployed",
        help="the policies as shipped (their activity rules judge every event), or every one switched off",
    )
    parser.add_argument("--catch-up-timeout", type=float, default=1800.0, help="seconds, after the stream")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    return run(
        args.rate, args.seconds, args.users, args.every, args.policies, args.catch_up_timeout, args.seed
    )


if __name__ == "__main__":
    emit(main)
