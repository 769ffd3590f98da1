"""Scan generations and their work, in the state table: the only module that knows these keys.

  CONN#<id>                 SCAN#<n, 8 digits>   a generation: trigger, status, policy version, walked users
  SCANGEN#<id>#<n>          COUNT#<shard>        counters, summed over 16 shards (one hot item would
                                                 make concurrent transactions conflict)
  SCANGEN#<id>#<n>          JOB#<job id>         a registered unit of work and whether it finished
  SCANGEN#<id>#<n>          GAP#<kind>#<subject> what the generation could not scan, and why

Completion, exactly once: a job is registered (counted) before its message is sent and finished
once (a conditional update and the counters in one transaction). Every job registers its children
before it finishes, so `finished == registered` can only hold when no work is left; whoever sees it
flips the generation from running to complete with a condition, which only one caller wins.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from boxcasb.clock import Clock, utc_now
from boxcasb.scan.model import GenerationStatus, ScanCounters, ScanGap, ScanGeneration
from boxcasb.state_store import connection_pk, delete_keys, is_conditional_failure, query_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

SHARDS = 16
_TRANSACT_LIMIT = 98  # 100 actions: the puts, the counter, the parent's list of children
_WORK_TTL = timedelta(days=30)
_COUNTER_NAMES = tuple(ScanCounters.model_fields)


def _generation_sk(number: int) -> str:
    return f"SCAN#{number:08d}"


def _work_pk(connection_id: str, number: int) -> str:
    return f"SCANGEN#{connection_id}#{number}"


def _shard_of(text: str) -> int:
    return zlib.crc32(text.encode()) % SHARDS


class ScanLedger:
    def __init__(
        self,
        table: Table,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        self._client = table.meta.client
        self._clock = clock
        self._sleep = sleep

    # --- generations -----------------------------------------------------------------

    def create(self, generation: ScanGeneration) -> bool:
        """Store a new generation; False if that number is taken (another start won the race)."""
        try:
            self._table.put_item(
                Item=self._generation_item(generation),
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def latest(self, connection_id: str) -> ScanGeneration | None:
        found = self.history(connection_id, limit=1)
        return found[0] if found else None

    def history(self, connection_id: str, limit: int = 10) -> list[ScanGeneration]:
        answer = self._table.query(
            KeyConditionExpression=Key("pk").eq(connection_pk(connection_id))
            & Key("sk").begins_with("SCAN#"),
            ScanIndexForward=False,
            Limit=limit,
            ConsistentRead=True,
        )
        return [ScanGeneration.model_validate_json(str(item["doc"])) for item in answer.get("Items", [])]

    def get(self, connection_id: str, number: int) -> ScanGeneration | None:
        item = self._table.get_item(
            Key={"pk": connection_pk(connection_id), "sk": _generation_sk(number)}, ConsistentRead=True
        ).get("Item")
        return ScanGeneration.model_validate_json(str(item["doc"])) if item else None

    def close(self, generation: ScanGeneration, status: GenerationStatus) -> ScanGeneration | None:
        """running → `status`, with the final counters and gaps; None if someone closed it first."""
        closed = generation.model_copy(
            update={
                "status": status,
                "finished_at": self._clock(),
                "counters": self.counters(generation.connection_id, generation.number),
                "gaps": self.gaps(generation.connection_id, generation.number),
            }
        )
        return closed if self._replace_running(closed) else None

    def set_walked(self, generation: ScanGeneration, users: list[str]) -> ScanGeneration | None:
        """Record whose trees are walked; None if the generation was closed in the meantime."""
        updated = generation.model_copy(update={"walked_users": users})
        return updated if self._replace_running(updated) else None

    def _replace_running(self, generation: ScanGeneration) -> bool:
        """Write the generation over a running one; False if it is not running any more."""
        try:
            self._table.put_item(
                Item=self._generation_item(generation),
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":running": GenerationStatus.RUNNING.value},
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def _generation_item(self, generation: ScanGeneration) -> dict[str, Any]:
        return {
            "pk": connection_pk(generation.connection_id),
            "sk": _generation_sk(generation.number),
            "status": generation.status.value,
            "doc": generation.model_dump_json(),
        }

    # --- work ----------------------------------------------------------------------

    def register(self, connection_id: str, number: int, parent: str, job_ids: Iterable[str]) -> set[str]:
        """Count the jobs as outstanding; the ids `parent` should send.

        That is every id it registers now, and on a redelivery the ids it registered before
        (its own earlier attempt may have crashed before sending them). An id another parent
        registered is that parent's to send: a folder reachable two ways is scanned once.
        """
        pending = sorted(set(job_ids))
        mine: set[str] = set()
        while pending:
            chunk, pending = pending[:_TRANSACT_LIMIT], pending[_TRANSACT_LIMIT:]
            mine |= self._register_chunk(connection_id, number, parent, chunk)
        return mine

    def _register_chunk(self, connection_id: str, number: int, parent: str, chunk: list[str]) -> set[str]:
        pk = _work_pk(connection_id, number)
        expires = int((self._clock() + _WORK_TTL).timestamp())
        todo = list(chunk)
        mine: set[str] = set()
        for attempt in range(8):
            if not todo:
                return mine
            actions: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self._table.name,
                        "Item": {
                            "pk": pk,
                            "sk": f"JOB#{job}",
                            "parent": parent,
                            "done": False,
                            "expires_at": expires,
                        },
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                }
                for job in todo
            ]
            actions.append(self._count_action(pk, _shard_of(parent), {"jobs_registered": len(todo)}, expires))
            # The parent remembers what it registered: a redelivery can then send what it no longer lists.
            actions.append(
                {
                    "Update": {
                        "TableName": self._table.name,
                        "Key": {"pk": pk, "sk": f"JOB#{parent}"},
                        "UpdateExpression": "ADD children :ids",
                        "ExpressionAttributeValues": {":ids": set(todo)},
                    }
                }
            )
            try:
                self._client.transact_write_items(TransactItems=cast(Any, actions))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                existing = self._job_parents(pk, todo)
                mine |= {job for job, owner in existing.items() if owner == parent}
                todo = [job for job in todo if job not in existing]
                self._backoff(attempt)
                continue
            return mine | set(todo)
        raise RuntimeError(f"could not register {len(todo)} scan jobs after repeated conflicts")

    def finish(self, connection_id: str, number: int, job_id: str, counts: Mapping[str, int]) -> bool:
        """Mark the job done and add its counts, once; False if it had finished already."""
        pk = _work_pk(connection_id, number)
        expires = int((self._clock() + _WORK_TTL).timestamp())
        actions = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": {"pk": pk, "sk": f"JOB#{job_id}"},
                    "UpdateExpression": "SET done = :true",
                    "ConditionExpression": "attribute_exists(sk) AND done = :false",
                    "ExpressionAttributeValues": {":true": True, ":false": False},
                }
            },
            self._count_action(pk, _shard_of(job_id), {**counts, "jobs_finished": 1}, expires),
        ]
        for attempt in range(8):
            try:
                self._client.transact_write_items(TransactItems=cast(Any, actions))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or []
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    return False
                if not reasons and self._is_done(pk, job_id):
                    return False
                self._backoff(attempt)  # a conflict with another transaction on the shard
                continue
            return True
        raise RuntimeError(f"could not finish scan job {job_id} after repeated conflicts")

    def children(self, connection_id: str, number: int, parent: str) -> set[str]:
        item = self._table.get_item(
            Key={"pk": _work_pk(connection_id, number), "sk": f"JOB#{parent}"}, ConsistentRead=True
        ).get("Item")
        children = cast(set[str], (item or {}).get("children") or set())
        return {str(c) for c in children}

    def counters(self, connection_id: str, number: int) -> ScanCounters:
        totals = dict.fromkeys(_COUNTER_NAMES, 0)
        for item in self._query(_work_pk(connection_id, number), "COUNT#"):
            for name in _COUNTER_NAMES:
                totals[name] += int(item.get(name, 0))
        return ScanCounters(**totals)

    def last_progress(self, connection_id: str, number: int) -> datetime | None:
        stamps = [
            str(i["updated_at"])
            for i in self._query(_work_pk(connection_id, number), "COUNT#")
            if "updated_at" in i
        ]
        return datetime.fromisoformat(max(stamps)) if stamps else None

    def unfinished_jobs(self, connection_id: str, number: int, limit: int = 50) -> list[str]:
        jobs = self._query(_work_pk(connection_id, number), "JOB#")
        # `done` is False only on registered jobs (a parent's own item may exist just for its children).
        return [str(i["sk"]).removeprefix("JOB#") for i in jobs if i.get("done") is False][:limit]

    # --- gaps ----------------------------------------------------------------------

    def add_gaps(self, connection_id: str, number: int, gaps: Iterable[ScanGap]) -> None:
        pk = _work_pk(connection_id, number)
        expires = int((self._clock() + _WORK_TTL).timestamp())
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for gap in gaps:
                batch.put_item(
                    Item={
                        "pk": pk,
                        "sk": f"GAP#{gap.kind.value}#{gap.subject}",
                        "doc": gap.model_dump_json(),
                        "expires_at": expires,
                    }
                )

    def gaps(self, connection_id: str, number: int) -> list[ScanGap]:
        return [
            ScanGap.model_validate_json(str(i["doc"]))
            for i in self._query(_work_pk(connection_id, number), "GAP#")
        ]

    # --- internals -----------------------------------------------------------------

    def _count_action(self, pk: str, shard: int, counts: Mapping[str, int], expires: int) -> dict[str, Any]:
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values: dict[str, Any] = {f":c{i}": int(value) for i, value in enumerate(counts.values())}
        values[":now"] = self._clock().isoformat()
        values[":exp"] = expires
        adds = ", ".join(f"#c{i} :c{i}" for i in range(len(counts)))
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": {"pk": pk, "sk": f"COUNT#{shard:02d}"},
                "UpdateExpression": f"ADD {adds} SET updated_at = :now, expires_at = :exp",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _job_parents(self, pk: str, jobs: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(jobs), 100):
            keys = [{"pk": pk, "sk": f"JOB#{job}"} for job in jobs[start : start + 100]]
            request: dict[str, Any] = {self._table.name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table.name, []):
                    found[str(item["sk"]).removeprefix("JOB#")] = str(item.get("parent", ""))
                request = answer.get("UnprocessedKeys") or {}
        return found

    def delete_connection(self, connection_id: str) -> int:
        """Delete every generation of a connection with its counters, jobs and gaps.

        A generation's work partition goes before the generation item, so a pass cut short
        leaves the generation to find (and its work to delete) on the next pass.
        """
        deleted = 0
        for key in self._query(connection_pk(connection_id), "SCAN#"):
            number = int(str(key["sk"]).removeprefix("SCAN#"))
            work = query_all(
                self._table,
                KeyConditionExpression=Key("pk").eq(_work_pk(connection_id, number)),
                ProjectionExpression="pk, sk",
            )
            deleted += delete_keys(self._table, list(work))
            deleted += delete_keys(self._table, [key])
        return deleted

    def _is_done(self, pk: str, job_id: str) -> bool:
        item = self._table.get_item(Key={"pk": pk, "sk": f"JOB#{job_id}"}, ConsistentRead=True).get("Item")
        return bool(item and item.get("done"))

    def _query(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        condition = Key("pk").eq(pk) & Key("sk").begins_with(prefix)
        return list(query_all(self._table, KeyConditionExpression=condition, ConsistentRead=True))

    def _backoff(self, attempt: int) -> None:
        self._sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))  # noqa: S311 (jitter)
