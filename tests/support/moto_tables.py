"""DynamoDB tables for store tests: in-process moto (unit tests), or on the local stack's moto
server (integration tests: `mock_aws` patches botocore for the whole process, and the stack's
background pollers would then talk to it instead of their server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws


@contextmanager
def pk_sk_table(monkeypatch: pytest.MonkeyPatch, name: str, ttl_attribute: str) -> Iterator[Any]:
    # The integration stack (same pytest session) points boto3 at its moto server: not here.
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(variable, raising=False)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        created = dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            **PK_SK,
        )
        dynamodb.meta.client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )
        yield created


PK_SK = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
}


@contextmanager
def server_table(
    name: str, ttl_attribute: str | None = None, keys: dict[str, Any] | None = None
) -> Iterator[Any]:
    """A table of its own on the moto server the environment points at (use with the `stack`
    fixture), deleted afterwards."""
    dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
    table_name = f"{name}-{uuid.uuid4().hex[:8]}"
    created = dynamodb.create_table(TableName=table_name, BillingMode="PAY_PER_REQUEST", **(keys or PK_SK))
    if ttl_attribute is not None:
        dynamodb.meta.client.update_time_to_live(
            TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )
    try:
        yield created
    finally:
        created.delete()
