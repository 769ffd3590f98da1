"""The file inventory table: the only module that knows its keys.

pk `<connection>#<folder id>`, sk `<file id>`: a folder's files come back in one Query, which is
all a folder job needs to tell new, changed, unchanged and removed files apart.
`by_exposure` (`xpk` `<connection>#<exposure>`, `xsk` `<owner>#<file>`) and `by_owner` (`opk`
`<connection>#<owner>`, `osk` `<exposure>#<file>`): the inventory's filters, owner and exposure
together as a key prefix. Items are written only when a file is new or changed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key

from boxcasb.cursor import decode_flat_cursor, encode_cursor
from boxcasb.errors import InvalidRequest
from boxcasb.scan.model import Exposure, FileRecord
from boxcasb.scan.plan import StoredState
from boxcasb.state_store import delete_through_index, query_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


@dataclass(frozen=True)
class InventoryQuery:
    exposure: Exposure | None = None
    owner_id: str | None = None
    folder_id: str | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class InventoryPage:
    files: list[FileRecord]
    cursor: str | None


def _folder_pk(connection_id: str, folder_id: str) -> str:
    return f"{connection_id}#{folder_id}"


def _owner(record: FileRecord) -> str:
    return record.owner_id or "-"


class InventoryStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def folder_state(self, connection_id: str, folder_id: str) -> dict[str, StoredState]:
        items = query_all(
            self._table,
            KeyConditionExpression=Key("pk").eq(_folder_pk(connection_id, folder_id)),
            ProjectionExpression="sk, sha1, fingerprint, policy_version, #gen",
            ExpressionAttributeNames={"#gen": "generation"},
        )
        return {
            str(item["sk"]): StoredState(
                sha1=str(item["sha1"]) if item.get("sha1") else None,
                fingerprint=str(item.get("fingerprint", "")),
                policy_version=str(item.get("policy_version", "")),
                generation=int(item.get("generation", 0)),
            )
            for item in items
        }

    def put_many(self, connection_id: str, records: Iterable[FileRecord]) -> None:
        """Write scans in BatchWriteItem requests of 25. Unconditional on purpose: a batch counts
        once through its job's finish, and a redelivered batch rewrites the same records."""
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for record in records:
                batch.put_item(Item=self._item(connection_id, record))

    def put(self, connection_id: str, record: FileRecord) -> None:
        self._table.put_item(Item=self._item(connection_id, record))

    def get(self, connection_id: str, folder_id: str, file_id: str) -> FileRecord | None:
        item = self._table.get_item(Key={"pk": _folder_pk(connection_id, folder_id), "sk": file_id}).get(
            "Item"
        )
        return FileRecord.model_validate_json(str(item["doc"])) if item else None

    def get_many(self, connection_id: str, folder_id: str, file_ids: Iterable[str]) -> dict[str, FileRecord]:
        """A folder's stored records by id, 100 keys a BatchGetItem (what a batch of changed
        files needs to know of its last scan); unprocessed keys are asked again."""
        client, found = self._table.meta.client, {}
        ids = sorted(set(file_ids))
        for start in range(0, len(ids), 100):
            # The table's own client: it takes and gives plain Python values, as the table does.
            keys: list[Any] = [
                {"pk": _folder_pk(connection_id, folder_id), "sk": file_id}
                for file_id in ids[start : start + 100]
            ]
            for attempt in itertools.count():
                if not keys:
                    break
                if attempt:
                    time.sleep(min(0.05 * 2**attempt, 1.0))  # DynamoDB sheds load as unprocessed keys
                answer = client.batch_get_item(
                    RequestItems={self._table.name: {"Keys": keys, "ProjectionExpression": "doc"}}
                )
                for item in answer.get("Responses", {}).get(self._table.name, []):
                    record = FileRecord.model_validate_json(str(item["doc"]))
                    found[record.file_id] = record
                unprocessed = answer.get("UnprocessedKeys", {}).get(self._table.name)
                keys = list(unprocessed["Keys"]) if unprocessed else []
        return found

    def remove(self, connection_id: str, folder_id: str, file_ids: Iterable[str]) -> None:
        with self._table.batch_writer() as batch:
            for file_id in file_ids:
                batch.delete_item(Key={"pk": _folder_pk(connection_id, folder_id), "sk": file_id})

    def delete_connection(self, connection_id: str) -> int:
        """Delete every file record of a connection, found through `by_exposure` (each record is in
        exactly one of its five partitions); keys only, deleted in batches."""
        partitions = (f"{connection_id}#{exposure.value}" for exposure in Exposure)
        return delete_through_index(self._table, "by_exposure", "xpk", partitions)

    def query(self, connection_id: str, query: InventoryQuery) -> InventoryPage:
        kwargs: dict[str, Any] = {"Limit": query.limit}
        if query.folder_id is not None:
            kwargs["KeyConditionExpression"] = Key("pk").eq(_folder_pk(connection_id, query.folder_id))
        elif query.owner_id is not None:
            condition: Any = Key("opk").eq(f"{connection_id}#{query.owner_id}")
            if query.exposure is not None:
                condition = condition & Key("osk").begins_with(f"{query.exposure.value}#")
            kwargs.update(IndexName="by_owner", KeyConditionExpression=condition)
        elif query.exposure is not None:
            kwargs.update(
                IndexName="by_exposure",
                KeyConditionExpression=Key("xpk").eq(f"{connection_id}#{query.exposure.value}"),
            )
        else:
            raise InvalidRequest("give an exposure, an owner or a folder to list files by")
        if query.folder_id is not None and query.exposure is not None:
            kwargs["FilterExpression"] = "#x = :x"
            kwargs["ExpressionAttributeNames"] = {"#x": "exposure"}
            kwargs["ExpressionAttributeValues"] = {":x": query.exposure.value}
        if query.cursor:
            kwargs["ExclusiveStartKey"] = decode_flat_cursor(query.cursor)
        answer = self._table.query(**kwargs)
        files = [FileRecord.model_validate_json(str(item["doc"])) for item in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        return InventoryPage(files=files, cursor=encode_cursor(last) if last else None)

    def _item(self, connection_id: str, record: FileRecord) -> dict[str, Any]:
        exposure = record.exposure.value
        return {
            "pk": _folder_pk(connection_id, record.folder_id),
            "sk": record.file_id,
            "xpk": f"{connection_id}#{exposure}",
            "xsk": f"{_owner(record)}#{record.file_id}",
            "opk": f"{connection_id}#{_owner(record)}",
            "osk": f"{exposure}#{record.file_id}",
            "exposure": exposure,
            "sha1": record.sha1 or "",
            "fingerprint": record.fingerprint,
            "policy_version": record.policy_version,
            "generation": record.generation,
            "doc": record.model_dump_json(),
        }
