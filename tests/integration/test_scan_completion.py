"""Scan work accounting on the local stack's DynamoDB: every job counted once, completion seen once.

These drive the bulk worker with jobs of a generation made here, so the work is exactly what
each test says (no message of theirs is on a queue the stack polls).
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from boxcasb.scan.inventory import InventoryStore
from boxcasb.scan.ledger import ScanLedger
from boxcasb.scan.model import (
    BulkMessage,
    FileBatchJob,
    GenerationStatus,
    ScanGeneration,
)
from boxcasb.scan.walk import BulkScanWorker
from boxcasb.wiring import services


class CountingLedger(ScanLedger):
    """The real ledger, counting who won the close."""

    def __init__(self, table: Any) -> None:
        super().__init__(table)
        self.closes = 0
        self._lock = threading.Lock()

    def close(self, generation: ScanGeneration, status: GenerationStatus) -> ScanGeneration | None:
        closed = super().close(generation, status)
        if closed is not None:
            with self._lock:
                self.closes += 1
        return closed


def generation_with_batches(ledger: ScanLedger, count: int) -> tuple[ScanGeneration, list[FileBatchJob]]:
    cid = str(uuid.uuid4())
    generation = ScanGeneration(
        connection_id=cid,
        number=1,
        trigger="on_demand",
        status=GenerationStatus.RUNNING,
        policy_version="metadata-1",
        started_at=datetime.now(UTC),
    )
    assert ledger.create(generation)
    batches = [
        FileBatchJob(connection_id=cid, generation=1, folder_id="500", batch=i, as_user=None, files=[])
        for i in range(count)
    ]
    assert ledger.register(cid, 1, "GENERATION", [b.job_id for b in batches]) == {b.job_id for b in batches}
    return generation, batches


def worker(ledger: ScanLedger) -> Any:
    svc = services()

    sent: list[Any] = []
    return BulkScanWorker(
        ledger,
        svc.inventory,
        sent.extend,
        lambda _cid: pytest.fail("no Box call expected"),
        lambda _cid: pytest.fail("no Box call expected"),
        svc.file_scanner,
        lambda message, delay: sent.append((message, delay)),
    )


def test_completion_is_detected_exactly_once_under_concurrency(stack: Any) -> None:
    ledger = CountingLedger(services().store.table)
    generation, batches = generation_with_batches(ledger, 120)
    bulk = worker(ledger)
    # Every batch twice (a redelivery of each), from 8 threads at once.
    work = batches + batches
    errors: list[BaseException] = []

    def run(share: list[FileBatchJob]) -> None:
        try:
            for job in share:
                bulk.handle(job)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    counters = ledger.counters(generation.connection_id, 1)
    assert (counters.jobs_registered, counters.jobs_finished) == (120, 120)
    assert ledger.closes == 1
    final = ledger.get(generation.connection_id, 1)
    assert final is not None
    assert final.status is GenerationStatus.COMPLETE
    assert final.counters.jobs_finished == 120


def test_a_crash_mid_batch_redelivers_only_the_failed_record(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services()
    ledger = svc.scan_ledger
    generation, batches = generation_with_batches(ledger, 3)
    records = [
        {
            "messageId": f"m{i}",
            "receiptHandle": f"r{i}",
            "body": BulkMessage(job=job).model_dump_json(),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1795748400000",
                "SenderId": "AROAEXAMPLEID:boxcasb",
                "ApproximateFirstReceiveTimestamp": "1795748400100",
            },
            "messageAttributes": {},
            "md5OfBody": "0" * 32,
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:boxcasb-BulkScanQueue-EXAMPLE",
            "awsRegion": "us-east-1",
        }
        for i, job in enumerate(batches)
    ]

    real = InventoryStore.put_many
    calls = {"n": 0}

    def dies_on_the_second(self: InventoryStore, connection_id: str, items: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the worker died mid-batch")
        real(self, connection_id, items)

    monkeypatch.setattr(InventoryStore, "put_many", dies_on_the_second)
    answer = stack.invoke("ScanWorkerFunction", {"Records": records})
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    counters = ledger.counters(generation.connection_id, 1)
    assert (counters.jobs_registered, counters.jobs_finished) == (3, 2)
    # SQS redelivers the failed record; a stray duplicate of the whole batch changes nothing.
    assert stack.invoke("ScanWorkerFunction", {"Records": [records[1]]}) == {"batchItemFailures": []}
    assert stack.invoke("ScanWorkerFunction", {"Records": records}) == {"batchItemFailures": []}
    final = ledger.get(generation.connection_id, 1)
    assert final is not None
    assert final.status is GenerationStatus.COMPLETE
    assert final.counters.jobs_finished == 3
    assert final.counters.errors == 0


def test_a_crash_between_the_last_finish_and_the_close_is_healed_by_the_redelivery(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by the chaos suite (seed 25): the redelivery saw its job finished, returned, and the
    # generation stayed running with every job done.
    ledger = CountingLedger(services().store.table)
    generation, batches = generation_with_batches(ledger, 2)
    bulk = worker(ledger)
    bulk.handle(batches[0])

    def dies_after_the_finish(self: ScanLedger, connection_id: str, number: int) -> Any:
        raise RuntimeError("Lambda timed out after the finish was written")

    with monkeypatch.context() as patch:
        patch.setattr(ScanLedger, "counters", dies_after_the_finish)
        with pytest.raises(RuntimeError, match="timed out"):
            bulk.handle(batches[1])
    stuck = ledger.get(generation.connection_id, 1)
    assert stuck is not None
    assert stuck.status is GenerationStatus.RUNNING
    bulk.handle(batches[1])  # SQS delivers it again
    final = ledger.get(generation.connection_id, 1)
    assert final is not None
    assert final.status is GenerationStatus.COMPLETE
    assert final.counters.jobs_finished == 2
    assert ledger.closes == 1
    bulk.handle(batches[1])  # and once more: the generation is closed, nothing changes
    assert ledger.closes == 1
