"""The only module that knows the activity table's keys.

  pk  <connection>#<UTC day>            sk  <created_at>#<event_id>      every event, by time
  upk <connection>#<user id>            usk = sk                          by_user index (sparse)
  ipk <connection>#<item type>#<id>     isk = sk                          by_item index (sparse)

The key is a function of the event alone, so a repeated or re-ordered delivery overwrites
the same item: every event is stored once, with one write (plus one per index it joins).
Event type is a filter over a time range, not an index: it would cost a write per event
for a query admins run rarely and always with a time range.

Write units are the cost that grows with the enterprise, so an item holds Box's event once,
zlib-compressed (about 56% of the JSON), beside only what a key or a filter needs: most
events fit one write unit. The indexes project keys and filter attributes only (one unit per
index write); a query on them reads the page's events from the table with BatchGetItem.
"""

from __future__ import annotations

import functools
import json
import operator
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from boxcasb.activity.model import ActivityEvent, timestamp
from boxcasb.cursor import NOT_OURS, decode_cursor, encode_cursor
from boxcasb.errors import InvalidRequest
from boxcasb.state_store import delete_keys, put_items, query_all, until_processed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_MAX_PAGE = 500
_BATCH_GET = 100  # BatchGetItem's limit
_BODY = "raw_zlib"


@dataclass(frozen=True)
class ActivityQuery:
    since: datetime
    until: datetime
    user_id: str | None = None
    file_id: str | None = None
    event_type: str | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class ActivityPage:
    events: list[dict[str, Any]]
    cursor: str | None


class ActivityStore:
    def __init__(self, table: Table, retention: timedelta) -> None:
        self._table = table
        self._retention = retention

    def put_events(self, connection_id: str, events: Iterable[ActivityEvent]) -> int:
        """Batch-write events (idempotent); returns how many distinct events were written."""
        items = {(i["pk"], i["sk"]): i for i in (self._item(connection_id, e) for e in events)}
        put_items(self._table, list(items.values()))
        return len(items)

    def delete_connection(self, connection_id: str, now: datetime) -> int:
        """Delete every event of a connection: each day partition the retention can still hold.

        The day partitions are the table's own key, so this reads keys only, one Query per day
        (a day either side of the window for clock skew and late writes), and deletes in batches.
        """
        deleted = 0
        day, oldest = _day(now + timedelta(days=1)), _day(now - self._retention - timedelta(days=1))
        while day >= oldest:
            keys = query_all(
                self._table,
                KeyConditionExpression=Key("pk").eq(f"{connection_id}#{day.date().isoformat()}"),
                ProjectionExpression="pk, sk",
            )
            deleted += delete_keys(self._table, list(keys))
            day -= timedelta(days=1)
        return deleted

    def query(self, connection_id: str, q: ActivityQuery) -> ActivityPage:
        if q.since >= q.until:
            raise InvalidRequest("since must be before until")
        if not 1 <= q.limit <= _MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {_MAX_PAGE}")
        cursor = _decode_cursor(q.cursor)
        low, high = timestamp(q.since), timestamp(q.until)
        filters: list[ConditionBase] = [Attr("event_type").eq(q.event_type)] if q.event_type else []
        if q.user_id:
            if q.file_id:
                filters.append(Attr("ipk").eq(f"{connection_id}#file#{q.file_id}"))
            key = Key("upk").eq(f"{connection_id}#{q.user_id}") & Key("usk").between(low, high)
            return self._query_partition("by_user", key, filters, q.limit, cursor)
        if q.file_id:
            key = Key("ipk").eq(f"{connection_id}#file#{q.file_id}") & Key("isk").between(low, high)
            return self._query_partition("by_item", key, filters, q.limit, cursor)
        return self._query_days(connection_id, q, low, high, filters, cursor)

    def _query_days(
        self,
        connection_id: str,
        q: ActivityQuery,
        low: str,
        high: str,
        filters: Sequence[ConditionBase],
        cursor: dict[str, Any] | None,
    ) -> ActivityPage:
        """Newest first, day partition by day partition, from `until` back to `since`."""
        try:
            day = datetime.fromisoformat(str(cursor["day"])) if cursor else _day(q.until)
        except (KeyError, ValueError):
            raise InvalidRequest("the cursor does not belong to this query") from None
        start_key = cursor.get("key") if cursor else None
        found: list[dict[str, Any]] = []
        while day >= _day(q.since):
            pk = f"{connection_id}#{day.date().isoformat()}"
            key = Key("pk").eq(pk) & Key("sk").between(low, high)
            items, last_key = self._query(None, key, filters, q.limit - len(found), start_key)
            found.extend(items)
            if last_key is not None:  # this day holds more: resume inside it
                return ActivityPage(found, encode_cursor({"day": day.isoformat(), "key": last_key}))
            start_key = None
            day -= timedelta(days=1)
            if len(found) >= q.limit:
                more = day >= _day(q.since)
                return ActivityPage(found, encode_cursor({"day": day.isoformat()}) if more else None)
        return ActivityPage(found, None)

    def _query_partition(
        self,
        index: str,
        key: ConditionBase,
        filters: Sequence[ConditionBase],
        limit: int,
        cursor: dict[str, Any] | None,
    ) -> ActivityPage:
        keys, last_key = self._query(index, key, filters, limit, cursor.get("key") if cursor else None)
        events = self._events_by_key(keys)
        return ActivityPage(events, encode_cursor({"key": last_key}) if last_key is not None else None)

    def _events_by_key(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The table's events for index entries, in the index's order (an expired one is skipped)."""
        wanted = [(str(k["pk"]), str(k["sk"])) for k in keys]
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(wanted), _BATCH_GET):
            request: dict[str, Any] = {
                self._table.name: {
                    "Keys": [{"pk": pk, "sk": sk} for pk, sk in wanted[start : start + _BATCH_GET]],
                    "ProjectionExpression": "pk, sk, " + _BODY,
                }
            }
            # The resource's client: it takes and gives plain Python values, as the Table does.
            send = self._table.meta.client.batch_get_item
            for answer in until_processed(send, request, "UnprocessedKeys"):
                for item in answer.get("Responses", {}).get(self._table.name, []):
                    found[(str(item["pk"]), str(item["sk"]))] = item
        return [_public(found[k]) for k in wanted if k in found]

    def _query(
        self,
        index: str | None,
        key: ConditionBase,
        filters: Sequence[ConditionBase],
        limit: int,
        start_key: dict[str, Any] | None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Up to `limit` matches, newest first, and the key to resume from if there may be more.

        From the table: the events. From an index: its entries (keys only), for `_events_by_key`.
        """
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": key, "ScanIndexForward": False}
        if index:
            kwargs["IndexName"] = index
        if filters:
            kwargs["FilterExpression"] = functools.reduce(operator.and_, filters)
        while True:
            if start_key:
                kwargs["ExclusiveStartKey"] = start_key
            kwargs["Limit"] = limit - len(found)
            try:
                answer = self._table.query(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ValidationException" and start_key:
                    raise InvalidRequest("the cursor does not belong to this query") from None
                raise
            found.extend(_public(i) if index is None else i for i in answer.get("Items", []))
            start_key = answer.get("LastEvaluatedKey")
            if start_key is None or len(found) >= limit:
                return found, start_key

    def _item(self, connection_id: str, event: ActivityEvent) -> dict[str, Any]:
        body = json.dumps(event.raw, separators=(",", ":")).encode()
        item: dict[str, Any] = {
            "pk": f"{connection_id}#{event.created_at.date().isoformat()}",
            "sk": event.sort_key,
            "event_type": event.event_type,
            _BODY: zlib.compress(body),
            "expires_at": int((event.created_at + self._retention).timestamp()),
        }
        if event.user_id:
            item |= {"upk": f"{connection_id}#{event.user_id}", "usk": event.sort_key}
        if event.item_id and event.item_type:
            item |= {"ipk": f"{connection_id}#{event.item_type}#{event.item_id}", "isk": event.sort_key}
        return item


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """What the API shows: Box's own event, as Box sent it."""
    body = item[_BODY]
    return dict(json.loads(zlib.decompress(bytes(body.value if hasattr(body, "value") else body))))


def _day(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def _decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    value = decode_cursor(cursor)
    if not isinstance(value.get("key", {}), dict):
        raise InvalidRequest(NOT_OURS)
    return value
