"""The only module that knows the state table's keys.

One table, generic keys (pk, sk, gsi1pk, gsi1sk), items typed by their sort key:

  pk                     sk           what
  CONN#<id>              CONNECTION   the connection document (JSON in `doc`), optimistic `version`
  CONN#<id>              TOKENS       KMS ciphertext of the token pair, `version`, refresh lease
  OAUTH_STATE#<sha256>   OAUTH_STATE  a pending authorization; TTL `expires_at`; consumed once

gsi1: gsi1pk=CONNECTIONS, gsi1sk=<created_at>#<id> lists connections in creation order.
The OAuth state is stored as a hash: a read of the table does not yield a usable state.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from boxcasb.errors import NotFound
from boxcasb.models import Connection, OAuthStateRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

CONNECTION_SK = "CONNECTION"
TOKENS_SK = "TOKENS"
OAUTH_STATE_SK = "OAUTH_STATE"
CONNECTIONS_GSI_PK = "CONNECTIONS"


class ConcurrentUpdate(Exception):
    """An optimistic write lost to another writer; re-read and try again."""


class OAuthStateRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "unknown", "expired" or "reused"


def connection_pk(connection_id: str) -> str:
    return f"CONN#{connection_id}"


def is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


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
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": Key("gsi1pk").eq(CONNECTIONS_GSI_PK),
        }
        while len(items) < limit:
            page = self._table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [Connection.model_validate_json(str(item["doc"])) for item in items[:limit]]

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
