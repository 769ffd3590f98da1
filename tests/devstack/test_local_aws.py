"""The local moto server keeps DynamoDB's atomicity: one conditional write wins, never two."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack.local_aws import LOCAL_IDENTITY, REGION, AtomicDynamoDB, MotoServer


class OverlapMeter:
    """A WSGI app that takes a while and records how many requests it served at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self.most = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            self._active += 1
            self.most = max(self.most, self._active)
        time.sleep(0.02)
        with self._lock:
            self._active -= 1
        start_response("200 OK", [])
        return [b"{}"]


def _overlap(target: str, requests: int = 8) -> int:
    meter = OverlapMeter()
    app = AtomicDynamoDB(meter)
    barrier = threading.Barrier(requests)

    def call(_: int) -> list[bytes]:
        barrier.wait()
        return list(app({"HTTP_X_AMZ_TARGET": target}, lambda *_: None))

    with ThreadPoolExecutor(requests) as pool:
        bodies = list(pool.map(call, range(requests)))
    assert bodies == [[b"{}"]] * requests
    return meter.most


def test_dynamodb_requests_run_one_at_a_time() -> None:
    assert _overlap("DynamoDB_20120810.UpdateItem") == 1


def test_other_services_are_not_held_up_by_the_table() -> None:
    # An SQS long poll must not block DynamoDB, so only the table is serialised.
    assert _overlap("AmazonSQS.ReceiveMessage") > 1


@pytest.fixture(scope="module")
def moto_url() -> Iterable[str]:
    server = MotoServer()
    yield server.start()
    server.stop()


def local_client(service: str, moto_url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id=LOCAL_IDENTITY.access_key,
        aws_secret_access_key=LOCAL_IDENTITY.secret_key,
    )


def test_concurrent_conditional_writes_have_exactly_one_winner(moto_url: str) -> None:
    def client() -> Any:
        return local_client("dynamodb", moto_url)

    table = "atomicity-check"
    client().create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    writers = 8
    clients = [client() for _ in range(writers)]

    def claim(i: int, barrier: threading.Barrier) -> str:
        barrier.wait()
        try:
            clients[i].update_item(
                TableName=table,
                Key={"pk": {"S": "k"}},
                UpdateExpression="SET v = :one",
                ConditionExpression="v = :zero",
                ExpressionAttributeValues={":one": {"N": "1"}, ":zero": {"N": "0"}},
            )
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "won"

    for trial in range(20):
        clients[0].put_item(TableName=table, Item={"pk": {"S": "k"}, "v": {"N": "0"}})
        barrier = threading.Barrier(writers)
        with ThreadPoolExecutor(writers) as pool:
            outcomes = sorted(pool.map(claim, range(writers), [barrier] * writers))
        assert outcomes == ["ConditionalCheckFailedException"] * (writers - 1) + ["won"], f"trial {trial}"


def test_a_fifo_deduplication_id_is_remembered_after_the_message_is_gone(moto_url: str) -> None:
    sqs = local_client("sqs", moto_url)
    url = sqs.create_queue(QueueName="dedupe-test.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]

    def send(dedupe_id: str) -> None:
        sqs.send_message(
            QueueUrl=url, MessageBody=dedupe_id, MessageGroupId="g", MessageDeduplicationId=dedupe_id
        )

    def drain() -> list[str]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return [m["Body"] for m in got]

    send("change-1")
    assert drain() == ["change-1"]
    send("change-1")  # SQS: still a duplicate for 5 minutes, though the first is deleted
    send("change-2")
    assert drain() == ["change-2"]


def test_a_cancelled_transaction_leaves_every_item_as_it_was(moto_url: str) -> None:
    ddb = local_client("dynamodb", moto_url)
    table = "transaction-check"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": "old"}, "v": {"N": "1"}})
    actions: list[Any] = [
        {"Put": {"TableName": table, "Item": {"pk": {"S": "p"}, "sk": {"S": "new"}}}},
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": "p"}, "sk": {"S": "old"}},
                "UpdateExpression": "SET v = :two",
                "ExpressionAttributeValues": {":two": {"N": "2"}},
            }
        },
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"pk": {"S": "p"}, "sk": {"S": "missing"}},
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ]
    with pytest.raises(ClientError, match="TransactionCanceled"):
        ddb.transact_write_items(TransactItems=actions)
    items = ddb.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )["Items"]
    assert items == [{"pk": {"S": "p"}, "sk": {"S": "old"}, "v": {"N": "1"}}]
    ddb.transact_write_items(TransactItems=actions[:2])  # without the failing check: both apply
    after = ddb.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )["Items"]
    assert sorted(i["sk"]["S"] for i in after) == ["new", "old"]
    assert next(i for i in after if i["sk"]["S"] == "old")["v"] == {"N": "2"}


def test_a_query_reads_its_partition_alone_with_the_same_answers(moto_url: str) -> None:
    from moto.dynamodb.models import table as moto_table

    ddb = local_client("dynamodb", moto_url)
    table = "partition-check"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gpk")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [
                    {"AttributeName": "gpk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for p in ("a", "b", "c"):
        for i in (3, 1, 2):
            ddb.put_item(TableName=table, Item={"pk": {"S": p}, "sk": {"S": f"{i}"}, "gpk": {"S": "g"}})

    def query(pk: str, **extra: Any) -> list[str]:
        answer = ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": pk}},
            **extra,
        )
        return [f"{i['pk']['S']}{i['sk']['S']}" for i in answer["Items"]]

    assert query("b") == ["b1", "b2", "b3"]
    assert query("b", ScanIndexForward=False, Limit=2) == ["b3", "b2"]
    assert query("nope") == []
    by_index = ddb.query(
        TableName=table,
        IndexName="by_g",
        KeyConditionExpression="gpk = :g",
        ExpressionAttributeValues={":g": {"S": "g"}},
    )["Items"]
    assert len(by_index) == 9  # an index still sees every partition
    # The base-table query sorted only its partition: all_items of the table was not built.
    calls: list[str] = []
    patched_all_items = moto_table.Table.all_items

    def counting(self: Any) -> Any:
        items = patched_all_items(self)
        calls.append(str(len(items)))
        return items

    moto_table.Table.all_items = counting  # type: ignore[method-assign]
    try:
        assert query("c") == ["c1", "c2", "c3"]
    finally:
        moto_table.Table.all_items = patched_all_items  # type: ignore[method-assign]
    assert calls == ["3"]
