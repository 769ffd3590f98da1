"""The only module that knows the state table's keys.

One table, generic keys (pk, sk, gsi1pk, gsi1sk), items typed by their sort key:

  pk                     sk           what
  CONN#<id>              CONNECTION   the connection document (JSON in `doc`), optimistic `version`
  CONN#<id>              TOKENS       KMS ciphertext of the token pair, `version`, refresh lease
  OAUTH_STATE#<sha256>   OAUTH_STATE  a pending authorization; TTL `expires_at`; consumed once
  CONN#<id>              BACKFILL     the 60-day backfill plan and its status
  CONN#<id>              BACKFILL#<start>  one window's checkpoint (position, pages, counts)
  CONN#<id>              STREAM       admin_logs_streaming position (a string) and status
  CONN#<id>              WEBHOOK#<webhook id>  a webhook we registered in Box
  CONN#<id>              WEBHOOK_SYNC the last webhook sync's report
  WEBHOOK_DELIVERY#<id>  WEBHOOK_DELIVERY  a processed delivery (replays are no-ops); TTL `expires_at`

gsi1: gsi1pk=CONNECTIONS, gsi1sk=<created_at>#<id> lists connections in creation order;
      gsi1pk=WEBHOOK#<webhook id>, gsi1sk=WEBHOOK finds a webhook's connection from a delivery.
The OAuth state is stored as a hash: a read of the table does not yield a usable state.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from boxcasb.activity.progress import (
    ActivityProgress,
    BackfillProgress,
    BackfillSummary,
    BackfillWindow,
    IngestionStatus,
    StreamCheckpoint,
)
from boxcasb.errors import NotFound
from boxcasb.fan_out import side_by_side
from boxcasb.models import Connection, OAuthStateRecord
from boxcasb.webhooks.model import WebhookRegistration, WebhookStatus, WebhookSyncReport

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

CONNECTION_SK = "CONNECTION"
TOKENS_SK = "TOKENS"
OAUTH_STATE_SK = "OAUTH_STATE"
CONNECTIONS_GSI_PK = "CONNECTIONS"
BACKFILL_SK = "BACKFILL"
STREAM_SK = "STREAM"
WEBHOOK_PREFIX = "WEBHOOK#"
WEBHOOK_SYNC_SK = "WEBHOOK_SYNC"
DELIVERY_SK = "WEBHOOK_DELIVERY"

_BATCH_WRITE = 25  # BatchWriteItem's limit


class ConcurrentUpdate(Exception):
    """An optimistic write lost to another writer; re-read and try again."""


class OAuthStateRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "unknown", "expired" or "reused"


def query_all(table: Table, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query matches, reading the next page only when it is needed."""
    while True:
        page = table.query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def delete_keys(table: Table, keys: Iterable[Mapping[str, Any]]) -> int:
    """Delete items by their `pk`/`sk` in BatchWriteItem batches of 25; how many keys were sent.

    Deleting a key that is already gone is no error, so a repeated pass is harmless.
    """
    count = 0
    with table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
        for key in keys:
            batch.delete_item(Key={"pk": key["pk"], "sk": key["sk"]})
            count += 1
    return count


def put_items(table: Table, items: Sequence[Mapping[str, Any]]) -> None:
    """Write items in BatchWriteItem batches of 25, sent side by side; DynamoDB's leftovers resent.

    No two items may share a key (BatchWriteItem refuses a batch that repeats one).
    """
    batches = [items[start : start + _BATCH_WRITE] for start in range(0, len(items), _BATCH_WRITE)]
    side_by_side([functools.partial(_put_batch, table, batch) for batch in batches])


def _put_batch(table: Table, items: Sequence[Mapping[str, Any]]) -> None:
    # The resource's client: thread-safe, and it takes plain Python values as the Table does.
    request: dict[str, Any] = {table.name: [{"PutRequest": {"Item": dict(item)}} for item in items]}
    for _ in until_processed(table.meta.client.batch_write_item, request, "UnprocessedItems"):
        pass


def until_processed(
    send: Callable[..., Mapping[str, Any]], request: dict[str, Any], leftover: str
) -> Iterator[Mapping[str, Any]]:
    """Each answer of a DynamoDB batch call (`send(RequestItems=...)`), sending again what it left
    in `leftover` (UnprocessedItems, UnprocessedKeys), with backoff, at most 8 times in all."""
    for attempt in range(8):
        answer = send(RequestItems=request)
        yield answer
        request = dict(answer.get(leftover) or {})
        if not request:
            return
        time.sleep(min(1.0, 0.05 * 2**attempt))  # throttled: back off, as AWS asks
    raise RuntimeError(f"DynamoDB left {leftover} after 8 attempts")


def delete_through_index(table: Table, index: str, key: str, partitions: Iterable[str]) -> int:
    """Delete every item an index's `partitions` list (keys only, in batches); how many were sent."""
    deleted = 0
    for partition in partitions:
        keys = query_all(
            table,
            IndexName=index,
            KeyConditionExpression=Key(key).eq(partition),
            ProjectionExpression="pk, sk",
        )
        deleted += delete_keys(table, list(keys))
    return deleted


def connection_pk(connection_id: str) -> str:
    return f"CONN#{connection_id}"


def is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _webhook_item(registration: WebhookRegistration) -> dict[str, Any]:
    return {
        "pk": connection_pk(registration.connection_id),
        "sk": WEBHOOK_PREFIX + registration.webhook_id,
        "gsi1pk": WEBHOOK_PREFIX + registration.webhook_id,
        "gsi1sk": "WEBHOOK",
        "doc": registration.model_dump_json(),
    }


def _delivery_pk(delivery_id: str) -> str:
    # Hashed: the id is attacker-chosen text until the signature is checked, and keys stay short.
    return "WEBHOOK_DELIVERY#" + hashlib.sha256(delivery_id.encode()).hexdigest()


def _state_pk(state: str) -> str:
    return "OAUTH_STATE#" + hashlib.sha256(state.encode()).hexdigest()


class StateStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    @property
    def table(self) -> Table:
        return self._table

    # --- connections ---------------------------------------------------------
    def create_connection(self, connection: Connection) -> None:
        try:
            self._table.put_item(
                Item={
                    "pk": connection_pk(connection.connection_id),
                    "sk": CONNECTION_SK,
                    "gsi1pk": CONNECTIONS_GSI_PK,
                    "gsi1sk": f"{connection.created_at.isoformat()}#{connection.connection_id}",
                    "version": 1,
                    "doc": connection.model_dump_json(),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise ConcurrentUpdate(connection.connection_id) from exc
            raise

    def get_connection(self, connection_id: str) -> Connection:
        return self._get_versioned(connection_id)[0]

    def _get_versioned(self, connection_id: str) -> tuple[Connection, int]:
        item = self._table.get_item(
            Key={"pk": connection_pk(connection_id), "sk": CONNECTION_SK}, ConsistentRead=True
        ).get("Item")
        if item is None:
            raise NotFound(f"no connection {connection_id}")
        return Connection.model_validate_json(str(item["doc"])), int(str(item["version"]))

    def update_connection(
        self, connection_id: str, change: Callable[[Connection], Connection], attempts: int = 5
    ) -> Connection:
        """Read, apply `change`, write back only if nobody wrote in between; retry on a lost race."""
        for _ in range(attempts):
            current, version = self._get_versioned(connection_id)
            updated = change(current)
            try:
                self._table.update_item(
                    Key={"pk": connection_pk(connection_id), "sk": CONNECTION_SK},
                    UpdateExpression="SET #doc = :doc, #version = :next",
                    ConditionExpression="#version = :seen",
                    ExpressionAttributeNames={"#doc": "doc", "#version": "version"},
                    ExpressionAttributeValues={
                        ":doc": updated.model_dump_json(),
                        ":next": version + 1,
                        ":seen": version,
                    },
                )
                return updated
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise
        raise ConcurrentUpdate(connection_id)

    def list_connections(self, limit: int = 100) -> list[Connection]:
        items = query_all(
            self._table, IndexName="gsi1", KeyConditionExpression=Key("gsi1pk").eq(CONNECTIONS_GSI_PK)
        )
        return [Connection.model_validate_json(str(item["doc"])) for item in islice(items, limit)]

    # --- OAuth state ---------------------------------------------------------
    def put_oauth_state(self, state: str, record: OAuthStateRecord) -> None:
        self._table.put_item(
            Item={
                "pk": _state_pk(state),
                "sk": OAUTH_STATE_SK,
                "connection_id": record.connection_id,
                "redirect_uri": record.redirect_uri,
                "expires_at": int(record.expires_at.timestamp()),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def consume_oauth_state(self, state: str, now: datetime) -> OAuthStateRecord:
        """Mark the state used, once. Unknown, expired or reused states raise and write nothing."""
        key = {"pk": _state_pk(state), "sk": OAUTH_STATE_SK}
        try:
            item = self._table.update_item(
                Key=key,
                UpdateExpression="SET consumed_at = :now",
                # DynamoDB's TTL sweep lags by hours, so expiry is checked here, not left to it.
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(consumed_at) "
                "AND expires_at > :epoch",
                ExpressionAttributeValues={":now": now.isoformat(), ":epoch": int(now.timestamp())},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            existing = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
            if existing is None:
                raise OAuthStateRejected("unknown") from exc
            if "consumed_at" in existing:
                raise OAuthStateRejected("reused") from exc
            raise OAuthStateRejected("expired") from exc
        return OAuthStateRecord(
            connection_id=str(item["connection_id"]),
            redirect_uri=str(item["redirect_uri"]),
            expires_at=datetime.fromtimestamp(int(str(item["expires_at"])), tz=now.tzinfo),
        )

    # --- tokens (ciphertext only; see token_store) ---------------------------
    def get_tokens_item(self, connection_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"pk": connection_pk(connection_id), "sk": TOKENS_SK}, ConsistentRead=True
        ).get("Item")
        return dict(item) if item is not None else None

    def put_tokens_item(
        self,
        connection_id: str,
        ciphertext: bytes,
        refreshed_at: datetime,
        expected_version: int | None,
    ) -> int:
        """Write a new token pair. expected_version None: first pair or a reconnect (any version)."""
        next_version = (expected_version or self._current_token_version(connection_id)) + 1
        condition: dict[str, Any] = {}
        if expected_version is not None:
            condition = {
                "ConditionExpression": "#version = :seen",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":seen": expected_version},
            }
        try:
            self._table.put_item(
                Item={
                    "pk": connection_pk(connection_id),
                    "sk": TOKENS_SK,
                    "ciphertext": ciphertext,
                    "version": next_version,
                    "refreshed_at": refreshed_at.isoformat(),
                },
                **condition,
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise ConcurrentUpdate(connection_id) from exc
            raise
        return next_version

    def _current_token_version(self, connection_id: str) -> int:
        item = self.get_tokens_item(connection_id)
        return int(str(item["version"])) if item else 0

    def acquire_refresh_lease(
        self, connection_id: str, seen_version: int, owner: str, lease_seconds: float
    ) -> bool:
        """Take the right to spend the refresh token of `seen_version`; False if another holds it."""
        now_ms = int(time.time() * 1000)
        try:
            self._table.update_item(
                Key={"pk": connection_pk(connection_id), "sk": TOKENS_SK},
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression="#version = :seen AND "
                "(attribute_not_exists(lease_until) OR lease_until < :now)",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues={
                    ":owner": owner,
                    ":until": now_ms + int(lease_seconds * 1000),
                    ":seen": seen_version,
                    ":now": now_ms,
                },
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def release_refresh_lease(self, connection_id: str, owner: str) -> None:
        try:
            self._table.update_item(
                Key={"pk": connection_pk(connection_id), "sk": TOKENS_SK},
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": owner},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    def delete_tokens(self, connection_id: str) -> None:
        self._table.delete_item(Key={"pk": connection_pk(connection_id), "sk": TOKENS_SK})

    # --- activity ingestion checkpoints ------------------------------------------
    def put_backfill_plan(
        self, connection_id: str, summary: BackfillSummary, windows: list[BackfillWindow]
    ) -> bool:
        """Record the plan once; False if it exists (a redelivered plan message)."""
        pk = connection_pk(connection_id)
        try:
            self._table.put_item(
                Item={"pk": pk, "sk": BACKFILL_SK, "doc": summary.model_dump_json()},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        with self._table.batch_writer() as batch:
            for window in windows:
                batch.put_item(Item=self._window_item(pk, window))
        return True

    def delete_backfill_plan(self, connection_id: str) -> None:
        """Forget a plan that never started (it has no windows)."""
        self._table.delete_item(Key={"pk": connection_pk(connection_id), "sk": BACKFILL_SK})

    def get_backfill(self, connection_id: str) -> BackfillSummary | None:
        item = self._get(connection_id, BACKFILL_SK)
        return BackfillSummary.model_validate_json(str(item["doc"])) if item else None

    def set_backfill_status(
        self, connection_id: str, status: IngestionStatus, now: datetime, reason: str | None = None
    ) -> bool:
        """Move the plan to `status`; finishing happens once (False for every later attempt)."""
        summary = self.get_backfill(connection_id)
        if summary is None or summary.status is IngestionStatus.FINISHED:
            return False
        update: dict[str, Any] = {"status": status, "reason": reason}
        if status is IngestionStatus.FINISHED:
            update["finished_at"] = now
        if status is IngestionStatus.STOPPED:
            update["stopped_at"] = now
        try:
            self._table.update_item(
                Key={"pk": connection_pk(connection_id), "sk": BACKFILL_SK},
                UpdateExpression="SET #doc = :doc",
                ConditionExpression="#doc = :seen",
                ExpressionAttributeNames={"#doc": "doc"},
                ExpressionAttributeValues={
                    ":doc": summary.model_copy(update=update).model_dump_json(),
                    ":seen": summary.model_dump_json(),
                },
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def get_window(self, connection_id: str, start: datetime) -> BackfillWindow | None:
        item = self._get(connection_id, f"{BACKFILL_SK}#{start.isoformat()}")
        return BackfillWindow.model_validate_json(str(item["doc"])) if item else None

    def advance_window(self, connection_id: str, seen: BackfillWindow, after: BackfillWindow) -> bool:
        """Checkpoint one page: only from the state `seen` (a redelivered page can't count twice)."""
        try:
            self._table.update_item(
                Key={"pk": connection_pk(connection_id), "sk": f"{BACKFILL_SK}#{seen.start.isoformat()}"},
                UpdateExpression="SET #doc = :doc, pages = :pages",
                ConditionExpression="pages = :seen",
                ExpressionAttributeNames={"#doc": "doc"},
                ExpressionAttributeValues={
                    ":doc": after.model_dump_json(),
                    ":pages": after.pages,
                    ":seen": seen.pages,
                },
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def backfill_progress(self, connection_id: str) -> BackfillProgress | None:
        summary = self.get_backfill(connection_id)
        if summary is None:
            return None
        windows = [
            BackfillWindow.model_validate_json(str(item["doc"]))
            for item in self._query_prefix(connection_id, f"{BACKFILL_SK}#")
        ]
        oldest = [w.oldest for w in windows if w.oldest]
        newest = [w.newest for w in windows if w.newest]
        return BackfillProgress(
            status=summary.status,
            span_start=summary.span_start,
            span_end=summary.span_end,
            windows_total=summary.windows_total,
            windows_done=sum(w.done for w in windows),
            events_stored=sum(w.events for w in windows),
            oldest_event=min(oldest) if oldest else None,
            newest_event=max(newest) if newest else None,
            planned_at=summary.planned_at,
            finished_at=summary.finished_at,
            reason=summary.reason,
        )

    def activity_progress(self, connection_id: str) -> ActivityProgress:
        return ActivityProgress(
            backfill=self.backfill_progress(connection_id), stream=self.get_stream(connection_id)
        )

    def put_stream(self, connection_id: str, checkpoint: StreamCheckpoint) -> bool:
        try:
            self._table.put_item(
                Item={
                    "pk": connection_pk(connection_id),
                    "sk": STREAM_SK,
                    "doc": checkpoint.model_dump_json(),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def get_stream(self, connection_id: str) -> StreamCheckpoint | None:
        item = self._get(connection_id, STREAM_SK)
        return StreamCheckpoint.model_validate_json(str(item["doc"])) if item else None

    def replace_stream(self, connection_id: str, seen: StreamCheckpoint, after: StreamCheckpoint) -> bool:
        """Move the stream checkpoint only if nobody moved it since `seen` (overlapping pollers)."""
        try:
            self._table.update_item(
                Key={"pk": connection_pk(connection_id), "sk": STREAM_SK},
                UpdateExpression="SET #doc = :doc",
                ConditionExpression="#doc = :seen",
                ExpressionAttributeNames={"#doc": "doc"},
                ExpressionAttributeValues={":doc": after.model_dump_json(), ":seen": seen.model_dump_json()},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    # --- webhooks ------------------------------------------------------------------

    def put_webhook(self, registration: WebhookRegistration) -> None:
        self._table.put_item(Item=_webhook_item(registration))

    def delete_webhook(self, connection_id: str, webhook_id: str) -> None:
        self._table.delete_item(Key={"pk": connection_pk(connection_id), "sk": WEBHOOK_PREFIX + webhook_id})

    def list_webhooks(self, connection_id: str) -> list[WebhookRegistration]:
        items = self._query_prefix(connection_id, WEBHOOK_PREFIX)
        return [WebhookRegistration.model_validate_json(str(i["doc"])) for i in items]

    def find_webhook(self, webhook_id: str) -> WebhookRegistration | None:
        """The registration a delivery names, whatever its connection (eventually consistent index)."""
        items = self._table.query(
            IndexName="gsi1", KeyConditionExpression=Key("gsi1pk").eq(WEBHOOK_PREFIX + webhook_id), Limit=1
        ).get("Items", [])
        return WebhookRegistration.model_validate_json(str(items[0]["doc"])) if items else None

    def detach_webhooks(self, connection_id: str) -> int:
        """Take the connection's webhooks out of `gsi1`: the intake no longer finds their deliveries.

        The records stay (the disconnect still deletes each in Box); a delivery naming one is then
        an unknown webhook, answered and ignored like any other.
        """
        detached = 0
        for item in self._query_prefix(connection_id, WEBHOOK_PREFIX):
            if "gsi1pk" in item:
                self._table.update_item(
                    Key={"pk": item["pk"], "sk": item["sk"]}, UpdateExpression="REMOVE gsi1pk, gsi1sk"
                )
                detached += 1
        return detached

    def mark_webhook_for_recreation(self, registration: WebhookRegistration, reason: str) -> None:
        marked = registration.model_copy(update={"status": WebhookStatus.RECREATE, "reason": reason})
        try:
            self._table.put_item(
                Item=_webhook_item(marked),
                ConditionExpression="attribute_exists(pk)",  # a sync that removed it meanwhile wins
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    def put_webhook_sync(self, connection_id: str, report: WebhookSyncReport) -> None:
        self._table.put_item(
            Item={"pk": connection_pk(connection_id), "sk": WEBHOOK_SYNC_SK, "doc": report.model_dump_json()}
        )

    def get_webhook_sync(self, connection_id: str) -> WebhookSyncReport | None:
        item = self._get(connection_id, WEBHOOK_SYNC_SK)
        return WebhookSyncReport.model_validate_json(str(item["doc"])) if item else None

    def delivery_processed(self, delivery_id: str) -> bool:
        key = {"pk": _delivery_pk(delivery_id), "sk": DELIVERY_SK}
        return "Item" in self._table.get_item(Key=key, ConsistentRead=True)

    def remember_delivery(self, delivery_id: str, connection_id: str, expires_at: datetime) -> None:
        """Called after the delivery's effects: a crash before it lets Box's retry redo them."""
        self._table.put_item(
            Item={
                "pk": _delivery_pk(delivery_id),
                "sk": DELIVERY_SK,
                "connection_id": connection_id,
                "expires_at": int(expires_at.timestamp()),
            }
        )

    def delete_connection_items(self, connection_id: str) -> int:
        """Delete everything left in the connection's partition but the connection item itself
        (backfill and stream checkpoints, webhook records and sync report, and any stragglers)."""
        keys = (
            item
            for item in query_all(
                self._table,
                KeyConditionExpression=Key("pk").eq(connection_pk(connection_id)),
                ProjectionExpression="pk, sk",
                ConsistentRead=True,
            )
            if item["sk"] != CONNECTION_SK
        )
        return delete_keys(self._table, list(keys))

    @staticmethod
    def _window_item(pk: str, window: BackfillWindow) -> dict[str, Any]:
        return {
            "pk": pk,
            "sk": f"{BACKFILL_SK}#{window.start.isoformat()}",
            "doc": window.model_dump_json(),
            "pages": window.pages,
        }

    def _get(self, connection_id: str, sk: str) -> dict[str, Any] | None:
        item = self._table.get_item(
            Key={"pk": connection_pk(connection_id), "sk": sk}, ConsistentRead=True
        ).get("Item")
        return dict(item) if item is not None else None

    def _query_prefix(self, connection_id: str, prefix: str) -> list[dict[str, Any]]:
        condition = Key("pk").eq(connection_pk(connection_id)) & Key("sk").begins_with(prefix)
        return list(query_all(self._table, KeyConditionExpression=condition, ConsistentRead=True))
