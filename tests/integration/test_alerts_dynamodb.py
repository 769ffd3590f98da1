"""Alerts over moto's DynamoDB (the table built from `TABLE_KEYS`) and SNS delivering to SQS.

Concurrency runs real threads. moto checks a condition and then writes with no lock between,
so `AtomicTable` serialises writes as DynamoDB's item-level atomicity would (the same device
as tests/unit/test_rate_limit.py and devstack's AtomicDynamoDB).
"""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from boxcasb.alerts.model import Alert, AlertQuery, AlertStatus, Finding, ObjectRef
from boxcasb.alerts.notify import NoNotifier, SnsNotifier
from boxcasb.alerts.service import AlertNotFound, AlertService
from boxcasb.alerts.store import TABLE_KEYS, AlertStore
from boxcasb.cursor import encode_cursor
from boxcasb.errors import InvalidRequest
from boxcasb.severity import Severity
from tests.support.moto_tables import server_table

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
C1, C2 = "c0ffee00-0000-4000-8000-000000000001", "c0ffee00-0000-4000-8000-000000000002"
RAW_CARD = "4111111111111111"  # what a detector matched; the caller only ever passes it masked
MASKED = "4111 **** **** 1111"


class AtomicTable:
    """The table with each conditional write under one lock; everything else as it is."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self._lock = threading.Lock()

    def put_item(self, **kwargs: Any) -> Any:
        with self._lock:
            return self._table.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


@dataclass
class Aws:
    table: Any
    store: AlertStore
    topic_arn: str
    queue_url: str
    sqs: Any
    sns: Any

    def service(self, **kwargs: Any) -> AlertService:
        notifier = kwargs.pop("notifier", SnsNotifier(self.sns, self.topic_arn))
        return AlertService(self.store, notifier, connections=lambda: [C1, C2], **kwargs)

    def messages(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            batch = answer.get("Messages", [])
            if not batch:
                return found
            for m in batch:
                found.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def aws(stack: Any) -> Iterator[Aws]:
    """Its own table, topic and subscriber queue on the local stack's moto server."""
    with server_table("alerts", keys=TABLE_KEYS) as table:
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        suffix = uuid.uuid4().hex[:8]
        topic_arn = sns.create_topic(Name=f"alerts-{suffix}")["TopicArn"]
        queue_url = sqs.create_queue(QueueName=f"alert-subscriber-{suffix}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        try:
            yield Aws(table, AlertStore(AtomicTable(table)), topic_arn, queue_url, sqs, sns)  # type: ignore[arg-type]
        finally:
            sns.delete_topic(TopicArn=topic_arn)
            sqs.delete_queue(QueueUrl=queue_url)


def finding(
    policy_id: str = "cards",
    at: datetime = T0,
    connection_id: str = C1,
    object_id: str = "123",
    severity: str = "high",
) -> Finding:
    return Finding.model_validate(
        {
            "connection_id": connection_id,
            "policy_id": policy_id,
            "policy_name": f"Policy {policy_id}",
            "severity": severity,
            "object_type": "file",
            "object_id": object_id,
            "object_name": f"file-{object_id}.xlsx",
            "object_path": "/Finance",
            "owner_login": "ann@acme.example",
            "evidence": {"detector_counts": {"card": 2}, "samples": [MASKED, "5500 **** **** 0004"]},
            "observed_at": at,
            "source": {"kind": "scan", "generation": 3},
        }
    )


def obj(object_id: str = "123", connection_id: str = C1) -> ObjectRef:
    return ObjectRef(connection_id=connection_id, object_type="file", object_id=object_id)


def observe_in_threads(service: AlertService, f: Finding, workers: int = 8) -> list[Any]:
    start = threading.Barrier(workers)

    def run(_: int) -> Any:
        start.wait()
        return service.observe(f.object, {f.policy_id}, [f], observed_at=f.observed_at)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(workers)))


def test_threads_observing_one_finding_open_it_once_and_publish_once(aws: Aws) -> None:
    service = aws.service()
    results = observe_in_threads(service, finding())

    assert sum(len(r.opened) for r in results) == 1
    assert sum(len(r.updated) for r in results) == 7
    (message,) = aws.messages()
    body = json.loads(message["Message"])
    assert body["change"] == "opened"
    assert message["MessageAttributes"]["severity"] == {"Type": "String", "Value": "high"}
    assert message["MessageAttributes"]["policy_id"] == {"Type": "String", "Value": "cards"}
    (stored,) = aws.store.alerts_of(obj())
    assert stored.alert.times_seen == 8
    assert stored.alert.notification.sent_for_opening == 1
    assert stored.alert.notification.claimed_until is None

    # A resolution, then threads matching again: reopened once, announced once more.
    service.observe(obj(), {"cards"}, [], observed_at=T0 + timedelta(hours=1))
    results = observe_in_threads(service, finding(at=T0 + timedelta(hours=2)))
    assert sum(len(r.reopened) for r in results) == 1
    assert [json.loads(m["Message"])["change"] for m in aws.messages()] == ["reopened"]


def test_a_redelivered_observation_updates_the_alert_and_publishes_nothing(aws: Aws) -> None:
    service = aws.service()
    for _ in range(3):
        service.observe(obj(), {"cards"}, [finding()], observed_at=T0)
    (stored,) = aws.store.alerts_of(obj())
    assert stored.alert.times_seen == 3
    assert len(aws.messages()) == 1


def test_the_scan_cycle_resolve_reopen_dismiss(aws: Aws) -> None:
    service = aws.service()
    opened = service.observe(obj(), {"cards", "links"}, [finding("cards"), finding("links")], observed_at=T0)
    assert len(opened.opened) == 2

    later = T0 + timedelta(hours=12)
    result = service.observe(obj(), {"cards"}, [], observed_at=later)
    assert [a.policy_id for a in result.resolved] == ["cards"]
    links = service.get(C1, opened.opened[1].alert_id)
    assert links.status is AlertStatus.OPEN  # not evaluated: untouched

    dismissed = service.dismiss(C1, links.alert_id, by="admin@acme.example", reason="approved sharing")
    assert service.get(C1, links.alert_id) == dismissed
    again = service.observe(
        obj(), {"cards", "links"}, [finding("cards", later), finding("links", later)], observed_at=later
    )
    assert [a.policy_id for a in again.reopened] == ["cards"]
    assert service.get(C1, links.alert_id).status is AlertStatus.DISMISSED
    assert [json.loads(m["Message"])["change"] for m in aws.messages()] == ["opened", "opened", "reopened"]

    with pytest.raises(AlertNotFound):
        service.get(C2, links.alert_id)  # the id is scoped by connection


def test_a_failed_publish_keeps_the_alert_and_the_sweep_sends_it(aws: Aws) -> None:
    missing_topic = aws.topic_arn.replace(":alerts", ":deleted-topic")
    clock = {"now": T0}
    failing = aws.service(notifier=SnsNotifier(aws.sns, missing_topic), clock=lambda: clock["now"])

    result = failing.observe(obj(), {"cards"}, [finding()], observed_at=T0)

    (alert,) = result.opened
    assert failing.get(C1, alert.alert_id).notification_pending
    working = aws.service(clock=lambda: clock["now"])
    assert working.retry_notifications(C1) == 0  # the failed publisher's claim has not lapsed
    clock["now"] = T0 + timedelta(minutes=10)
    assert working.retry_notifications(C1) == 1
    assert working.retry_notifications(C1) == 0
    assert not working.get(C1, alert.alert_id).notification_pending
    assert [json.loads(m["Message"])["alert_id"] for m in aws.messages()] == [alert.alert_id]


def test_only_the_callers_masked_samples_are_stored_and_sent(aws: Aws) -> None:
    service = aws.service()
    service.observe(obj(), {"cards"}, [finding()], observed_at=T0)

    items = aws.table.scan()["Items"]
    messages = aws.messages()
    everything = json.dumps(items, default=str) + json.dumps(messages)
    assert RAW_CARD not in everything
    assert "5500000000000004" not in everything
    (message,) = messages
    body = json.loads(message["Message"])
    assert body["evidence"]["samples"] == [MASKED, "5500 **** **** 0004"]
    (item,) = items
    assert Alert.model_validate_json(item["doc"]).evidence.samples == [MASKED, "5500 **** **** 0004"]


# --- queries ---------------------------------------------------------------------------------


def seed(aws: Aws) -> list[Alert]:
    """42 alerts in two connections, over three policies, four severities and every status."""
    service = aws.service(notifier=NoNotifier())
    rng = random.Random(11)
    for n in range(42):
        connection = C1 if n % 3 else C2
        policy = ["cards", "links", "types"][(n // 3) % 3]
        severity = list(Severity)[rng.randrange(4)]
        at = T0 + timedelta(minutes=rng.randrange(10_000), microseconds=n)
        f = finding(policy, at, connection, object_id=str(1000 + n), severity=severity.value)
        service.observe(f.object, {policy}, [f], observed_at=at)
        if n % 5 == 0:
            service.observe(f.object, {policy}, [], observed_at=at + timedelta(seconds=1))
        elif n % 7 == 0:
            alert_id = aws.store.alerts_of(f.object)[0].alert.alert_id
            service.dismiss(connection, alert_id, by="admin", reason="known")
    return [s.alert for n in range(42) for s in aws.store.alerts_of(obj(str(1000 + n), C1 if n % 3 else C2))]


def read_all(service: AlertService, limit: int, **filters: Any) -> list[Alert]:
    found: list[Alert] = []
    cursor: str | None = None
    for _ in range(100):
        page = service.query(AlertQuery(limit=limit, cursor=cursor, **filters))
        assert len(page.alerts) <= limit
        found.extend(page.alerts)
        cursor = page.cursor
        if cursor is None:
            return found
    raise AssertionError("paging did not end")


FILTERS: list[dict[str, Any]] = [
    {"connection_id": C1},
    {"connection_id": C1, "status": AlertStatus.OPEN},
    {"connection_id": C1, "status": AlertStatus.OPEN, "severity": Severity.HIGH},
    {"connection_id": C1, "severity": Severity.LOW},
    {"connection_id": C1, "policy_id": "cards"},
    {"connection_id": C2, "policy_id": "links", "status": AlertStatus.RESOLVED},
    {"status": AlertStatus.DISMISSED},  # every connection
    {},
]


def test_queries_page_through_exactly_the_matching_alerts_newest_first(aws: Aws) -> None:
    alerts = seed(aws)
    service = aws.service()
    for filters in FILTERS:
        expected = sorted(
            (a for a in alerts if all(getattr(a, name) == value for name, value in filters.items())),
            key=lambda a: a.last_seen,
            reverse=True,
        )
        assert expected, f"the seed has alerts for {filters}"
        # One at a time: every page moves the merge of the partitions by exactly one alert.
        for limit in (1, 5, 200) if filters in (FILTERS[0], FILTERS[4]) else (5, 200):
            got = read_all(service, limit, **filters)
            assert [a.alert_id for a in got] == [a.alert_id for a in expected], (filters, limit)


def test_a_query_is_a_query_on_an_index_never_a_scan(aws: Aws) -> None:
    seed(aws)
    calls: list[dict[str, Any]] = []
    table = aws.table

    class Recording:
        def query(self, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return table.query(**kwargs)

        def scan(self, **kwargs: Any) -> Any:
            raise AssertionError("a Scan")

    service = AlertService(AlertStore(Recording()), SnsNotifier(aws.sns, aws.topic_arn), connections=list)  # type: ignore[arg-type]
    service.query(AlertQuery(connection_id=C1, status=AlertStatus.OPEN, severity=Severity.HIGH))
    service.query(AlertQuery(connection_id=C1, policy_id="cards", status=AlertStatus.OPEN))
    assert [c["IndexName"] for c in calls] == ["by_status", "by_policy"]
    assert all("FilterExpression" not in c for c in calls[1:])


def test_changed_or_foreign_cursors_are_refused(aws: Aws) -> None:
    seed(aws)
    service = aws.service()
    query = AlertQuery(connection_id=C1, status=AlertStatus.OPEN, limit=2)
    cursor = service.query(query).cursor
    assert cursor is not None
    decoded = json.loads(base64.urlsafe_b64decode(cursor))
    (partition,) = [k for k in decoded if k != "q"]
    assert partition == f"{C1}#open"
    forged = {
        "not base64": "%%%",
        "not a map": base64.urlsafe_b64encode(b"[1, 2]").decode(),
        "another connection": encode_cursor({"q": decoded["q"], f"{C2}#open": decoded[partition]}),
        "another status": encode_cursor({"q": decoded["q"], f"{C1}#resolved": decoded[partition]}),
        "position not a sort key": encode_cursor({"q": decoded["q"], partition: "9999"}),
        "no fingerprint": encode_cursor({partition: decoded[partition]}),
        "other filters": encode_cursor({"q": "0" * 16, partition: decoded[partition]}),
    }
    for name, bad in forged.items():
        try:
            service.query(AlertQuery(connection_id=C1, status=AlertStatus.OPEN, limit=2, cursor=bad))
        except InvalidRequest:
            continue
        pytest.fail(f"a cursor with {name} was accepted")
    with pytest.raises(InvalidRequest):  # a genuine cursor, given to another query
        service.query(AlertQuery(connection_id=C1, status=AlertStatus.RESOLVED, limit=2, cursor=cursor))
    assert (
        len(
            service.query(
                AlertQuery(connection_id=C1, status=AlertStatus.OPEN, limit=2, cursor=cursor)
            ).alerts
        )
        == 2
    )


def test_table_keys_define_exactly_the_attributes_keys_use() -> None:
    # CloudFormation refuses an attribute definition that no key uses, and a key without one.
    schemas = [TABLE_KEYS["KeySchema"], *(i["KeySchema"] for i in TABLE_KEYS["GlobalSecondaryIndexes"])]
    used = {k["AttributeName"] for schema in schemas for k in schema}
    assert used == {d["AttributeName"] for d in TABLE_KEYS["AttributeDefinitions"]}
    assert set(TABLE_KEYS) == {"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes"}
