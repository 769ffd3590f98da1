"""Webhook burst: N signed deliveries from K concurrent senders through the local stack, then the drain.

The way production gets them: an admin connects to the fake Box (its seeded tenant, no event
history) and the webhook sync registers the stack's webhooks there, on each user's top-level
folders, with the stack's webhook URL. Then K sender threads POST N deliveries to that URL, each
as soon as its previous one is answered, over a new connection each as Box does: Box's payloads
(`webhook_triggers.invocation`, created when sent) of the triggers we register, about files
those webhooks cover, signed with the fake's keys (`deliveries.delivery_headers`). About 5% are
Box's retries of a delivery sent at least 2K deliveries before: the same body, with a new
delivery id, timestamp and signatures. Then the stack drains: the priority scan worker (the real
handler, fed by the local SQS event source) rescans every changed file as the Box budget allows.

What the design promises (boxcasb/webhooks/intake.py, boxcasb/scan_queue.py), and is checked:

- no 5xx answer; a retry answers 200 (`replay`, or `accepted` when it overtook its original);
- every distinct delivery is one activity item (`webhook:<payload id>`, whatever the retries),
  read back through the admin API (`GET /connections/{id}/activities`);
- every change is queued once: one priority message per file and second of the change's
  `created_at` (the queue's deduplication id), so a retry, or a second change of the same file
  within that second, adds none. Checked on the messages the event source received (their
  deduplication ids), against what was sent;
- each of those messages handled once and deleted; every dead-letter queue empty.

Every trigger we register is a content or exposure change (previews and downloads reach us
through the event stream only), so every distinct delivery asks for a rescan.

moto's FIFO queues recount their messages (`ApproximateNumberOf*`, reading the clock through
`datetime` twice per message) several times for every message sent, so a send there costs
time in proportion to the backlog, seconds at a few thousand, where SQS's cost is constant:
`count_queues_cheaply` makes each count read the clock once (same counts, ~70 times cheaper).

The local stack runs one execution environment per function (devstack.handlers): the K
concurrent requests queue for the intake, so an answer's latency here is its wait plus the
handler's time, and deliveries per second is one environment's throughput, with moto, the fake
Box, the priority worker and the senders sharing this one process. Lambda runs up to K at once.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import threading
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode, urlsplit

from moto.sqs import models as sqs_models

from bench import emit
from bench.scan_generation import OTHERS, ScanSampler, _count_requests, generic_path
from bench.webhook_intake import _percentiles
from devstack.browser import consent
from devstack.fake_box import FakeBox
from devstack.fake_box.deliveries import delivery_headers
from devstack.fake_box.recorder import RecordedRequest
from devstack.fake_box.render import box_time
from devstack.fake_box.synthetic import ADMIN_LOGIN
from devstack.fake_box.tenant import Webhook
from devstack.fake_box.webhook_triggers import covers, invocation, source_json
from devstack.sqs_source import SqsPoller
from devstack.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID, CLIENT_SECRET = "bench-client-id", "bench-client-secret"
DEFAULT_DELIVERIES = 10_000
DEFAULT_SENDERS = 32
MAKE_BENCH_DELIVERIES = 1_000  # what `python -m bench` runs: about 5 minutes here instead of 50
RETRY_SHARE = 0.05
BOX_TIMEOUT_SECONDS = 30.0  # Box waits this long for an answer, then retries later
# Triggers we register, on files, weighted like a busy folder: new versions first.
TRIGGERS = (
    ("FILE.UPLOADED", 0.6),
    ("SHARED_LINK.CREATED", 0.1),
    ("SHARED_LINK.UPDATED", 0.05),
    ("COLLABORATION.CREATED", 0.1),
    ("FILE.RENAMED", 0.05),
    ("FILE.MOVED", 0.05),
    ("METADATA_INSTANCE.UPDATED", 0.05),
)
PARAMETERS = {
    "LogLevel": "WARNING",
    "BackfillSettleSeconds": "0",
    "BackfillWindowHours": "360",
    "ScanAfterApiTest": "false",  # connecting starts no full scan: the drain is the burst's alone
}
PRIORITY = "PriorityScanFunction"
SENDER_PREFIX = "burst-sender-"
ACTIVITY_PAGE = 500  # the admin API's largest page
_QUEUE_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def count_queues_cheaply() -> None:
    """moto's queue counts with one clock read per count, not two `datetime` conversions per message.

    The same decisions as moto's `Message.visible` and `.delayed` (visible: now > visible_at;
    delayed: now < delayed_until), on the same clock (UTC epoch milliseconds). It belongs beside
    devstack/local_aws.py's other corrections of moto's costs; here until it moves there.
    """
    queue: Any = sqs_models.Queue
    if getattr(queue, "bench_counts_cheaply", False):
        return

    def messages(self: Any) -> list[Any]:
        now = time.time() * 1000
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def not_visible(self: Any) -> int:
        now = time.time() * 1000
        return sum(1 for m in self._messages if not now > m.visible_at)

    def delayed(self: Any) -> int:
        now = time.time() * 1000
        return sum(1 for m in self._messages if now < m.delayed_until)

    queue.messages = property(messages)
    queue.approximate_number_of_messages_not_visible = property(not_visible)
    queue.approximate_number_of_messages_delayed = property(delayed)
    queue.bench_counts_cheaply = True


# --- what is sent ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A file one of our webhooks covers, as that webhook's payload shows it."""

    webhook: Webhook
    source: dict[str, Any]
    owner: dict[str, Any]  # who makes the change: the file's owner


@dataclass(frozen=True)
class Planned:
    target: Target
    trigger: str
    retry_of: int | None = None  # the position of the first attempt this one repeats


@dataclass(frozen=True)
class Job:
    number: int  # position in the burst
    original: int  # the first attempt's position (its own, for a first attempt)
    address: str
    body: bytes

    @property
    def retry(self) -> bool:
        return self.original != self.number


@dataclass(frozen=True)
class Answer:
    job: Job
    status: int | None  # None: no HTTP answer
    outcome: str
    sent: float  # time.monotonic()
    answered: float

    @property
    def ms(self) -> float:
        return (self.answered - self.sent) * 1000


def targets_of(box: FakeBox) -> list[Target]:
    """Every file one of this app's webhooks covers, with the first webhook that covers it."""
    tenant = box.tenant
    with tenant.lock:
        hooks = [w for w in tenant.webhooks.values() if w.client_id == box.client_id]
        found: list[Target] = []
        for file in tenant.files.values():
            hook = next((w for w in hooks if covers(tenant, w, file)), None)
            if hook is not None:
                owner = tenant.users[file.owner_id].mini()
                found.append(Target(hook, source_json(tenant, hook, file), owner))
        return found


def plan_burst(targets: Sequence[Target], deliveries: int, senders: int, rng: random.Random) -> list[Planned]:
    """What each position sends: a new delivery, or a retry of one taken 2K positions before or more."""
    gap = 2 * senders  # by then the first attempt has been answered, unless it is very slow
    eligible = range(gap, deliveries)
    retries = set(rng.sample(eligible, min(len(eligible), round(deliveries * RETRY_SHARE))))
    triggers, weights = [t for t, _ in TRIGGERS], [w for _, w in TRIGGERS]
    firsts: list[int] = []
    plan: list[Planned] = []
    for position in range(deliveries):
        sent_before = len(firsts) - gap
        if position in retries and sent_before > 0:
            original = firsts[rng.randrange(sent_before)]
            plan.append(Planned(plan[original].target, plan[original].trigger, retry_of=original))
        else:
            firsts.append(position)
            plan.append(Planned(rng.choice(targets), rng.choices(triggers, weights)[0]))
    return plan


class Dispenser:
    """Hands the planned deliveries out in order; a first attempt's body is made when it is taken."""

    def __init__(self, plan: Sequence[Planned]) -> None:
        self._plan = list(plan)
        self._lock = threading.Lock()
        self._next = 0
        self.bodies: dict[int, bytes] = {}  # first attempts, by position

    def take(self) -> Job | None:
        with self._lock:
            number = self._next
            if number >= len(self._plan):
                return None
            self._next += 1
            planned = self._plan[number]
            address = planned.target.webhook.address
            if planned.retry_of is not None:
                return Job(number, planned.retry_of, address, self.bodies[planned.retry_of])
            payload = invocation(
                planned.target.webhook,
                planned.trigger,
                created_at=datetime.now(UTC),
                created_by=planned.target.owner,
                source=planned.target.source,
            )
            body = json.dumps(payload, ensure_ascii=False).encode()  # as the fake's Deliverer sends it
            self.bodies[number] = body
            return Job(number, number, address, body)


def post(address: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
    """One POST on a new connection, as Box sends each delivery."""
    parts = urlsplit(address)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=BOX_TIMEOUT_SECONDS)
    try:
        connection.request("POST", parts.path or "/", body=body, headers=dict(headers))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def send_all(dispenser: Dispenser, box: FakeBox, answers: list[Answer], lock: threading.Lock) -> None:
    """One sender: the next delivery as soon as the last one is answered, signed when sent."""
    while (job := dispenser.take()) is not None:
        headers = delivery_headers(job.body, box_time(datetime.now(UTC)) or "", box.webhook_keys)
        sent = time.monotonic()
        try:
            status, reply = post(job.address, job.body, headers)
            outcome = str(json.loads(reply).get("outcome", "?")) if reply else "?"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            status, outcome = None, type(exc).__name__
        answer = Answer(job, status, outcome, sent, time.monotonic())
        with lock:
            answers.append(answer)


# --- what arrived ----------------------------------------------------------------------------------


class PriorityReceipts:
    """The deduplication id of every message the priority event source received (redeliveries too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ids: Counter[str] = Counter()

    def attach(self, poller: SqsPoller) -> None:
        # The event source's own client (as bench.scan_generation counts its receives and deletes).
        poller._client.meta.events.register("after-call.sqs.ReceiveMessage", self._received)

    def _received(self, parsed: Mapping[str, Any], **_: Any) -> None:
        ids = [m.get("Attributes", {}).get("MessageDeduplicationId", "") for m in parsed.get("Messages", [])]
        with self._lock:
            self.ids.update(ids)


def poller_of(stack: LocalStack, function_id: str) -> SqsPoller:
    return next(p for p in stack._pollers if p.source.function_id == function_id)


def change_key(connection_id: str, payload: Mapping[str, Any]) -> str:
    """The design's "one change": the item and the second of its created_at (Box's time, in UTC)."""
    moment = datetime.fromisoformat(str(payload["created_at"])).astimezone(UTC)
    source = payload["source"]
    return f"{connection_id}:{source['type']}:{source['id']}:{moment.strftime('%Y%m%dT%H%M%S')}"


def activity_ids(api: Any, connection_id: str, since: datetime, until: datetime) -> Counter[str]:
    """How many times each event id is listed by the admin API between `since` and `until`."""
    counted: Counter[str] = Counter()
    cursor: str | None = None
    while True:
        query = {"since": since.isoformat(), "until": until.isoformat(), "limit": str(ACTIVITY_PAGE)}
        if cursor:
            query["cursor"] = cursor
        page = api.request("GET", f"/connections/{connection_id}/activities?{urlencode(query)}")
        counted.update(str(event.get("event_id")) for event in page["events"])
        cursor = page.get("cursor")
        if not cursor:
            return counted


def queue_depth(stack: LocalStack, queue_url: str) -> dict[str, int]:
    counts = stack.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(_QUEUE_COUNTS))
    return {
        name.removeprefix("ApproximateNumberOf"): int(counts["Attributes"][name]) for name in _QUEUE_COUNTS
    }


def dead_letter_depths(stack: LocalStack) -> dict[str, int]:
    """Messages in each queue some other queue's RedrivePolicy sends to (visible, in flight, delayed)."""
    sqs = stack.client("sqs")
    queues = {r.attributes.get("Arn"): r for r in stack.resources.values() if r.type == "AWS::SQS::Queue"}
    targets: set[str] = set()
    for queue in queues.values():
        attributes = sqs.get_queue_attributes(QueueUrl=queue.ref, AttributeNames=["RedrivePolicy"])
        policy = attributes.get("Attributes", {}).get("RedrivePolicy")
        if policy:
            targets.add(json.loads(policy)["deadLetterTargetArn"])
    return {
        queues[arn].logical_id: sum(queue_depth(stack, queues[arn].ref).values())
        for arn in sorted(targets)
        if arn in queues
    }


class BurstSampler(ScanSampler):
    """CPU by thread: scan_generation's labels (moto, the fake Box, the priority worker) and the senders."""

    def component(self, thread: threading.Thread, frame: FrameType | None) -> str:
        if thread.name.startswith(SENDER_PREFIX):
            return "senders (Box's side: signing, HTTP)"
        return super().component(thread, frame)


# --- one run ------------------------------------------------------------------------------------------


def connect(stack: LocalStack, api: Any) -> str:
    """The admin connects; then the webhook sync registers the stack's webhooks in the fake Box."""
    begun = api.request("POST", "/connections", {})
    consent(begun["authorize_url"], ADMIN_LOGIN)
    stack.wait_for_async(timeout=300)  # the Test API and the (empty) backfill
    connection_id = str(begun["connection_id"])
    api.request("POST", f"/connections/{connection_id}/webhooks/sync", {})
    stack.wait_for_async(timeout=300)
    return connection_id


def _per(counter: Mapping[str, int], n: int) -> dict[str, float]:
    return {key: round(value / n, 3) for key, value in sorted(counter.items())} if n else {}


def _tenths(answers: Sequence[Answer]) -> list[dict[str, float]]:
    """Answer latency over the burst, a tenth of the deliveries at a time, in the order sent."""
    ordered = sorted(answers, key=lambda a: a.sent)
    size = max(1, len(ordered) // 10)
    return [_percentiles([a.ms for a in ordered[i : i + size]], 1) for i in range(0, len(ordered), size)][:10]


def send_burst(dispenser: Dispenser, box: FakeBox, senders: int) -> list[Answer]:
    answers: list[Answer] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=send_all, args=(dispenser, box, answers, lock), name=f"{SENDER_PREFIX}{i}")
        for i in range(senders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


Calls = Counter[tuple[str, str]]  # (who, "<service>.<Operation>.<table or queue>"), as scan_generation counts


@dataclass
class Measured:
    deliveries: int
    senders: int
    connection_id: str
    targets: list[Target]
    bodies: dict[int, bytes]  # first attempts, by position
    answers: list[Answer]
    started: float  # time.monotonic()
    burst_end: float
    drain_end: float
    drained: bool
    backlog: dict[str, int]  # the priority queue when the last answer came
    intake_calls: Calls  # the burst's window
    intake_items: Calls
    calls: Calls  # burst and drain
    event_source_calls: Calls
    event_source_items: Calls
    received: Counter[str]  # priority messages received, by deduplication id
    box_requests: list[RecordedRequest]
    listed: Counter[str]  # event ids the admin API lists
    dead_letters: dict[str, int]
    cpu: float
    cpu_by_thread: dict[str, float]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def measure(deliveries: int, senders: int, drain_timeout: float, seed: int) -> Measured:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    count_queues_cheaply()
    rng = random.Random(seed)
    load_before = os.getloadavg()
    with (
        FakeBox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=0, history=False) as box,
        LocalStack(
            template=str(ROOT / "template.yaml"),
            box_base_url=box.url,
            box_client_id=CLIENT_ID,
            box_client_secret=CLIENT_SECRET,
            parameter_overrides=PARAMETERS,
        ) as stack,
    ):
        handlers, event_sources = _count_requests(stack)
        api = stack.admin_api()
        connection_id = connect(stack, api)
        targets = targets_of(box)
        dispenser = Dispenser(plan_burst(targets, deliveries, senders, rng))
        receipts = PriorityReceipts()
        receipts.attach(poller_of(stack, PRIORITY))

        box.clear_requests()
        calls0, items0 = handlers.snapshot()
        esm0, esm_items0 = event_sources.snapshot()
        sampler = BurstSampler()
        since = datetime.now(UTC) - timedelta(minutes=1)
        cpu0 = time.process_time()
        sampler.start()
        started = time.monotonic()
        answers = send_burst(dispenser, box, senders)
        burst_end = time.monotonic()
        calls1, items1 = handlers.snapshot()
        backlog = queue_depth(stack, stack.env["PRIORITY_SCAN_QUEUE_URL"])
        try:
            stack.wait_for_async(timeout=drain_timeout)
            drained = True
        except TimeoutError:
            drained = False
        drain_end = time.monotonic()
        sampler.stop()
        cpu = time.process_time() - cpu0
        calls2, _ = handlers.snapshot()
        esm2, esm_items2 = event_sources.snapshot()
        return Measured(
            deliveries=deliveries,
            senders=senders,
            connection_id=connection_id,
            targets=targets,
            bodies=dict(dispenser.bodies),
            answers=answers,
            started=started,
            burst_end=burst_end,
            drain_end=drain_end,
            drained=drained,
            backlog=backlog,
            intake_calls=calls1 - calls0,
            intake_items=items1 - items0,
            calls=calls2 - calls0,
            event_source_calls=esm2 - esm0,
            event_source_items=esm_items2 - esm_items0,
            received=Counter({key: n for key, n in receipts.ids.items() if key}),
            box_requests=box.requests,
            listed=activity_ids(api, connection_id, since, datetime.now(UTC) + timedelta(minutes=1)),
            dead_letters=dead_letter_depths(stack),
            cpu=cpu,
            cpu_by_thread=dict(sampler.cpu),
            load_before=load_before,
            load_after=os.getloadavg(),
        )


def _of(calls: Calls, who: str) -> Counter[str]:
    return Counter({key: n for (component, key), n in calls.items() if component == who})


def report(m: Measured) -> dict[str, Any]:
    firsts = [json.loads(body) for body in m.bodies.values()]
    expected_ids = {f"webhook:{payload['id']}" for payload in firsts}
    expected_keys = {change_key(m.connection_id, payload) for payload in firsts}
    stored = {event_id: n for event_id, n in m.listed.items() if event_id.startswith("webhook:")}
    scans, received = len(m.received), m.received
    deleted = _of(m.event_source_items, PRIORITY)["sqs.DeleteMessageBatch.priority"]
    statuses = Counter(a.status for a in m.answers)
    burst, overall = m.burst_end - m.started, m.drain_end - m.started
    kinds = Counter(f"{'retry' if a.job.retry else 'first'}: {a.status} {a.outcome}" for a in m.answers)
    return {
        "deliveries": m.deliveries,
        "senders": m.senders,
        "distinct_deliveries": len(firsts),
        "box_retries": m.deliveries - len(firsts),
        "triggers": dict(TRIGGERS),
        "tenant": {"webhooks": len({t.webhook.id for t in m.targets}), "files_covered": len(m.targets)},
        "answers": {
            "by_kind": dict(sorted(kinds.items())),
            "5xx": sum(n for status, n in statuses.items() if status is not None and status >= 500),
            "not_2xx": sum(n for status, n in statuses.items() if status is None or not 200 <= status < 300),
            "latency_ms": {
                "all": _percentiles([a.ms for a in m.answers], 1),
                "first": _percentiles([a.ms for a in m.answers if not a.job.retry], 1),
                "retry": _percentiles([a.ms for a in m.answers if a.job.retry], 1),
            },
            "latency_ms_by_tenth_of_the_burst": _tenths(m.answers),
        },
        "throughput": {
            "burst_seconds": round(burst, 1),
            "deliveries_per_second": round(m.deliveries / burst, 1),
            "mean_ms_per_delivery_in_the_one_environment": round(burst / m.deliveries * 1000, 1),
        },
        "activity": {
            "expected_distinct": len(expected_ids),
            "listed_distinct": len(stored),
            "missing": len(expected_ids - stored.keys()),
            "unexpected": len(stored.keys() - expected_ids),
            "listed_more_than_once": sum(1 for n in stored.values() if n > 1),
            "exactly_once": stored.keys() == expected_ids and all(n == 1 for n in stored.values()),
        },
        "priority_scans": {
            "changes_expected": len(expected_keys),
            "deduplicated_as_designed": len(firsts) - len(expected_keys),
            "messages_received_distinct": scans,
            "messages_received_total": received.total(),
            "missing": len(expected_keys - received.keys()),
            "unexpected": len(received.keys() - expected_keys),
            "deleted_after_handling": deleted,
            "exactly_once": received.keys() == expected_keys and received.total() == scans == deleted,
            "sent_by_the_intake_before_deduplication": _of(m.intake_items, OTHERS)[
                "sqs.SendMessageBatch.priority"
            ],
            "backlog_when_the_burst_ended": m.backlog,
        },
        "drain": {
            "drained": m.drained,
            "seconds_after_the_burst": round(m.drain_end - m.burst_end, 1),
            "scans_per_minute_overall": round(scans / overall * 60, 1),
            "dead_letter_queues": m.dead_letters,
        },
        "box_calls": {
            "total": len(m.box_requests),
            "per_scan": round(len(m.box_requests) / scans, 2) if scans else None,
            "per_minute_overall": round(len(m.box_requests) / overall * 60, 1),
            "by_path": dict(Counter(generic_path(r.path) for r in m.box_requests).most_common()),
            "not_2xx": sum(1 for r in m.box_requests if not 200 <= r.status < 300),
        },
        "aws_requests": {
            "intake_per_delivery": _per(_of(m.intake_calls, OTHERS), m.deliveries),
            "priority_worker_per_scan": _per(_of(m.calls, PRIORITY), scans),
            "priority_event_source": dict(sorted(_of(m.event_source_calls, PRIORITY).items())),
        },
        "cpu_seconds_by_thread": {
            k: round(v, 1) for k, v in sorted(m.cpu_by_thread.items(), key=lambda kv: -kv[1])
        },
        "process_cpu_seconds": round(m.cpu, 1),
        "conditions": {
            "cores": len(os.sched_getaffinity(0)),
            "load_average_1_5_15_before": [round(x, 2) for x in m.load_before],
            "load_average_1_5_15_after": [round(x, 2) for x in m.load_after],
        },
        "note": (
            "one process: moto, the fake Box, the gateway (whose request threads run the intake "
            "handler, one at a time), the priority worker and the senders share its GIL. Latency is "
            "the wait for the one intake environment plus the handler; Box calls are paced by the "
            "connection's budget (BoxRateLimitPerMinute), which sets the drain's pace"
        ),
    }


def run(
    deliveries: int = DEFAULT_DELIVERIES,
    senders: int = DEFAULT_SENDERS,
    drain_timeout: float = 7200.0,
    seed: int = 7,
) -> dict[str, Any]:
    return report(measure(deliveries, senders, drain_timeout, seed))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhook_burst",
        description="N signed webhook deliveries from K concurrent senders through the local stack.",
    )
    parser.add_argument("--deliveries", type=int, default=DEFAULT_DELIVERIES)
    parser.add_argument("--senders", type=int, default=DEFAULT_SENDERS)
    parser.add_argument("--drain-timeout", type=float, default=7200.0, help="seconds to wait for the queues")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    return run(args.deliveries, args.senders, args.drain_timeout, args.seed)


if __name__ == "__main__":
    emit(main)
