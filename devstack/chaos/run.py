"""A chaos run: the local stack against the fake tenant with faults in Box and in our functions,
then the invariants that must hold once the faults stop and the work drains.

Faults, at seeded rates while the run is armed:
- Box: 429 with Retry-After, 503, answers slower than our read timeout, connections dropped
  without an answer; every access token expired twice mid-run; one connection's refresh token
  revoked (a permanent fault for a connection);
- ours: invocations of the pipeline functions killed right after a write took effect (a Lambda
  timeout or crash mid-window, see crashes.py), SQS batches put back after they were processed,
  and one poison message on the bulk queue (a permanent fault for a message).

The work: two admins connect (the 60-day backfill runs), an enforce policy is applied, a scan
generation runs, live events are added while the poller runs on its schedule.

Invariants (checked against the fake's own records, not against what our code reports):
every event of the backfill span and of the live stream stored exactly once; every file
scanned in the generation; every open link an alert, no alert twice; each enforced action
applied in Box at most once and audited once; DLQs hold only the permanent fault (a poison
message planted on the bulk queue), with its reason logged; the revoked connection says so.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from boxcasb.cli.api_client import AdminApi
from boxcasb.cli.listing import MAX_PAGES, list_pages
from devstack.browser import consent
from devstack.chaos.crashes import FunctionCrashes, InjectedCrash
from devstack.fake_box import FakeBox
from devstack.fake_box.synthetic import synthetic_tenant
from devstack.resources import QUEUE
from devstack.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"  # noqa: S105 - the fake Box app's
ADMIN = "admin@acme.example"
COADMIN = "coadmin@acme.example"
BOX_API = r"^/2\.0/"
# The functions that run the pipelines; the admin API answers a person, who retries by hand.
PIPELINE = frozenset(
    {"ScanWorkerFunction", "PriorityScanFunction", "ActivityBackfillFunction", "ActivityPollerFunction"}
)
PLANTED_EXECUTABLES = 3
POISON_QUEUE, POISON_DLQ = "BulkScanQueue", "BulkScanDLQ"
READ_TIMEOUT_SECONDS = 3
OVERRIDES = """\
policies:
  - kind: file
    id: public-executable
    name: Executable shared publicly (enforced)
    severity: high
    mode: enforce
    filters:
      access: [public]
      extensions: [exe]
    actions:
      - type: remove_shared_link
"""


@dataclass(frozen=True)
class ChaosConfig:
    seed: int = 1
    box_fault_rate: float = 0.03  # per kind: 429, 503, drop; slow answers at a third of it
    crash_rate: float = 0.1  # of the pipeline functions' invocations
    redeliver_rate: float = 0.05  # of the messages handled successfully
    synthetic_files: int = 0  # 0: the seeded tenant; else a synthetic one of this many files
    synthetic_users: int = 20
    live_events: int = 200
    poller_runs: int = 6
    timeout_seconds: float = 900.0


@dataclass
class Invariant:
    name: str
    expected: Any
    actual: Any

    @property
    def held(self) -> bool:
        return bool(self.expected == self.actual)


@dataclass
class ChaosReport:
    config: ChaosConfig
    faults: dict[str, int] = field(default_factory=dict)
    invariants: list[Invariant] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def held(self) -> bool:
        return all(i.held for i in self.invariants)

    def to_json(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "seconds": round(self.seconds, 1),
            "faults_injected": self.faults,
            "invariants": [
                {"name": i.name, "held": i.held, "expected": i.expected, "actual": i.actual}
                for i in self.invariants
            ],
            "all_held": self.held,
        }

    def table(self) -> str:
        lines = ["fault injected                               count", "-" * 52]
        lines += [f"{name:<44} {count:>7}" for name, count in sorted(self.faults.items())]
        lines += ["", "invariant                                                      held", "-" * 68]
        for invariant in self.invariants:
            mark = "yes" if invariant.held else f"NO: expected {invariant.expected}, got {invariant.actual}"
            lines.append(f"{invariant.name:<62} {mark}")
        return "\n".join(lines)


def run(config: ChaosConfig) -> ChaosReport:
    started = time.monotonic()
    report = ChaosReport(config)
    with _fake_box(config) as box, _stack(box) as stack:
        crashes = _arm_functions(stack, config)
        failures = _record_failures()
        poison = _plant_poison(stack)
        planted = _plant_executables(box)
        open_links = _open_links(box)
        api = stack.admin_api()
        _arm_box(box, config)
        admin = _connect(api, stack, ADMIN)
        revoked = _connect(api, stack, COADMIN)
        _token_faults(box, revoked_login=COADMIN)
        applied = api.request("PUT", f"/connections/{admin}/policies", {"yaml": OVERRIDES})
        if not applied.get("applied"):
            raise RuntimeError(f"the overrides were not applied: {applied}")
        generation = int(api.request("POST", f"/connections/{admin}/scans", {})["scan"]["number"])
        live = _live_stream(box, stack, config)
        _drain(stack, config.timeout_seconds)
        # The faults stop; what is left must converge on its own.
        box.faults.clear()
        crashes.stop()
        stack.redeliver_processed(0.0, config.seed)
        for _ in range(3):  # enforcement writes events in Box; their rescans may write more
            _poll_until_quiet(stack)
            _drain(stack, config.timeout_seconds)
        report.faults = _faults_table(box, stack, crashes)
        report.invariants = [
            *_activity_invariants(api, box, admin, live),
            *_scan_invariants(api, box, admin, generation),
            *_alert_invariants(api, admin, open_links),
            *_governance_invariants(api, box, admin, planted),
            _revoked_invariant(api, revoked),
            _dlq_invariant(stack),
            _poison_invariant(stack, poison, failures),
        ]
    report.seconds = time.monotonic() - started
    return report


# --- the stack and the fake ------------------------------------------------------------


@contextmanager
def _fake_box(config: ChaosConfig) -> Iterator[FakeBox]:
    box = FakeBox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=0)
    if config.synthetic_files:
        tenant = synthetic_tenant(
            files=config.synthetic_files, users=config.synthetic_users, seed=config.seed
        )
        tenant.add_user(COADMIN, "Colin Coadmin", role="coadmin")  # the admin whose grant is revoked
        now = tenant.now()  # two events per file over the backfill's 60 days
        tenant.add_synthetic_events(
            2 * config.synthetic_files, now - timedelta(days=59), now, seed=config.seed
        )
        box.tenant = tenant
    box.faults.seed(config.seed)
    with box:
        yield box


@contextmanager
def _stack(box: FakeBox) -> Iterator[LocalStack]:
    # A slow answer must outlast the read timeout to be a timeout. 3 s, not less: on a loaded
    # machine (CI) ordinary answers took over a second, and a run turned into a backoff storm.
    os.environ["BOX_READ_TIMEOUT_SECONDS"] = str(READ_TIMEOUT_SECONDS)
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    with LocalStack(
        template=str(ROOT / "template.yaml"),
        box_base_url=box.url,
        box_client_id=CLIENT_ID,
        box_client_secret=CLIENT_SECRET,
        parameter_overrides={
            "LogLevel": "ERROR",
            "BackfillSettleSeconds": "0",
            "BackfillWindowHours": "360",
            "ScanAfterApiTest": "false",  # the generation under test starts after the policy is in
        },
    ) as stack:
        # Failed messages come back in seconds instead of the template's minutes.
        stack.set_queue_visibility(10)
        yield stack


def _arm_functions(stack: LocalStack, config: ChaosConfig) -> FunctionCrashes:
    from boxcasb import aws_clients, settings, wiring

    # Clients copy their session's hooks when made: drop the cached ones, hook a fresh session.
    aws_clients.reset()
    settings.get_settings.cache_clear()
    wiring.reset()
    boto3.setup_default_session()
    crashes = FunctionCrashes(PIPELINE, config.crash_rate, config.seed)
    crashes.attach(boto3.DEFAULT_SESSION)
    stack.redeliver_processed(config.redeliver_rate, config.seed)
    return crashes


def _arm_box(box: FakeBox, config: ChaosConfig) -> None:
    rate = config.box_fault_rate
    box.faults.add(BOX_API, 429, retry_after=1, rate=rate, times=None)
    box.faults.add(BOX_API, 503, rate=rate, times=None)
    box.faults.add(BOX_API, drop=True, rate=rate, times=None)
    # Reads only: a write whose answer is lost is re-sent by boxsdk and Box applies it twice.
    # Every governance write is idempotent in effect (docs/architecture.md), but the run counts
    # Box writes to prove redeliveries and crashes never repeat an action.
    box.faults.add(BOX_API, delay_seconds=READ_TIMEOUT_SECONDS + 1, rate=rate / 3, times=None, method="GET")


def _token_faults(box: FakeBox, *, revoked_login: str) -> None:
    """Every access token expires twice while the work runs; one admin's grant is revoked for good."""

    def later() -> None:
        time.sleep(2)
        box.expire_access_tokens()
        box.revoke_refresh_tokens(login=revoked_login)
        time.sleep(3)
        box.expire_access_tokens()

    threading.Thread(target=later, name="chaos-tokens", daemon=True).start()


def _connect(api: AdminApi, stack: LocalStack, login: str) -> str:
    started = api.request("POST", "/connections", {})
    consent(started["authorize_url"], login)
    return str(started["connection_id"])


def _drain(stack: LocalStack, timeout: float) -> None:
    try:
        stack.wait_for_async(timeout=timeout)
    except TimeoutError:
        # Work still in hand after the whole drain: every thread's stack says where it waits.
        faulthandler.dump_traceback(all_threads=True)
        raise


def _live_stream(box: FakeBox, stack: LocalStack, config: ChaosConfig) -> set[str]:
    """Events added while the poller runs on its schedule; a killed run is followed by the next."""
    tenant = box.tenant
    with tenant.lock:
        actors = [u for u in tenant.users.values() if u.is_active and u.enterprise_id == tenant.enterprise.id]
    added: set[str] = set()
    per_run = max(1, config.live_events // config.poller_runs)
    for run_index in range(config.poller_runs):
        for i in range(per_run):
            actor = actors[(run_index * per_run + i) % len(actors)]
            added.add(tenant.add_event("LOGIN", actor).event_id)
        _run_poller(stack)
    return added


def _run_poller(stack: LocalStack) -> None:
    # Killed mid-run: the next scheduled run picks up from the last checkpoint.
    with suppress(InjectedCrash):
        stack.run_schedule("ActivityPollerFunction")


def _poll_until_quiet(stack: LocalStack) -> None:
    for _ in range(3):
        _run_poller(stack)


# --- what the run starts from ----------------------------------------------------------


def _plant_executables(box: FakeBox) -> list[str]:
    tenant = box.tenant
    with tenant.lock:
        owner = next(u for u in tenant.users.values() if u.is_active and u.role == "user")
        root = tenant.root_of(owner)
        return [
            tenant.add_file(root, f"tool-{i}.exe", b"MZ not really a program", shared_link="open").id
            for i in range(PLANTED_EXECUTABLES)
        ]


def _open_links(box: FakeBox) -> set[str]:
    """Files of the admin connection's reach behind an open link, before anything is enforced."""
    tenant = box.tenant
    reach = _scannable(box)
    with tenant.lock:
        return {
            f.id
            for f in tenant.files.values()
            if f.id in reach
            and f.shared_link is not None
            and (f.shared_link.effective_access or f.shared_link.access) == "open"
        }


def _scannable(box: FakeBox) -> set[str]:
    tenant = box.tenant
    with tenant.lock:
        owners = {
            u.id for u in tenant.users.values() if u.is_active and u.enterprise_id == tenant.enterprise.id
        }
        return {f.id for f in tenant.files.values() if f.owner_id in owners}


# --- invariants ------------------------------------------------------------------------


def _pages(api: AdminApi, path: str, key: str, **query: str) -> list[dict[str, Any]]:
    entries, cursor = list_pages(api, path, key, dict(query), all_pages=True, show=None)
    if cursor is not None:
        raise RuntimeError(f"{path}: more than {MAX_PAGES} pages; the run is too large to check this way")
    return entries


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _activity_invariants(api: AdminApi, box: FakeBox, cid: str, live: set[str]) -> list[Invariant]:
    backfill = api.request("GET", f"/connections/{cid}")["activity"]["backfill"]
    start = datetime.fromisoformat(backfill["span_start"])
    with box.tenant.lock:
        expected = {e.event_id for e in box.tenant.events if e.created_at >= start}
    listed = _pages(
        api,
        f"/connections/{cid}/activities",
        "events",
        since=_iso(start),
        until=_iso(datetime.now(UTC) + timedelta(minutes=5)),
        limit="500",
    )
    ids = [e["event_id"] for e in listed]
    return [
        Invariant("backfill finished", "finished", backfill["status"]),
        Invariant("no event stored twice", len(ids), len(set(ids))),
        Invariant("every event of the span and the stream stored", len(expected), len(expected & set(ids))),
        Invariant("every live event stored", len(live), len(live & set(ids))),
        Invariant("no event stored that Box does not have", 0, len(set(ids) - expected)),
    ]


def _scan_invariants(api: AdminApi, box: FakeBox, cid: str, generation: int) -> list[Invariant]:
    scan = api.request("GET", f"/connections/{cid}")["scan"]
    files = {
        f["file_id"]: f
        for exposure in ("public", "external", "company", "internal", "private")
        for f in _pages(api, f"/connections/{cid}/files", "files", exposure=exposure, limit="1000")
    }
    unfinished = [
        g for g in scan["gaps"] if g["kind"] in ("unfinished", "folder_unreadable", "file_unreadable")
    ]
    scannable = _scannable(box)
    return [
        Invariant("the generation completed", (generation, "complete"), (scan["number"], scan["status"])),
        Invariant("no work left unfinished (gaps)", [], unfinished),
        Invariant("every file in the inventory", len(scannable), len(scannable & set(files))),
        Invariant(
            "every file scanned in the generation",
            0,
            sum(1 for f in files.values() if f["file_id"] in scannable and f["generation"] != generation),
        ),
    ]


def _alert_invariants(api: AdminApi, cid: str, open_links: set[str]) -> list[Invariant]:
    alerts = _pages(api, "/alerts", "alerts", connection=cid)
    keys = [(a["policy_id"], a["object_id"]) for a in alerts]
    public = {object_id for policy, object_id in keys if policy == "public-link"}
    files = {f["file_id"]: f for f in _pages(api, f"/connections/{cid}/files", "files", exposure="public")}
    missed = {
        f: {k: files.get(f, {}).get(k) for k in ("result", "matched_policies", "generation", "exposure")}
        for f in sorted(open_links - public)
    }
    return [
        Invariant("no alert twice (per policy and object)", len(keys), len(set(keys))),
        Invariant("every open link made an alert (missed: what the inventory says)", {}, missed),
    ]


def _governance_invariants(api: AdminApi, box: FakeBox, cid: str, planted: list[str]) -> list[Invariant]:
    audit = api.request("GET", f"/connections/{cid}/actions")["actions"]
    applied = sorted(
        r["file_id"] for r in audit if r["action"] == "remove_shared_link" and r["result"] == "applied"
    )
    with box.tenant.lock:
        still_linked = [f for f in planted if box.tenant.files[f].shared_link is not None]
    box_writes = {
        f: sum(
            1
            for r in box.requests
            if r.method == "PUT" and r.path == f"/2.0/files/{f}" and 200 <= r.status < 300
        )
        for f in planted
    }
    return [
        Invariant("each enforced link removed in Box", [], still_linked),
        Invariant("each removal applied in Box at most once", {f: 1 for f in planted}, box_writes),
        Invariant("each applied action audited once", sorted(planted), applied),
    ]


def _revoked_invariant(api: AdminApi, cid: str) -> Invariant:
    status = api.request("GET", f"/connections/{cid}")["status"]
    return Invariant("the revoked connection asks for a reconnect", "reconnect_required", status)


def _dlq_invariant(stack: LocalStack) -> Invariant:
    sqs = stack.client("sqs")
    depths: dict[str, int] = {}
    for logical_id, resource in stack.resources.items():
        if resource.type == QUEUE and logical_id.endswith("DLQ"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=resource.ref, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            depths[logical_id] = int(attributes["ApproximateNumberOfMessages"])
    return Invariant(
        "dead-letter queues hold only the permanent fault (the poison message)",
        {POISON_DLQ: 1},
        {q: n for q, n in depths.items() if n},
    )


class _RecordFailures(logging.Handler):
    """The reasons the SQS workers log for failed records (boxcasb.sqs_batch), by message id."""

    def __init__(self, message: str) -> None:
        super().__init__(logging.WARNING)
        self._message = message
        self.reasons: dict[str, list[str]] = {}
        self._lock_reasons = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg != self._message:
            return
        with self._lock_reasons:
            self.reasons.setdefault(str(getattr(record, "message_id", "")), []).append(
                str(getattr(record, "error", ""))
            )


def _record_failures() -> _RecordFailures:
    """Hear the functions' record-failure warnings; what they print stays at the stack's LogLevel.

    Imported here, once the stack has set the functions' environment (their LogLevel).
    """
    from boxcasb.observability import logger
    from boxcasb.sqs_batch import RECORD_FAILED

    python_logger = logging.getLogger(logger.name)
    printed_at = python_logger.getEffectiveLevel()
    for handler in python_logger.handlers:
        handler.setLevel(max(handler.level, printed_at))
    python_logger.setLevel(logging.WARNING)
    failures = _RecordFailures(RECORD_FAILED)
    python_logger.addHandler(failures)
    return failures


def _plant_poison(stack: LocalStack) -> str:
    """A permanent fault: a bulk message no worker can read. It must end in the DLQ, with why."""
    sent = stack.client("sqs").send_message(
        QueueUrl=stack.resources[POISON_QUEUE].ref, MessageBody=json.dumps({"job": {"kind": "folder"}})
    )
    return str(sent["MessageId"])


def _poison_invariant(stack: LocalStack, poison: str, failures: _RecordFailures) -> Invariant:
    dead = stack.client("sqs").receive_message(
        QueueUrl=stack.resources[POISON_DLQ].ref, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )
    ids = sorted(str(m["MessageId"]) for m in dead.get("Messages", []))
    # The reason of each try that reached the worker (a try cut short by a crash logs none).
    reasons = sorted(set(failures.reasons.get(poison, [])))
    return Invariant(
        "the poison message is in its DLQ, with its reason logged",
        ([poison], ["ValidationError"]),
        (ids, reasons),
    )


def _faults_table(box: FakeBox, stack: LocalStack, crashes: FunctionCrashes) -> dict[str, int]:
    names = {
        "429": "Box 429 with Retry-After",
        "503": "Box 503",
        "drop": "Box connection dropped",
        "delay": "Box answer past the read timeout",
    }
    table = {names.get(kind, f"Box {kind}"): count for kind, count in box.faults.applied().items()}
    table["Box access tokens expired (all at once)"] = 2
    table["Box refresh token revoked (one admin)"] = 1
    for function, count in crashes.crashes.items():
        table[f"{function} killed after a write"] = count
    for function, count in stack.redelivered().items():
        if count:
            table[f"{function}: processed message redelivered"] = count
    table["conditional writes refused (duplicate work met)"] = sum(crashes.conflicts.values())
    table["permanent fault: a bulk message no worker can read"] = 1
    return table
