"""The activity store's index reads: keys from the index, events from the table, order and paging kept."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from boxcasb.activity.model import ActivityEvent
from boxcasb.activity.store import ActivityQuery, ActivityStore
from boxcasb.wiring import services

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def box_event(user_id: str, file_id: str, created_at: datetime, event_type: str = "UPLOAD") -> dict[str, Any]:
    return {
        "type": "event",
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "created_at": created_at.isoformat(),
        "created_by": {"type": "user", "id": user_id, "login": f"{user_id}@acme.example"},
        "source": {"item_type": "file", "item_id": file_id, "item_name": "plan – ünïcode.xlsx"},
        "ip_address": "203.0.113.9",
        "additional_details": {"size": 1024, "version_id": "7"},
    }


def newest_first(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: (e["created_at"], e["event_id"]), reverse=True)


def read_all(store: ActivityStore, connection_id: str, limit: int, **filters: str) -> list[dict[str, Any]]:
    pages, cursor = [], None
    while True:
        query = ActivityQuery(since=NOW - timedelta(days=3), until=NOW, limit=limit, cursor=cursor, **filters)
        page = store.query(connection_id, query)
        pages.extend(page.events)
        if page.cursor is None:
            return pages
        cursor = page.cursor


def test_index_queries_return_whole_events_in_order_across_batch_gets(stack: Any) -> None:
    store, connection_id = services().activity_store, str(uuid.uuid4())
    rng = random.Random(7)
    types = ["UPLOAD", "PREVIEW", "DOWNLOAD"]
    mine = [
        box_event("u1", "f1", NOW - timedelta(seconds=rng.randint(1, 200_000)), rng.choice(types))
        for _ in range(230)
    ]
    others = [box_event("u2", "f2", NOW - timedelta(seconds=rng.randint(1, 200_000))) for _ in range(40)]
    store.put_events(connection_id, [ActivityEvent.from_box(e) for e in mine + others])

    # 230 > BatchGetItem's 100 keys: one page needs three batch reads, and keeps the index order.
    assert read_all(store, connection_id, limit=500, user_id="u1") == newest_first(mine)
    assert read_all(store, connection_id, limit=70, user_id="u1") == newest_first(mine)
    assert read_all(store, connection_id, limit=500, file_id="f2") == newest_first(others)
    uploads = [e for e in mine if e["event_type"] == "UPLOAD"]
    assert read_all(store, connection_id, limit=50, user_id="u1", event_type="UPLOAD") == newest_first(
        uploads
    )


class ThrottlingClient:
    """Leaves half the keys of each of the first `throttled` batch gets unprocessed, as DynamoDB may."""

    def __init__(self, client: Any, throttled: int) -> None:
        self._client = client
        self.throttled = throttled
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # boto3's parameter name
        self.calls += 1
        if self.throttled == 0:
            return dict(self._client.batch_get_item(RequestItems=RequestItems))
        self.throttled -= 1
        ((name, request),) = RequestItems.items()
        keys = request["Keys"]
        half = {**request, "Keys": keys[: len(keys) // 2]}
        answer = dict(self._client.batch_get_item(RequestItems={name: half}))
        answer["UnprocessedKeys"] = {name: {**request, "Keys": keys[len(keys) // 2 :]}}
        return answer


class TableWithClient:
    def __init__(self, table: Any, client: ThrottlingClient) -> None:
        self._table = table
        self.meta = type("Meta", (), {"client": client})()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def test_unprocessed_keys_are_read_again_not_dropped(stack: Any) -> None:
    real = services().activity_store
    connection_id = str(uuid.uuid4())
    events = [box_event("u3", "f3", NOW - timedelta(minutes=i)) for i in range(1, 41)]
    real.put_events(connection_id, [ActivityEvent.from_box(e) for e in events])
    table = real._table  # the same table, read through a throttling client
    client = ThrottlingClient(table.meta.client, throttled=3)
    store = ActivityStore(TableWithClient(table, client), timedelta(days=180))  # type: ignore[arg-type]

    assert read_all(store, connection_id, limit=500, user_id="u3") == newest_first(events)
    assert client.calls == 4  # three throttled answers, each retried, then the rest at once
