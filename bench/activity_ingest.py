"""Activity ingestion at scale: N synthetic events backfilled through the local stack, costs per event.

The way production does it: an admin connects, the callback queues the backfill plan, the
backfill worker (the real handler, fed by the local SQS event source) reads 60 one-day windows
of admin_logs from the fake Box and stores them in the activity table on moto. Counted:

- Box calls, by the fake Box (every request it received on /2.0/events);
- DynamoDB and SQS requests of the handlers, by a botocore hook on the session their clients
  come from (the activity table's write capacity is derived from the items in the requests);
- wall clock from the admin's consent until the backfill is finished, CPU seconds of the whole
  process (handlers, moto, fake Box: all threads of this one process) split by thread (the
  backfill worker, moto's request threads, the fake Box's), and where the worker thread's time
  goes (a stack sampler at 50 Hz; sampler and counters cost about 5% of the CPU, reported).

moto is not DynamoDB: its in-process emulation costs more CPU per write than our code does,
so the throughput here is a floor for our code plus moto on one machine, with one worker
(BatchSize 1, one local poller), where production runs the windows in parallel Lambdas.

`python -m bench.activity_ingest --events N` runs N/10 and then N events.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import resource
import socketserver
import sys
import sysconfig
import threading
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from bench import emit
from devstack.browser import consent
from devstack.fake_box import FakeBox
from devstack.fake_box.recorder import RecordedRequest
from devstack.stack import LocalStack
from devstack.template_model import load_template

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID, CLIENT_SECRET = "bench-client-id", "bench-client-secret"
DEFAULT_EVENTS = 1_000_000
MAKE_BENCH_EVENTS = 100_000  # what `python -m bench` runs: about 5 minutes here instead of 40
BACKFILL_DAYS = 60
PARAMETERS = {
    "LogLevel": "WARNING",
    "BackfillSettleSeconds": "0",
    "BackfillDays": str(BACKFILL_DAYS),
    "BackfillWindowHours": "72",
}
BOX_CALLS_PER_EVENT_LIMIT = 1 / 500  # the budget: one call per page of 500
WORKER_THREAD_PREFIX = "devstack-sqs-ActivityBackfillFunction-"
TABLE_KEYS = ("pk", "sk")
_KB = 1024
_TICKS = os.sysconf("SC_CLK_TCK")


# --- DynamoDB and SQS requests, counted on the handlers' boto3 session ----------------------------


def _value_bytes(value: Mapping[str, Any]) -> int:
    """DynamoDB's size of one attribute value (the documented rules; numbers approximated as AWS does)."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(str(v).encode())
    if kind == "N":
        return (len(str(v).lstrip("-").replace(".", "").strip("0")) + 1) // 2 + 1
    if kind == "B":
        return len(base64.b64decode(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(_value_bytes({"N": n}) for n in v)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_bytes(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(_value_bytes(x) + 1 for x in v)
    raise ValueError(f"unknown DynamoDB type {kind}")


@dataclass(frozen=True)
class IndexShape:
    """One GSI: its key and what it projects (None: ALL)."""

    keys: tuple[str, ...]
    projected: tuple[str, ...] | None

    @classmethod
    def from_template(cls, spec: Mapping[str, Any]) -> IndexShape:
        projection = spec["Projection"]
        keys = tuple(k["AttributeName"] for k in spec["KeySchema"])
        if projection["ProjectionType"] == "ALL":
            return cls(keys, None)
        return cls(keys, tuple(projection.get("NonKeyAttributes", ())))

    def entry_attributes(self, item: Mapping[str, Any]) -> list[str]:
        """What DynamoDB writes to the index for `item`: index keys, table keys, projections."""
        if self.projected is None:
            return list(item)
        return [a for a in dict.fromkeys((*self.keys, *TABLE_KEYS, *self.projected)) if a in item]


class AwsCalls:
    """What the handlers asked of DynamoDB and SQS (one count per API call, retries not included)."""

    def __init__(
        self, tables: Mapping[str, str], queues: Mapping[str, str], indexes: Mapping[str, IndexShape]
    ) -> None:
        self._tables = dict(tables)  # physical name -> our label
        self._queues = dict(queues)  # queue URL -> our label
        self._indexes = dict(indexes)  # the activity table's GSIs, as template.yaml declares them
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()  # "<service>.<Operation>[.<table or queue>]"
        self.items: Counter[str] = Counter()  # BatchWriteItem items / SQS messages, same keys
        self.wcu: Counter[str] = Counter()  # "table", "by_user", "by_item" (activity table only)
        self.item_sizes: Counter[int] = Counter()  # activity items by size, rounded up to whole KB
        self.item_bytes_total = 0
        self.attribute_bytes: Counter[str] = Counter()  # activity items: bytes per attribute (name included)
        self.seconds = 0.0  # time spent in this hook, in the handlers' threads

    def attach(self, session: Any) -> None:
        session.events.register("before-call.dynamodb", self._dynamodb)
        session.events.register("before-call.sqs", self._sqs)

    def _dynamodb(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        started = time.perf_counter()
        op = model.name
        body = _json_body(params)
        with self._lock:
            if op == "BatchWriteItem":
                for table, requests in body.get("RequestItems", {}).items():
                    label = self._tables.get(table, "other")
                    self.calls[f"dynamodb.BatchWriteItem.{label}"] += 1
                    self.items[f"dynamodb.BatchWriteItem.{label}"] += len(requests)
                    if label == "activity":
                        for request in requests:
                            if "PutRequest" in request:
                                self._count_activity_item(request["PutRequest"]["Item"])
            else:
                label = self._tables.get(str(body.get("TableName", "")), "other")
                self.calls[f"dynamodb.{op}.{label}"] += 1
                if op == "PutItem" and label == "activity":
                    self._count_activity_item(body["Item"])
            self.seconds += time.perf_counter() - started

    def _count_activity_item(self, item: Mapping[str, Mapping[str, Any]]) -> None:
        size = 0
        for name, value in item.items():
            attribute = len(name.encode()) + _value_bytes(value)
            self.attribute_bytes[name] += attribute
            size += attribute
        units = max(1, math.ceil(size / _KB))
        self.item_bytes_total += size
        self.item_sizes[units] += 1
        self.wcu["table"] += units
        for name, index in self._indexes.items():
            if index.keys[0] in item:  # sparse: only items with the index's key are written to it
                entry = sum(len(a.encode()) + _value_bytes(item[a]) for a in index.entry_attributes(item))
                self.wcu[name] += max(1, math.ceil(entry / _KB))

    def _sqs(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        started = time.perf_counter()
        body = _json_body(params)
        label = self._queues.get(str(body.get("QueueUrl", "")), "other")
        with self._lock:
            self.calls[f"sqs.{model.name}.{label}"] += 1
            if model.name == "SendMessageBatch":
                self.items[f"sqs.SendMessageBatch.{label}"] += len(body.get("Entries", []))
            elif model.name == "SendMessage":
                self.items[f"sqs.SendMessage.{label}"] += 1
            self.seconds += time.perf_counter() - started


def _json_body(params: Mapping[str, Any]) -> dict[str, Any]:
    body = params.get("body")
    if isinstance(body, bytes | str) and body:
        value = json.loads(body)
        return value if isinstance(value, dict) else {}
    return dict(body) if isinstance(body, Mapping) else {}


# --- where the backfill worker's time goes: a stack sampler --------------------------------------

_STDLIB = sysconfig.get_paths()["stdlib"]
_BLOCKING = ("socket.py", "selectors.py", "ssl.py", "threading.py", "queue.py")
_LIBRARIES = (  # first match wins, on the innermost frame that is not stdlib or HTTP plumbing
    ("/bench/", "bench instrumentation (these counters)"),
    ("/boxcasb/", "our code (boxcasb)"),
    ("/functions/", "our code (boxcasb)"),
    ("/pydantic", "pydantic (our models)"),
    ("/aws_lambda_powertools/", "Powertools (batch, logger, metrics)"),
    ("/botocore/", "AWS SDK client (boto3/botocore)"),
    ("/boto3/", "AWS SDK client (boto3/botocore)"),
    ("/box_sdk_gen/", "Box SDK client (box_sdk_gen)"),
    ("/devstack/", "devstack (Lambda emulation)"),
)
_PLUMBING = ("/urllib3/", "/requests/", "/certifi/", "/charset_normalizer/", "/idna/")


def classify_stack(frame: FrameType | None) -> str:
    files: list[str] = []
    while frame is not None:
        files.append(frame.f_code.co_filename)
        frame = frame.f_back
    if not any("/boxcasb/" in f or "/functions/" in f for f in files):
        return "event source poller (receive, delete, long poll)"
    if files and files[0].endswith(_BLOCKING):
        if any("/box_sdk_gen/" in f for f in files):
            return "waiting on the fake Box"
        if any("/botocore/" in f for f in files):
            return "waiting on moto (DynamoDB, SQS)"
        return "waiting (other)"
    for name in files:
        if name.startswith(_STDLIB) and "site-packages" not in name:
            continue
        if any(p in name for p in _PLUMBING):
            continue
        for marker, label in _LIBRARIES:
            if marker in name:
                return label
        return "other libraries"
    return "stdlib"


MOTO, FAKE_BOX, WORKER = "moto server (DynamoDB, SQS)", "fake Box server", "backfill worker thread"
DEVSTACK_SERVERS = "devstack servers (API gateway, Lambda invoke)"
OTHER = "other threads (devstack async invokes, schedules)"


def server_component(server: object) -> str:
    module = type(server).__module__
    if module.startswith("werkzeug"):
        return MOTO
    if module.startswith("devstack.fake_box"):
        return FAKE_BOX
    return DEVSTACK_SERVERS


def thread_component(thread: threading.Thread, frame: FrameType | None) -> str:
    """Whose CPU a thread spends: from its name, its frames, or the server its request thread serves."""
    if thread.name.startswith(WORKER_THREAD_PREFIX):
        return WORKER
    if thread is threading.main_thread():
        return "bench main thread (waits, polls the API)"
    if thread.name.startswith("bench-"):
        return "bench sampler"
    if thread.name == "fake-box":
        return FAKE_BOX
    while frame is not None:
        name = frame.f_code.co_filename
        if "/moto/" in name or "/werkzeug/" in name:
            return MOTO
        if "/fake_box/" in name:
            return FAKE_BOX
        if frame.f_code.co_name == "process_request_thread":  # a socketserver request thread
            return server_component(frame.f_locals.get("self"))
        frame = frame.f_back
    return OTHER


def _task_cpu(native_id: int) -> float | None:
    """CPU seconds of one thread of this process (user + system), from /proc; None once it has exited."""
    try:
        with open(f"/proc/self/task/{native_id}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


class Sampler(threading.Thread):
    """Where the process's CPU goes, by thread, and what the backfill worker thread is doing.

    CPU: long-lived threads are read from /proc every second; the HTTP servers' request
    threads (one per connection, and moto's connections are short) are timed by the
    thread itself when it ends, through a wrapper around socketserver's per-connection
    method, installed for the duration. The worker's samples (every `interval`) are wall
    clock: a thread waiting for the GIL counts as running.
    """

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._measuring = False
        self.samples: Counter[str] = Counter()  # the worker thread, by what it runs or waits on
        self.cpu: defaultdict[str, float] = defaultdict(float)  # CPU seconds by component
        # native thread id -> (thread, component, CPU seconds already counted)
        self._seen: dict[int, tuple[threading.Thread, str, float]] = {}
        self._timed: set[int] = set()  # request threads inside the wrapper: counted when they end
        self._original = socketserver.ThreadingMixIn.process_request_thread

    def start(self) -> None:
        original, sampler = self._original, self

        def process_request_thread(server: Any, request: Any, client_address: Any) -> None:
            native = threading.get_native_id()
            with sampler._lock:
                sampler._timed.add(native)
            try:
                original(server, request, client_address)
            finally:
                sampler._request_thread_done(native, server_component(server), time.thread_time())

        with self._lock:
            self._account(sys._current_frames(), count=False)
            self._measuring = True
        socketserver.ThreadingMixIn.process_request_thread = process_request_thread  # type: ignore[method-assign,assignment]
        super().start()

    def _request_thread_done(self, native: int, component: str, cpu: float) -> None:
        with self._lock:
            self._timed.discard(native)
            if self._measuring:
                self.cpu[component] += cpu

    def worker(self) -> threading.Thread | None:
        """The thread whose stack is sampled (a subclass picks another)."""
        return _worker_thread()

    def component(self, thread: threading.Thread, frame: FrameType | None) -> str:
        """What a thread's CPU counts as (a subclass names its own threads)."""
        return thread_component(thread, frame)

    def run(self) -> None:
        tick = 0
        while not self._stop.wait(self._interval):
            frames = sys._current_frames()
            worker = self.worker()
            if worker is not None and worker.ident is not None:
                self.samples[classify_stack(frames.get(worker.ident))] += 1
            tick += 1
            if tick % 50 == 0:
                with self._lock:
                    self._account(frames)

    def stop(self) -> None:
        self._stop.set()
        self.join()
        socketserver.ThreadingMixIn.process_request_thread = self._original  # type: ignore[method-assign]
        with self._lock:
            self._account(sys._current_frames(), final=True)
            self._measuring = False

    def _account(self, frames: Mapping[int, FrameType], count: bool = True, final: bool = False) -> None:
        for thread in threading.enumerate():
            native = thread.native_id
            if native is None or thread.ident is None or (native in self._timed and not final):
                continue
            cpu = _task_cpu(native)
            if cpu is None:
                continue
            seen = self._seen.get(native)
            if seen is None or seen[0] is not thread:  # new (or a new thread under a reused id)
                seen = (thread, self.component(thread, frames.get(thread.ident)), 0.0 if count else cpu)
            _, component, before = seen
            self.cpu[component] += cpu - before
            self._seen[native] = (thread, component, cpu)


def _worker_thread() -> threading.Thread | None:
    return next((t for t in threading.enumerate() if t.name.startswith(WORKER_THREAD_PREFIX)), None)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


# --- one run --------------------------------------------------------------------------------------


def _count_handlers_calls(stack: LocalStack) -> AwsCalls:
    """Hook the default session the handlers' clients will come from, before any is created.

    A client copies its session's event hooks when it is made, so the package's cached
    clients (and the services holding them) are dropped first, as tests/conftest.py does.
    """
    import boto3

    from boxcasb import aws_clients, settings, wiring

    aws_clients.reset()
    settings.get_settings.cache_clear()
    wiring.reset()
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    env = stack.env
    calls = AwsCalls(
        tables={env["ACTIVITY_TABLE_NAME"]: "activity", env["TABLE_NAME"]: "state"},
        queues={env["PRIORITY_SCAN_QUEUE_URL"]: "priority", env["BACKFILL_QUEUE_URL"]: "backfill"},
        indexes=activity_indexes(),
    )
    calls.attach(boto3.DEFAULT_SESSION)
    return calls


def activity_indexes() -> dict[str, IndexShape]:
    table = load_template(ROOT / "template.yaml").resources["ActivityTable"]
    return {
        spec["IndexName"]: IndexShape.from_template(spec)
        for spec in table.properties.get("GlobalSecondaryIndexes", [])
    }


@dataclass
class Measured:
    events: int
    expected: int  # the synthetic events plus the fake's hand-written ones inside the span
    backfill: dict[str, Any]
    box_requests: list[RecordedRequest]
    calls: AwsCalls
    sampler: Sampler
    wall: float
    cpu: float
    rss_before_mb: float
    rss_after_mb: float


def run_once(events: int, timeout: float = 3600.0, seed: int = 1) -> dict[str, Any]:
    """Connect an admin to a fake Box holding `events` events over 60 days; wait for the backfill."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    rss_before = _rss_mb()
    with FakeBox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=0, history=False) as box:
        hand_written = [e.created_at for e in box.tenant.events]
        now = datetime.now(UTC)
        # Inside the span the backfill will plan: 60 days before the connection, a moment from now.
        first = now - timedelta(days=BACKFILL_DAYS) + timedelta(minutes=5)
        box.tenant.add_synthetic_events(events, first, now, seed=seed)
        with LocalStack(
            template=str(ROOT / "template.yaml"),
            box_base_url=box.url,
            box_client_id=CLIENT_ID,
            box_client_secret=CLIENT_SECRET,
            parameter_overrides=PARAMETERS,
        ) as stack:
            calls = _count_handlers_calls(stack)
            api = stack.admin_api()
            started = api.request("POST", "/connections", {})
            cid = started["connection_id"]
            box.clear_requests()
            sampler = Sampler()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            sampler.start()
            consent(started["authorize_url"], "admin@acme.example")
            deadline = time.monotonic() + timeout
            backfill: dict[str, Any] = {}
            while time.monotonic() < deadline and backfill.get("status") not in ("finished", "stopped"):
                stack.wait_for_async(timeout=max(1.0, deadline - time.monotonic()))
                backfill = api.request("GET", f"/connections/{cid}")["activity"]["backfill"] or {}
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            sampler.stop()
            measured = Measured(
                events=events,
                expected=events
                + sum(
                    datetime.fromisoformat(backfill["span_start"])
                    <= t
                    < datetime.fromisoformat(backfill["span_end"])
                    for t in hand_written
                ),
                backfill=backfill,
                box_requests=[r for r in box.requests if r.path.startswith("/2.0/events")],
                calls=calls,
                sampler=sampler,
                wall=wall,
                cpu=cpu,
                rss_before_mb=rss_before,
                rss_after_mb=_rss_mb(),
            )
    return report(measured)


def _per(value: float, events: int, digits: int = 6) -> float:
    return round(value / events, digits) if events else 0.0


def report(m: Measured) -> dict[str, Any]:
    n, c, items = m.events, m.calls.calls, m.calls.items
    backfill_status = m.backfill.get("status")
    stored = int(m.backfill.get("events_stored", 0))
    windows = int(m.backfill.get("windows_total", 0))

    def box_calls(stream_type: str, windowed: bool | None = None) -> int:
        return sum(
            1
            for r in m.box_requests
            if r.query.get("stream_type") == stream_type
            and (windowed is None or ("created_after" in r.query) == windowed)
        )

    def writes(table: str) -> dict[str, int]:
        return {
            "BatchWriteItem_calls": c[f"dynamodb.BatchWriteItem.{table}"],
            "BatchWriteItem_items": items[f"dynamodb.BatchWriteItem.{table}"],
            "PutItem": c[f"dynamodb.PutItem.{table}"],
            "UpdateItem": c[f"dynamodb.UpdateItem.{table}"],
        }

    activity, state = writes("activity"), writes("state")
    write_requests = sum(v for k, v in c.items() if k.startswith("dynamodb.") and k.split(".")[1] in _WRITES)
    items_sized = sum(m.calls.item_sizes.values())
    wcu = m.calls.wcu
    worker = Counter({k: v for k, v in m.sampler.samples.items() if not k.startswith("event source poller")})
    attributed = sum(m.sampler.cpu.values())
    return {
        "events": n,
        "backfill": {
            "status": backfill_status,
            "events_stored": stored,
            "events_expected": m.expected,
            "complete": backfill_status == "finished" and stored == m.expected,
            "windows": windows,
            "note": f"the fake's hand-written events in the span: {m.expected - n}",
        },
        "box_events_calls": {
            "total": len(m.box_requests),
            "per_event": _per(len(m.box_requests), n),
            "limit_per_event": BOX_CALLS_PER_EVENT_LIMIT,
            "within_limit": len(m.box_requests) <= n * BOX_CALLS_PER_EVENT_LIMIT,
            "backfill_pages": box_calls("admin_logs", windowed=True),
            "pages_of_500_needed": math.ceil(m.expected / 500),
            "empty_pages_ending_windows": windows,
            "stream_position_now": box_calls("admin_logs_streaming"),
            "test_api": box_calls("admin_logs", windowed=False),
        },
        "dynamodb_writes": {
            "activity_table": activity,
            "activity_items_per_BatchWriteItem": round(
                activity["BatchWriteItem_items"] / max(1, activity["BatchWriteItem_calls"]), 2
            ),
            "state_table": state,
            "write_requests_total": write_requests,
            "write_requests_per_event": _per(write_requests, n),
            "activity_BatchWriteItem_calls_per_event": _per(activity["BatchWriteItem_calls"], n),
            "state_items_written_per_event": _per(
                state["BatchWriteItem_items"] + state["PutItem"] + state["UpdateItem"], n
            ),
        },
        "activity_wcu": {
            "table": wcu["table"],
            **{index: wcu[index] for index in activity_indexes()},
            "total": sum(wcu.values()),
            "per_event": _per(sum(wcu.values()), n, 4),
            "item_bytes_mean": round(m.calls.item_bytes_total / max(1, items_sized)),
            "items_by_size": {f"<= {k} KB": v for k, v in sorted(m.calls.item_sizes.items())},
            "attribute_bytes_mean": {
                k: round(v / max(1, items_sized), 1) for k, v in m.calls.attribute_bytes.most_common()
            },
        },
        "dynamodb_reads": {k: v for k, v in sorted(c.items()) if k.split(".")[1] in _READS},
        "sqs_sends": {
            "priority_SendMessageBatch_calls": c["sqs.SendMessageBatch.priority"],
            "priority_messages": items["sqs.SendMessageBatch.priority"],
            "priority_calls_per_event": _per(c["sqs.SendMessageBatch.priority"], n),
            "priority_messages_per_event": _per(items["sqs.SendMessageBatch.priority"], n),
            "backfill_SendMessageBatch_calls": c["sqs.SendMessageBatch.backfill"],
            "backfill_messages": items["sqs.SendMessageBatch.backfill"],
        },
        "time": {
            "wall_seconds": round(m.wall, 1),
            "events_per_second": round(n / m.wall, 1),
            "process_cpu_seconds": round(m.cpu, 1),
            "events_per_cpu_second": round(n / m.cpu, 1),
            "counting_hook_seconds": round(m.calls.seconds, 1),
        },
        "cpu_seconds_by_thread": {
            **{k: round(v, 1) for k, v in sorted(m.sampler.cpu.items(), key=lambda kv: -kv[1])},
            "unattributed (threads that exited)": round(m.cpu - attributed, 1),
        },
        "worker_thread_wall_share_sampled": {
            k: round(v / max(1, worker.total()), 3) for k, v in worker.most_common()
        },
        "memory": {
            "rss_before_mb": m.rss_before_mb,
            "rss_after_mb": m.rss_after_mb,
            "peak_rss_of_process_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
    }


_WRITES = {"BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def run(events: int = DEFAULT_EVENTS, timeout: float = 3600.0) -> dict[str, Any]:
    """N/10 events, then N, each on a fresh fake Box and local stack, in this one process."""
    sizes = [n for n in (events // 10, events) if n > 0]
    runs = [run_once(n, timeout) for n in sizes]
    result: dict[str, Any] = {
        "events": events,
        "sizes": sizes,
        "cores": len(os.sched_getaffinity(0)),
        "runs": runs,
        "caveat": (
            "moto (DynamoDB, SQS) and the fake Box run in this process, sharing its GIL with the "
            "handlers, and the backfill runs on one worker: the throughput is a floor for our code "
            "plus moto, not a figure for production DynamoDB or for parallel Lambdas"
        ),
    }
    if events < DEFAULT_EVENTS:
        result["scaled_down"] = (
            f"{events:,} events, not {DEFAULT_EVENTS:,}: the full size is "
            f"`python -m bench.activity_ingest --events {DEFAULT_EVENTS}`"
        )
    if len(runs) == 2 and sizes[1] > sizes[0]:
        # Marginal cost per event between the two sizes, to extrapolate the full size.
        small, large = runs[0]["time"]["wall_seconds"], runs[1]["time"]["wall_seconds"]
        per_event = (large - small) / (sizes[1] - sizes[0])
        result["marginal_ms_per_event"] = round(per_event * 1000, 3)
        result["estimated_wall_seconds_for_default_size"] = round(
            large + (DEFAULT_EVENTS - sizes[1]) * per_event
        )
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.activity_ingest",
        description="Backfill N synthetic Box events through the local stack (and N/10 first).",
    )
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events in the large run")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for each backfill")
    args = parser.parse_args(argv)
    return run(args.events, args.timeout)


if __name__ == "__main__":
    emit(main)
