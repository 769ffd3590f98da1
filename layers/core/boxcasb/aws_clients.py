"""boto3 clients, created on first use (after moto or the local stack is in place) and reused."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from boxcasb.fan_out import WIDTH

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# One connection per request fan_out may have in flight (botocore keeps 10 by default).
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
    max_pool_connections=WIDTH,
)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def table(name: str) -> Table:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)


def reset() -> None:
    """Forget cached clients (tests switch endpoints between cases)."""
    client.cache_clear()
    table.cache_clear()
