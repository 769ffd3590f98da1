"""A gateway with a rate limiter, against the fake Box over HTTP and the local stack's state table.

Each test freezes the limiter's clock in a window of its own (no real sleeping, no window
boundary in the middle of a test), so counts are exact. DynamoDB calls are counted at botocore's
level on a table resource only the limiter uses.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from boxcasb.box_gateway import BoxApp, BoxGatewayFactory
from boxcasb.rate_limit import RateLimiters, RateLimitExhausted, RateLimitSettings
from boxcasb.wiring import services
from devstack.browser import consent
from tests.support.flows import admin_api, get_connection, start_connection

ADMIN = "admin@acme.example"
_windows = itertools.count(1)


@pytest.fixture(scope="module")
def cid(stack: Any) -> str:
    api = admin_api(stack.api_url)
    started = start_connection(api)
    consent(started["authorize_url"], ADMIN)  # the callback has stored the tokens when this returns
    assert get_connection(api, started["connection_id"])["status"] == "connected"
    return str(started["connection_id"])


@pytest.fixture
def clock() -> Callable[[], float]:
    """A moment frozen 1 s into a window no other test uses."""
    now = (int(time.time()) // 10 + 10 * next(_windows)) * 10 + 1.0
    return lambda: now


@pytest.fixture
def limiter_table(stack: Any) -> Any:
    return boto3.resource("dynamodb").Table(stack.env["TABLE_NAME"])


def count_rate_writes(table: Any, connection_id: str) -> list[dict[str, Any]]:
    writes: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", {}).get("pk") == f"RATE#{connection_id}":
            writes.append(dict(params))

    table.meta.client.meta.events.register("provide-client-params.dynamodb.UpdateItem", record)
    return writes


def factory(table: Any, settings: RateLimitSettings, clock: Callable[[], float]) -> BoxGatewayFactory:
    s = services()

    def app() -> BoxApp:
        return BoxApp(s.credentials.get(time.time()), s.settings)

    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"the limiter slept {seconds} s")

    return BoxGatewayFactory(app, s.tokens, RateLimiters(table, settings, clock=clock, sleep=no_sleep))


def used(table: Any, connection_id: str, clock: Callable[[], float]) -> int:
    item = table.get_item(
        Key={"pk": f"RATE#{connection_id}", "sk": f"W#{int(clock() // 10)}"}, ConsistentRead=True
    ).get("Item")
    return int(item["used"]) if item else 0


@pytest.mark.parametrize(("calls", "chunk"), [(12, 5), (74, 25)])  # 74 + 1: three default chunks
def test_each_box_call_takes_one_token_and_a_write_per_chunk(
    cid: str, limiter_table: Any, clock: Callable[[], float], calls: int, chunk: int
) -> None:
    writes = count_rate_writes(limiter_table, cid)
    gateway = factory(limiter_table, RateLimitSettings(chunk=chunk), clock).for_connection(cid)
    for _ in range(calls - 1):
        gateway.current_user()
    other = next(u for u in gateway.list_managed_users() if u.login != ADMIN and u.status == "active")
    gateway.read_root_folder_as(other.id)  # As-User calls pay from the same budget
    assert gateway.counter.count == calls + 1  # HTTP requests that reached Box
    assert used(limiter_table, cid, clock) == math.ceil((calls + 1) / chunk) * chunk
    assert len(writes) == math.ceil((calls + 1) / chunk)


def test_a_429_retry_takes_a_token_too(
    cid: str, limiter_table: Any, clock: Callable[[], float], fake_box: Any
) -> None:
    gateway = factory(limiter_table, RateLimitSettings(chunk=1), clock).for_connection(cid)
    fake_box.faults.add(path_regex=r"^/2\.0/users/me", status=429, retry_after=0, times=1)
    gateway.current_user()
    assert gateway.counter.count == 2  # the 429, then the retry
    assert used(limiter_table, cid, clock) == 2


def test_a_spent_budget_stops_the_call_before_box(
    cid: str, limiter_table: Any, clock: Callable[[], float], fake_box: Any
) -> None:
    settings = RateLimitSettings(max_wait_seconds=0)
    limiter_table.put_item(
        Item={"pk": f"RATE#{cid}", "sk": f"W#{int(clock() // 10)}", "used": settings.window_cap}
    )
    gateway = factory(limiter_table, settings, clock).for_connection(cid)
    with pytest.raises(RateLimitExhausted) as raised:
        gateway.current_user()
    assert raised.value.retry_after_seconds == pytest.approx(9)
    assert gateway.counter.count == 0


def test_scan_workers_spend_the_bulk_lane(cid: str, limiter_table: Any, clock: Callable[[], float]) -> None:
    settings = RateLimitSettings(max_wait_seconds=0, chunk=10)
    bulk_cap = settings.lane_cap("bulk")
    limiter_table.put_item(Item={"pk": f"RATE#{cid}", "sk": f"W#{int(clock() // 10)}", "used": bulk_cap})
    gateways = factory(limiter_table, settings, clock)
    with pytest.raises(RateLimitExhausted):
        gateways.for_connection(cid, lane="bulk").current_user()
    gateways.for_connection(cid).current_user()  # the default lane is priority: the reserve
    assert used(limiter_table, cid, clock) == bulk_cap + 10


def test_without_limiter_for_nothing_is_counted(stack: Any, cid: str, limiter_table: Any) -> None:
    def rate_items() -> list[dict[str, Any]]:
        return list(limiter_table.query(KeyConditionExpression=Key("pk").eq(f"RATE#{cid}"))["Items"])

    # The connection's backfill spends its budget in the background: let it finish first.
    stack.wait_for_async(timeout=300)
    before = rate_items()
    s = services()
    gateway = BoxGatewayFactory(lambda: BoxApp(s.credentials.get(time.time()), s.settings), s.tokens)
    gateway.for_connection(cid).current_user()
    assert gateway.for_connection(cid).counter.count == 0
    assert rate_items() == before
