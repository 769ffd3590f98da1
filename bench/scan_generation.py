"""Scan generations at scale: a synthetic tenant of N files scanned through the local stack.

The way production does it: the admin (admin@acme.example) connects (the first scan after the
Test API is off, ScanAfterApiTest=false, and the activity backfill is four 15-day windows over
an empty event log), then `POST /connections/{id}/scans` starts each generation and the real
scan worker, fed by the local SQS event source (BatchSize 5, one poller), walks the tenant of
the fake Box. The clock runs from the POST until the generation is closed (its ledger item,
polled), which `GET /connections/{id}` then shows complete.

1. the first generation: every file is new;
2. a second generation, nothing changed: listings only, no file is scanned again;
3. a third after 1% of the files got new content (`touch_files`), during which a few files get
   an open shared link and a priority message (what a webhook queues): queued → the inventory
   record shows them public, and whether the generation was still running then. After it, the
   same for a few other files with no generation running: the priority path alone.

Counted: Box calls by the fake Box's request log (folder listings, collaborations, users,
other); DynamoDB and SQS requests by a botocore `before-call` hook on the session the handlers'
clients come from (as bench.activity_ingest does), by the thread that made them, so the scan
worker's requests are told apart from the admin API's (this benchmark's polling) and the
priority worker's; the event source's own receives and deletes on the pollers' clients.
Peak RSS is the process's high-water mark, reset before each generation (`/proc/self/clear_refs`).

moto (DynamoDB, SQS), the fake Box and every handler share this one process and its GIL, with
one bulk worker where production runs up to ScanBulkConcurrency Lambdas: files per second here
are a floor for our code plus moto, and Box calls are paced by the connection's rate limit.

`python -m bench.scan_generation --files N` (default 100,000; users scale with N, 500 files
each, the synthetic tenant's own shape at 100,000 files and 200 users). `--policies` picks what
judges the files: none (default: every deployed policy switched off, the scan alone), deployed
(policies/ as shipped), inspect-all (one content policy that reads every file's text).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import resource
import statistics
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench import emit
from bench.activity_ingest import (
    Sampler,
    _json_body,
    thread_component,
)
from devstack.browser import consent
from devstack.fake_box import FakeBox, File, Tenant
from devstack.fake_box.recorder import RecordedRequest
from devstack.fake_box.synthetic import ADMIN_LOGIN, stats, synthetic_tenant, touch_files
from devstack.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID, CLIENT_SECRET = "bench-client-id", "bench-client-secret"
DEFAULT_FILES = 100_000
MAKE_BENCH_FILES = 10_000  # what `python -m bench` runs (the default size takes far longer)
MAKE_BENCH_INSPECT_FILES = 2_000  # and with every file's text read
FILES_PER_USER = 500  # synthetic_tenant's defaults: 100,000 files over 200 users
CHANGED_FRACTION = 0.01
PRIORITY_FILES = 5  # files rescanned by priority during generation 3, and as many after it
PAGE = 1000  # ScanReads.PAGE_LIMIT: items per listing page
PARAMETERS = {
    "LogLevel": "WARNING",
    "BackfillSettleSeconds": "0",
    "BackfillWindowHours": "360",  # four windows, as tests/conftest.py does
    "ScanAfterApiTest": "false",  # connecting starts no scan: each generation is started here
}
WORKER, PRIORITY = "ScanWorkerFunction", "PriorityScanFunction"
BENCH, OTHERS = "bench (main thread)", "admin API and async invocations"
POLL_SECONDS = 0.25  # the ledger, while a generation runs
PRIORITY_POLL_SECONDS = 0.02
PRIORITY_TIMEOUT = 60.0

_KINDS = (
    ("folder_listings", re.compile(r"^/2\.0/folders/[^/]+/items$")),
    ("collaborations", re.compile(r"^/2\.0/(files|folders)/[^/]+/collaborations$")),
    ("users", re.compile(r"^/2\.0/users(/me)?$")),
)
_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})
_TRANSACTIONS = frozenset({"TransactWriteItems"})


# --- AWS requests, by the thread (so the function) that made them --------------------------------


def _component() -> str:
    thread = threading.current_thread()
    if thread is threading.main_thread():
        return BENCH
    if thread.name.startswith("devstack-sqs-"):  # devstack-sqs-<function>-<event>: that function's poller
        return thread.name.removeprefix("devstack-sqs-").rsplit("-", 1)[0]
    return OTHERS


Key = tuple[str, str]  # (component, "<service>.<Operation>.<table or queue>")


class AwsRequests:
    """DynamoDB, SQS, KMS and Secrets Manager requests (one per API call, retries not included),
    and the items DynamoDB batches and transactions and SQS batches carry."""

    def __init__(self, tables: Mapping[str, str], queues: Mapping[str, str]) -> None:
        self._tables = dict(tables)  # physical name -> our label
        self._queues = dict(queues)  # queue URL -> our label
        self._lock = threading.Lock()
        self.calls: Counter[Key] = Counter()
        self.items: Counter[Key] = Counter()  # batch items, transaction actions, messages

    def attach(self, events: Any) -> None:
        events.register("before-call.dynamodb", self._dynamodb)
        events.register("before-call.sqs", self._sqs)
        events.register("before-call.kms", self._other)  # the stored Box tokens are KMS-encrypted
        events.register("before-call.secrets-manager", self._other)  # the Box app's credentials

    def snapshot(self) -> tuple[Counter[Key], Counter[Key]]:
        with self._lock:
            return Counter(self.calls), Counter(self.items)

    def _table(self, name: object) -> str:
        return self._tables.get(str(name or ""), "other")

    def _dynamodb(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        op, body, who = model.name, _json_body(params), _component()
        counted: list[tuple[str, int]] = []
        if op in ("BatchWriteItem", "BatchGetItem"):
            for table, request in body.get("RequestItems", {}).items():
                n = len(request) if op == "BatchWriteItem" else len(request.get("Keys", []))
                counted.append((f"dynamodb.{op}.{self._table(table)}", n))
        elif op in ("TransactWriteItems", "TransactGetItems"):
            actions = body.get("TransactItems", [])
            tables = sorted({self._table(a.get("TableName")) for x in actions for a in x.values()})
            counted.append((f"dynamodb.{op}.{'+'.join(tables)}", len(actions)))
        else:
            counted.append((f"dynamodb.{op}.{self._table(body.get('TableName'))}", 1))
        with self._lock:
            for key, n in counted:
                self.calls[(who, key)] += 1
                self.items[(who, key)] += n

    def _sqs(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        body, who = _json_body(params), _component()
        key = f"sqs.{model.name}.{self._queues.get(str(body.get('QueueUrl', '')), 'other')}"
        with self._lock:
            self.calls[(who, key)] += 1
            self.items[(who, key)] += len(body.get("Entries", [])) or 1

    def _other(self, model: Any, **_: Any) -> None:
        key = f"{model.service_model.service_name}.{model.name}"
        with self._lock:
            self.calls[(_component(), key)] += 1
            self.items[(_component(), key)] += 1


def _count_requests(stack: LocalStack) -> tuple[AwsRequests, AwsRequests]:
    """Hook the handlers' session (their cached clients dropped first) and the pollers' clients."""
    import boto3

    from boxcasb import aws_clients, settings, wiring

    aws_clients.reset()
    settings.get_settings.cache_clear()
    wiring.reset()
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    env = stack.env
    tables = {
        env["TABLE_NAME"]: "state",
        env["INVENTORY_TABLE_NAME"]: "inventory",
        env["ACTIVITY_TABLE_NAME"]: "activity",
    }
    queues = {
        env["BULK_SCAN_QUEUE_URL"]: "bulk",
        env["PRIORITY_SCAN_QUEUE_URL"]: "priority",
        env["BACKFILL_QUEUE_URL"]: "backfill",
    }
    handlers, event_sources = AwsRequests(tables, queues), AwsRequests(tables, queues)
    handlers.attach(boto3.DEFAULT_SESSION.events)
    for poller in stack._pollers:  # the event source mappings' receives and deletes
        event_sources.attach(poller._client.meta.events)
    return handlers, event_sources


def _kind_of(op: str) -> str:
    if op in _READS:
        return "reads"
    if op in _TRANSACTIONS:
        return "transactions"
    return "writes" if op in _WRITES else "other"


def _per(value: float, files: int, digits: int = 4) -> float:
    return round(value / files, digits) if files else 0.0


def dynamodb_report(calls: Counter[Key], items: Counter[Key], component: str, files: int) -> dict[str, Any]:
    mine = {key: n for (who, key), n in calls.items() if who == component and key.startswith("dynamodb.")}
    kinds: Counter[str] = Counter()
    for key, n in mine.items():
        kinds[_kind_of(key.split(".")[1])] += n
    batched = {
        key: items[(component, key)]
        for key in mine
        if key.split(".")[1] in ("BatchWriteItem", "BatchGetItem", "TransactWriteItems")
    }
    return {
        "requests": sum(mine.values()),
        **{kind: kinds[kind] for kind in ("reads", "writes", "transactions")},
        "per_file": {
            "requests": _per(sum(mine.values()), files),
            **{kind: _per(kinds[kind], files) for kind in ("reads", "writes", "transactions")},
        },
        "by_operation": dict(sorted(mine.items())),
        "items_in_batches_and_transactions": dict(sorted(batched.items())),
    }


def sqs_report(calls: Counter[Key], items: Counter[Key], component: str, files: int) -> dict[str, Any]:
    mine = {key: n for (who, key), n in calls.items() if who == component and key.startswith("sqs.")}
    sends = {key: items[(component, key)] for key in mine if ".SendMessage" in key}
    return {
        "requests": sum(mine.values()),
        "requests_per_file": _per(sum(mine.values()), files),
        "by_operation": dict(sorted(mine.items())),
        "messages_sent": dict(sorted(sends.items())),
        "messages_sent_per_file": _per(sum(sends.values()), files),
    }


# --- where the CPU goes: activity_ingest's sampler, pointed at the scan workers ------------------

SCAN_WORKER_THREAD = f"devstack-sqs-{WORKER}-"
PRIORITY_WORKER_THREAD = f"devstack-sqs-{PRIORITY}-"


def _scan_component(thread: threading.Thread, frame: FrameType | None) -> str:
    if thread.name.startswith(SCAN_WORKER_THREAD):
        return "scan worker thread"
    if thread.name.startswith(PRIORITY_WORKER_THREAD):
        return "priority worker thread"
    return thread_component(thread, frame)


class ScanSampler(Sampler):
    """CPU by thread (moto's request threads, the fake Box's, the workers) and what the scan worker
    thread is doing, sampled at 50 Hz: activity_ingest's Sampler with the scan worker as its worker."""

    def worker(self) -> threading.Thread | None:
        return next((t for t in threading.enumerate() if t.name.startswith(SCAN_WORKER_THREAD)), None)

    def component(self, thread: threading.Thread, frame: FrameType | None) -> str:
        return _scan_component(thread, frame)

    def report(self, process_cpu: float) -> dict[str, Any]:
        worker = Counter({k: v for k, v in self.samples.items() if not k.startswith("event source poller")})
        attributed = sum(self.cpu.values())
        return {
            "cpu_seconds_by_thread": {
                **{k: round(v, 1) for k, v in sorted(self.cpu.items(), key=lambda kv: -kv[1])},
                "unattributed (threads that exited)": round(process_cpu - attributed, 1),
            },
            "scan_worker_thread_wall_share_sampled": {
                k: round(v / max(1, worker.total()), 3) for k, v in worker.most_common()
            },
        }


# --- Box calls, from the fake's request log ------------------------------------------------------


def box_kind(path: str) -> str:
    return next((kind for kind, pattern in _KINDS if pattern.match(path)), "other")


def generic_path(path: str) -> str:
    return re.sub(r"/[0-9]+(?=/|$)", "/{id}", path)


def box_report(requests: list[RecordedRequest], files: int) -> dict[str, Any]:
    kinds = Counter(box_kind(r.path) for r in requests)
    other = Counter(generic_path(r.path) for r in requests if box_kind(r.path) == "other")
    collaborations = Counter(r.path.split("/")[2] for r in requests if box_kind(r.path) == "collaborations")
    names = ("folder_listings", "collaborations", "users", "other")
    return {
        "total": len(requests),
        "per_file": _per(len(requests), files, 5),
        "by_kind": {kind: kinds[kind] for kind in names},
        "per_file_by_kind": {kind: _per(kinds[kind], files, 5) for kind in names},
        "collaborations_on": {"files": collaborations["files"], "folders": collaborations["folders"]},
        "other_paths": dict(other.most_common()),
        "not_2xx": sum(1 for r in requests if not 200 <= r.status < 300),
    }


@dataclass(frozen=True)
class Walk:
    """What a generation should ask Box, computed from the tenant (not from the code under test)."""

    folders_listed: int  # every folder of a walked user, their root included
    listing_pages: int
    extra_pages: int  # pages beyond the first, for folders of more than 1,000 items
    collaborated_folders: int  # asked every generation: their collaborators flow down to the files
    collaborated_files: int  # asked when the file is scanned (new or changed)
    users_pages: int  # GET /users/me and the managed users, 1,000 a page

    def expected(self, changed: set[str] | None, tenant: Tenant) -> dict[str, int]:
        if changed is None:
            files = self.collaborated_files
        else:
            with tenant.lock:
                files = sum(
                    1 for i in changed if i in tenant.files and tenant.collaborations_on(tenant.files[i])
                )
        calls = {
            "folder_listings": self.listing_pages,
            "collaborations": self.collaborated_folders + files,
            "users": self.users_pages,
        }
        return {**calls, "total": sum(calls.values())}


def walk_of(tenant: Tenant) -> Walk:
    with tenant.lock:
        enterprise = tenant.enterprise.id
        managed = [u for u in tenant.users.values() if u.enterprise_id == enterprise]
        walked = {u.id: u for u in managed if u.is_active}
        sizes = [len(tenant.listing(user, tenant.root_of(user))) for user in walked.values()]
        folders = [f for f in tenant.folders.values() if not f.is_root and f.owner_id in walked]
        sizes += [len(tenant.children(folder)) for folder in folders]
        pages = [max(1, math.ceil(n / PAGE)) for n in sizes]
        return Walk(
            folders_listed=len(sizes),
            listing_pages=sum(pages),
            extra_pages=sum(pages) - len(pages),
            collaborated_folders=sum(1 for f in folders if tenant.collaborations_on(f)),
            collaborated_files=sum(
                1 for f in tenant.files.values() if f.owner_id in walked and tenant.collaborations_on(f)
            ),
            users_pages=1 + max(1, math.ceil(len(managed) / PAGE)),
        )


# --- memory -----------------------------------------------------------------------------------------


def _status_mb(field_name: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field_name}:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _reset_peak_rss() -> bool:
    """Start the high-water mark (VmHWM) again from the current RSS (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


# --- one run ----------------------------------------------------------------------------------------


@dataclass
class Bench:
    box: FakeBox
    stack: LocalStack
    api: Any
    connection_id: str
    handlers: AwsRequests
    event_sources: AwsRequests
    timeout: float
    peak_resets: bool = True
    notes: list[str] = field(default_factory=list)


def _wait_for_generation(b: Bench, number: int) -> dict[str, Any]:
    """Poll the ledger (one GetItem) until the generation is closed, then read it as the API shows it.

    GET /connections/{id} every quarter second would cost about as many DynamoDB requests as the
    worker makes in a small generation, in the same process: it is asked once at the end."""
    from boxcasb.wiring import services

    deadline = time.monotonic() + b.timeout
    while True:
        stored = services().scan_ledger.get(b.connection_id, number)
        if stored is not None and stored.status.value != "running":
            scan = b.api.request("GET", f"/connections/{b.connection_id}")["scan"] or {}
            if scan.get("number") == number and scan.get("status") != "running":
                return dict(scan)
        if time.monotonic() > deadline:
            status = None if stored is None else stored.status.value
            raise TimeoutError(f"scan generation {number} still {status} after {b.timeout}s")
        time.sleep(POLL_SECONDS)


def generation(
    b: Bench, walk: Walk, changed: set[str] | None, during: Callable[[int], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Start a generation, wait for it to complete, and report what it cost."""
    b.box.clear_requests()
    calls0, items0 = b.handlers.snapshot()
    esm0, _ = b.event_sources.snapshot()
    b.peak_resets = _reset_peak_rss() and b.peak_resets
    sampler = ScanSampler()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    sampler.start()
    number = int(b.api.request("POST", f"/connections/{b.connection_id}/scans", {})["scan"]["number"])
    concurrent = during(number) if during is not None else None
    scan = _wait_for_generation(b, number)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    sampler.stop()
    peak = _status_mb("VmHWM")
    requests = b.box.requests
    b.stack.wait_for_async(timeout=120)  # the last batch's deletes, and nothing left over
    calls1, items1 = b.handlers.snapshot()
    esm1, _ = b.event_sources.snapshot()
    calls, items, esm = calls1 - calls0, items1 - items0, esm1 - esm0
    counters = scan["counters"]
    files = int(counters["files_seen"])
    server = datetime.fromisoformat(scan["finished_at"]) - datetime.fromisoformat(scan["started_at"])
    report: dict[str, Any] = {
        "scan": {
            "number": number,
            "status": scan["status"],
            "counters": counters,
            "gaps": dict(Counter(g["kind"] for g in scan.get("gaps", []))),
        },
        "time": {
            "wall_seconds": round(wall, 2),
            "files_per_second": round(files / wall, 1) if wall else 0.0,
            "server_seconds_started_to_finished": round(server.total_seconds(), 2),
            "process_cpu_seconds": round(cpu, 1),
        },
        "box_calls": {
            **box_report(requests, files),
            "expected_from_tenant": walk.expected(changed, b.box.tenant),
            "listing_pages_in_scan_counters": counters.get("box_calls"),
        },
        "where_the_cpu_goes": sampler.report(cpu),
        "dynamodb": {"scan_worker": dynamodb_report(calls, items, WORKER, files)},
        "sqs": {
            "scan_worker": sqs_report(calls, items, WORKER, files),
            "event_source_bulk_queue": {
                k.split(".")[1]: n for (_, k), n in sorted(esm.items()) if k.endswith(".bulk")
            },
        },
        "kms_and_secrets_manager": {
            "scan_worker": {
                k: n
                for (w, k), n in sorted(calls.items())
                if w == WORKER and k.startswith(("kms.", "secretsmanager."))
            },
        },
        "requests_of_others_in_the_window": {
            who: dict(sorted((k, n) for (w, k), n in calls.items() if w == who))
            for who in sorted({w for w, _ in calls} - {WORKER})
        },
        "memory": {"peak_rss_mb": peak, "rss_after_mb": _status_mb("VmRSS")},
    }
    if any(w == PRIORITY for w, _ in calls):
        report["dynamodb"]["priority_worker"] = dynamodb_report(calls, items, PRIORITY, files)
    if concurrent is not None:
        report["during"] = concurrent
    return report


def priority_calls(tenant: Tenant, files: list[File]) -> dict[str, int]:
    """What the priority path asks Box for these files (boxcasb.scan.priority, computed from the tenant):
    the file with its path, the collaborations of every folder above it (root left out: nothing says
    which have any), and the file's own collaborations if it has some."""
    with tenant.lock:
        above = sum(len(tenant.ancestors(f)) - 1 for f in files)
        own = sum(1 for f in files if tenant.collaborations_on(f))
    calls = {"file_gets": len(files), "folder_collaborations": above, "file_collaborations": own}
    return {**calls, "total": sum(calls.values())}


def _folder_key(tenant: Tenant, file: File) -> str:
    """Where the inventory keeps the file: its folder's id, or `0@<owner>` for a root."""
    parent = tenant.folders[file.parent_id or ""]
    return f"0@{file.owner_id}" if parent.is_root else parent.id


def pick_targets(tenant: Tenant, count: int, avoid: set[str]) -> list[File]:
    """Files without an open link, deep in the trees of the users walked last (highest ids first):
    the bulk scan reaches them late, so a priority rescan has something to overtake."""
    with tenant.lock:
        enterprise = tenant.enterprise.id
        users = sorted(
            (u for u in tenant.users.values() if u.enterprise_id == enterprise and u.is_active),
            key=lambda u: u.id,
            reverse=True,
        )
        by_owner: dict[str, list[File]] = {}
        for file in tenant.files.values():
            open_link = file.shared_link is not None and file.shared_link.access == "open"
            if file.id not in avoid and not open_link:
                by_owner.setdefault(file.owner_id, []).append(file)
        for candidates in by_owner.values():
            candidates.sort(key=lambda f: (len(tenant.ancestors(f)), int(f.id)))
        chosen: list[File] = []
        while len(chosen) < count and any(by_owner.get(u.id) for u in users):
            for user in users:
                if by_owner.get(user.id) and len(chosen) < count:
                    chosen.append(by_owner[user.id].pop())
        return chosen


def priority_rescans(b: Bench, targets: list[File], number: int | None) -> list[dict[str, Any]]:
    """For each file: an open link, its priority message, then poll the inventory until it shows it.

    Each file only once: the priority queue's deduplication id is the item, and SQS drops a second
    message for it for 5 minutes (moto only while the first is still queued)."""
    from boxcasb.activity.classify import ScanRequest
    from boxcasb.wiring import services

    tenant, cid, samples = b.box.tenant, b.connection_id, []
    for file in targets:
        with tenant.lock:
            tenant.set_shared_link(file, "open")
            key, owner = _folder_key(tenant, file), file.owner_id
        logged = len(b.box.requests)
        queued = time.monotonic()
        services().priority_queue().enqueue(
            cid, [ScanRequest("file", file.id, "SHARE", owner_id=owner)], "webhook"
        )
        latency, record, polls = None, None, 0
        while time.monotonic() - queued < PRIORITY_TIMEOUT:
            record = services().inventory.get(cid, key, file.id)
            polls += 1
            if record is not None and record.exposure.value == "public":
                latency = time.monotonic() - queued
                break
            time.sleep(PRIORITY_POLL_SECONDS)
        box_calls = Counter(generic_path(r.path) for r in b.box.requests[logged:])
        sample: dict[str, Any] = {
            "file_id": file.id,
            "depth": len(tenant.ancestors(file)) - 1,
            "latency_seconds": None if latency is None else round(latency, 3),
            # A priority rescan keeps the record's generation; the bulk scan writes its own.
            "written_by": None
            if latency is None or record is None
            else ("bulk" if number and record.generation == number else "priority"),
            "polls": polls,
        }
        if number is not None:
            generation = services().scan_ledger.get(cid, number)
            sample["generation_running"] = generation is not None and generation.status.value == "running"
        else:
            sample["box_calls"] = {"total": box_calls.total(), **dict(sorted(box_calls.items()))}
        samples.append(sample)
    return samples


def latency_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    seen = [s["latency_seconds"] for s in samples if s["latency_seconds"] is not None]
    by_priority = [s["latency_seconds"] for s in samples if s.get("written_by") == "priority"]
    summary: dict[str, Any] = {
        "files": len(samples),
        "public_within_timeout": len(seen),
        "p50_seconds": round(statistics.median(seen), 3) if seen else None,
        "max_seconds": max(seen) if seen else None,
        "written_by_priority_worker": len(by_priority),
        "p50_seconds_priority_written": round(statistics.median(by_priority), 3) if by_priority else None,
    }
    if samples and "generation_running" in samples[0]:
        summary["generation_running_when_seen"] = sum(1 for s in samples if s["generation_running"])
    return summary


def tenant_report(tenant: Tenant, walk: Walk) -> dict[str, Any]:
    counted = stats(tenant)
    listed = walk.folders_listed
    return {
        **counted.as_dict(),
        "mean_files_per_folder": round(counted.files / max(1, counted.folders), 1),
        "mean_files_per_folder_roots_included": round(counted.files / max(1, listed), 1),
        "shared_files_total": sum(counted.shared_files.values()),
        "shared_folders_total": sum(counted.shared_folders.values()),
    }


def what_drives(walk: Walk, files: int) -> dict[str, Any]:
    return {
        "folder_listings": (
            "one page per folder walked (each folder of an active managed user, and each such user's "
            "root), plus one per further 1,000 items in a folder; every generation"
        ),
        "collaborations": (
            "one call per collaborated folder in every generation (its collaborators flow down to "
            "the files below), and one per collaborated file when the file is scanned (new or changed)"
        ),
        "users": "GET /users/me and one page of GET /users per 1,000 managed users, once per generation",
        "folders_walked": walk.folders_listed,
        "listing_pages": walk.listing_pages,
        "extra_pages_for_folders_over_1000_items": walk.extra_pages,
        "collaborated_folders": walk.collaborated_folders,
        "collaborated_files": walk.collaborated_files,
        "users_pages": walk.users_pages,
        "expected_per_file_first_generation": _per(
            walk.listing_pages + walk.collaborated_folders + walk.collaborated_files + walk.users_pages,
            files,
            5,
        ),
        "expected_per_file_unchanged_generation": _per(
            walk.listing_pages + walk.collaborated_folders + walk.users_pages, files, 5
        ),
    }


INSPECT_ALL = """\
policies:
  - kind: file
    id: bench-read-every-file
    name: Every file's text through every built-in detector
    filters:
      size: {min_bytes: 0}
      content:
        detectors: {credit_card: 1, us_ssn: 1, iban: 1, email: 1, aws_access_key_id: 1, private_key: 1}
"""
POLICY_MODES = ("none", "deployed", "inspect-all")


def apply_policies(api: Any, cid: str, mode: str) -> dict[str, Any]:
    """none: every deployed policy switched off (the scan alone, as issue 5 measures it); deployed:
    the policies/ folder as shipped; inspect-all: none of those, and one content policy that reads
    every file's text (downloads, extraction in a child, detectors)."""
    if mode == "deployed":
        return api.request("GET", f"/connections/{cid}/policies")  # type: ignore[no-any-return]
    deployed = api.request("GET", f"/connections/{cid}/policies")["policies"]
    disable = "disable: [" + ", ".join(p["id"] for p in deployed) + "]\n"
    text = disable + (INSPECT_ALL if mode == "inspect-all" else "")
    return api.request("PUT", f"/connections/{cid}/policies", {"yaml": text})  # type: ignore[no-any-return]


def run_once(
    files: int,
    users: int,
    priority: int = PRIORITY_FILES,
    timeout: float = 3600.0,
    seed: int = 1,
    policies: str = "none",
) -> dict[str, Any]:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    rng = random.Random(seed)
    started = time.perf_counter()
    tenant = synthetic_tenant(files=files, users=users, seed=seed)
    built = time.perf_counter() - started
    walk = walk_of(tenant)
    result: dict[str, Any] = {
        "files": files,
        "users": users,
        "tenant_build_seconds": round(built, 1),
        "tenant": tenant_report(tenant, walk),
        "what_drives_box_calls_per_file": what_drives(walk, files),
    }
    with FakeBox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=0, history=False) as box:
        box.tenant = tenant
        with LocalStack(
            template=str(ROOT / "template.yaml"),
            box_base_url=box.url,
            box_client_id=CLIENT_ID,
            box_client_secret=CLIENT_SECRET,
            parameter_overrides=PARAMETERS,
        ) as stack:
            from boxcasb.wiring import services

            handlers, event_sources = _count_requests(stack)
            api = stack.admin_api()
            connect0 = time.perf_counter()
            begun = api.request("POST", "/connections", {})
            consent(begun["authorize_url"], ADMIN_LOGIN)
            stack.wait_for_async(timeout=300)
            cid = str(begun["connection_id"])
            applied = apply_policies(api, cid, policies)
            result["policies"] = {"mode": policies, "version": applied["version"]}
            connection = api.request("GET", f"/connections/{cid}")
            result["connect"] = {
                "wall_seconds": round(time.perf_counter() - connect0, 1),
                "status": connection.get("status"),
                "scan_started_by_connect": connection.get("scan") is not None,
                "box_calls": len(box.requests),
            }
            limits = services().settings.box_rate_limit
            result["rate_limit"] = {
                "per_minute": limits.per_minute,
                "window_seconds": limits.window_seconds,
                "bulk_lane_per_window": limits.lane_cap("bulk"),
                "bulk_lane_per_minute": limits.lane_cap("bulk") * 60 // limits.window_seconds,
            }
            b = Bench(box, stack, api, cid, handlers, event_sources, timeout)
            result["generation_1_first"] = generation(b, walk, None)
            result["generation_2_unchanged"] = generation(b, walk, set())

            touched = touch_files(tenant, max(1, round(files * CHANGED_FRACTION)), rng)
            during = pick_targets(tenant, priority, {f.id for f in touched})
            changed = {f.id for f in touched} | {f.id for f in during}

            def rescans_during(number: int) -> dict[str, Any]:
                time.sleep(1.0)  # under way: the start job and the first listings
                samples = priority_rescans(b, during, number)
                return {"priority_rescans": latency_summary(samples), "samples": samples}

            third = generation(b, walk, changed, rescans_during)
            third["files_touched"] = len(touched)
            expected = third["box_calls"]["expected_from_tenant"]
            total = expected.pop("total")
            expected["priority_rescans"] = priority_calls(tenant, during)["total"]
            expected["total"] = total + expected["priority_rescans"]
            result["generation_3_one_percent_changed"] = third

            idle = pick_targets(tenant, priority, changed)
            stack.wait_for_async(timeout=120)
            samples = priority_rescans(b, idle, None)
            stack.wait_for_async(timeout=120)
            result["priority_rescans_no_generation_running"] = {
                **latency_summary(samples),
                "box_calls_expected_from_tenant": priority_calls(tenant, idle),
                "box_calls_per_rescan": round(statistics.mean(s["box_calls"]["total"] for s in samples), 2)
                if samples
                else None,
                "samples": samples,
            }
            result["peak_rss_of_process_mb"] = round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            )
            if not b.peak_resets:
                result["note_peak_rss"] = "/proc/self/clear_refs refused: each peak is the process's so far"
    return result


def default_users(files: int) -> int:
    return max(2, round(files / FILES_PER_USER))


def run(
    files: int = DEFAULT_FILES,
    users: int | None = None,
    priority: int = PRIORITY_FILES,
    timeout: float = 3600.0,
    policies: str = "none",
) -> dict[str, Any]:
    result = run_once(files, users or default_users(files), priority, timeout, policies=policies)
    result["cores"] = len(os.sched_getaffinity(0))
    result["caveat"] = (
        "moto (DynamoDB, SQS), the fake Box and the handlers share this process and its GIL, with one "
        "bulk worker (BatchSize 5) where production runs several: files per second are a floor for our "
        "code plus moto, whose request threads take most of the CPU. The RSS grows by each generation "
        "with items moto keeps from its TransactWriteItems (it deep-copies the table once per action), "
        "not with the handlers' memory. Box calls are paced by the connection's rate limit (bulk lane)"
    )
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scan_generation",
        description="Three scan generations of a synthetic tenant through the local stack.",
    )
    parser.add_argument("--files", type=int, default=DEFAULT_FILES, help="files in the synthetic tenant")
    parser.add_argument(
        "--users", type=int, default=None, help=f"managed users (default: files / {FILES_PER_USER})"
    )
    parser.add_argument("--priority", type=int, default=PRIORITY_FILES, help="priority rescans per phase")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for each generation")
    parser.add_argument(
        "--policies",
        choices=POLICY_MODES,
        default="none",
        help="none: the scan alone (default); deployed: policies/ as shipped; inspect-all: read every file",
    )
    args = parser.parse_args(argv)
    return run(args.files, args.users, args.priority, args.timeout, args.policies)


if __name__ == "__main__":
    emit(main)
