"""The alerts table: the only module that knows its keys.

  pk   <connection>#<object type>#<object id>   sk   <policy id>                one alert
  ipk  <connection>#<alert id>                                                    by_id (keys only)
  spk  <connection>#<status>                    lsk  <last seen>#<alert id>      by_status
  ppk  <connection>#<policy id>#<status>        lsk                              by_policy

The table is keyed by object because every inspection of a file asks "which alerts does this
object have?": one consistent Query of one partition (one read unit when, as for most files,
there are none), and a concurrent scan's new alert is seen at once, which an index could not
promise. `by_id` turns an alert id into that key for get and dismiss (eventually consistent:
an alert opened a moment ago may answer "not found" for a moment); it projects only keys,
which no update changes, so it stays as small as an index can be.

Queries, newest last_seen first: the connection and the status are key conditions
(`by_status`), as are connection, policy and status (`by_policy`); last_seen leads the sort key.
Severity is a filter expression: four values, mostly asked together with a status, and as a key
it would either break the newest-first order or cost one more index written on every update.
Without a status the three status partitions are merged (each read newest first, lazily), and
without a connection the partitions of every connection are: nothing is ever a Scan.

The cursor is the inventory's encoding of a flat map, holding for each partition not yet
read to its end the sort key it stopped at (it resumes with `lsk < position`), plus a
fingerprint of the filters. A cursor must name only partitions of the query it is given to,
with positions of the sort key's shape, and carry that query's fingerprint: anything else is
refused, so a changed cursor can at most skip ahead within the caller's own results.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from boxcasb.alerts.model import Alert, AlertPage, AlertQuery, AlertStatus, ObjectRef
from boxcasb.alerts.service import Stored
from boxcasb.cursor import decode_flat_cursor, encode_cursor
from boxcasb.errors import InvalidRequest
from boxcasb.state_store import delete_through_index, is_conditional_failure, query_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# The table's keys and indexes as CloudFormation and CreateTable both spell them.
TABLE_KEYS: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "ipk", "spk", "ppk", "lsk")
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "by_id",
            "KeySchema": [{"AttributeName": "ipk", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        },
        {
            "IndexName": "by_status",
            "KeySchema": [
                {"AttributeName": "spk", "KeyType": "HASH"},
                {"AttributeName": "lsk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": "by_policy",
            "KeySchema": [
                {"AttributeName": "ppk", "KeyType": "HASH"},
                {"AttributeName": "lsk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ],
}

RESOLVED_KEPT = timedelta(days=365)
_POSITION = re.compile(r"^(|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z#[0-9a-f]{24})$")  # "": from the top
_FINGERPRINT = "q"
_Entry = tuple[str, str, dict[str, Any]]  # sort key, partition, item


def _object_pk(obj: ObjectRef) -> str:
    return f"{obj.connection_id}#{obj.object_type.value}#{obj.object_id}"


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _stored(item: dict[str, Any]) -> Stored:
    return Stored(alert=Alert.model_validate_json(str(item["doc"])), version=int(item["version"]))


class AlertStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def alerts_of(self, obj: ObjectRef) -> list[Stored]:
        items = query_all(
            self._table, KeyConditionExpression=Key("pk").eq(_object_pk(obj)), ConsistentRead=True
        )
        return [_stored(item) for item in items]

    def alert_at(self, obj: ObjectRef, policy_id: str) -> Stored | None:
        item = self._table.get_item(Key={"pk": _object_pk(obj), "sk": policy_id}, ConsistentRead=True).get(
            "Item"
        )
        return _stored(dict(item)) if item else None

    def find(self, connection_id: str, alert_id: str) -> Stored | None:
        keys = self._table.query(
            IndexName="by_id", KeyConditionExpression=Key("ipk").eq(f"{connection_id}#{alert_id}"), Limit=1
        ).get("Items", [])
        if not keys:
            return None
        item = self._table.get_item(Key={"pk": keys[0]["pk"], "sk": keys[0]["sk"]}, ConsistentRead=True).get(
            "Item"
        )
        return _stored(dict(item)) if item else None

    def put(self, alert: Alert, seen_version: int | None) -> bool:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if seen_version is not None:
            condition = {
                "ConditionExpression": "#version = :seen",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":seen": seen_version},
            }
        try:
            self._table.put_item(Item=self._item(alert, (seen_version or 0) + 1), **condition)
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def delete_connection(self, connection_id: str) -> int:
        """Delete every alert of a connection, found through `by_status` (one partition per status)."""
        partitions = (f"{connection_id}#{status.value}" for status in AlertStatus)
        return delete_through_index(self._table, "by_status", "spk", partitions)

    def pending_notifications(self, connection_id: str) -> list[Stored]:
        items = query_all(
            self._table,
            IndexName="by_status",
            KeyConditionExpression=Key("spk").eq(f"{connection_id}#{AlertStatus.OPEN.value}"),
            FilterExpression=Attr("notified").lt(Attr("openings")),
        )
        return [_stored(item) for item in items]

    def query(self, query: AlertQuery, connection_ids: Sequence[str]) -> AlertPage:
        statuses = [query.status] if query.status else list(AlertStatus)
        if query.policy_id is not None:
            index, attribute = "by_policy", "ppk"
            partitions = [f"{c}#{query.policy_id}#{s.value}" for c in connection_ids for s in statuses]
        else:
            index, attribute = "by_status", "spk"
            partitions = [f"{c}#{s.value}" for c in connection_ids for s in statuses]
        fingerprint = _fingerprint(query)
        positions = (
            _positions(query.cursor, fingerprint, partitions)
            if query.cursor
            else dict.fromkeys(partitions, "")
        )
        finished: set[str] = set()
        streams = [
            self._newest_first(index, attribute, partition, position, query, finished)
            for partition, position in positions.items()
        ]
        page = list(islice(heapq.merge(*streams, key=lambda entry: entry[0], reverse=True), query.limit))
        for sort_key, partition, _ in page:  # newest first: each partition ends at its oldest taken
            positions[partition] = sort_key
        remaining = {p: position for p, position in positions.items() if p not in finished}
        cursor = encode_cursor({_FINGERPRINT: fingerprint, **remaining}) if remaining else None
        return AlertPage(alerts=[_stored(item).alert for _, _, item in page], cursor=cursor)

    def _newest_first(
        self, index: str, attribute: str, partition: str, position: str, query: AlertQuery, finished: set[str]
    ) -> Iterator[_Entry]:
        """One partition's items below `position`, read a page at a time as the merge needs them;
        `partition` joins `finished` once all of them were handed out."""
        condition: ConditionBase = Key(attribute).eq(partition)
        if position:
            condition = condition & Key("lsk").lt(position)
        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": query.limit,
        }
        if query.severity is not None:
            kwargs["FilterExpression"] = Attr("severity").eq(query.severity.value)
        for item in query_all(self._table, **kwargs):
            yield str(item["lsk"]), partition, item
        finished.add(partition)

    @staticmethod
    def _item(alert: Alert, version: int) -> dict[str, Any]:
        connection, status = alert.connection_id, alert.status.value
        item: dict[str, Any] = {
            "pk": _object_pk(alert.object),
            "sk": alert.policy_id,
            "ipk": f"{connection}#{alert.alert_id}",
            "spk": f"{connection}#{status}",
            "ppk": f"{connection}#{alert.policy_id}#{status}",
            "lsk": f"{_moment(alert.last_seen)}#{alert.alert_id}",
            "severity": alert.severity.value,
            "openings": alert.openings,
            "notified": alert.notification.sent_for_opening,
            "version": version,
            "doc": alert.model_dump_json(),
        }
        # A resolved alert is history: DynamoDB's TTL removes it a year later (reopening clears it).
        if alert.status is AlertStatus.RESOLVED and alert.resolved_at is not None:
            item["expires_at"] = int((alert.resolved_at + RESOLVED_KEPT).timestamp())
        return item


def _fingerprint(query: AlertQuery) -> str:
    filters = [query.connection_id, query.status, query.severity, query.policy_id]
    return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:16]


def _positions(cursor: str, fingerprint: str, partitions: Sequence[str]) -> dict[str, str]:
    positions = decode_flat_cursor(cursor)
    if (
        positions.pop(_FINGERPRINT, None) != fingerprint
        or not positions.keys() <= set(partitions)
        or not all(_POSITION.fullmatch(p) for p in positions.values())
    ):
        raise InvalidRequest("the cursor does not belong to this query")
    return positions
