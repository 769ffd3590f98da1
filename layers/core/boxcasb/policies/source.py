"""Where a connection's policies come from: the deployed folder, then its overrides in DynamoDB.

The deployed folder is read once per Lambda environment (it only changes with a deploy). A
connection's overrides are read at most once a minute per environment: a policy change reaches
every worker within that minute, and a scan doesn't pay a read per file for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from boxcasb.observability import logger
from boxcasb.policies.loader import InvalidPolicies, LoadedDocument, load_directory, load_text
from boxcasb.policies.policy_set import PolicySet, merge
from boxcasb.settings import SettingsError
from boxcasb.state_store import connection_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

POLICIES_SK = "POLICIES"
OVERRIDES_SOURCE = "overrides"
CACHE_SECONDS = 60.0


class StoredOverrides(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str  # the YAML as the admin wrote it (comments kept): what `policies list` shows back
    updated_at: datetime
    updated_by: str  # the IAM principal that applied it


class OverridesStore:
    """One item per connection in the state table: `CONN#<id>` / `POLICIES`."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def get(self, connection_id: str) -> StoredOverrides | None:
        item = self._table.get_item(
            Key={"pk": connection_pk(connection_id), "sk": POLICIES_SK}, ConsistentRead=True
        ).get("Item")
        return StoredOverrides.model_validate_json(str(item["doc"])) if item else None

    def put(self, connection_id: str, overrides: StoredOverrides) -> None:
        self._table.put_item(
            Item={"pk": connection_pk(connection_id), "sk": POLICIES_SK, "doc": overrides.model_dump_json()}
        )

    def delete(self, connection_id: str) -> bool:
        """Remove the overrides; whether there were any."""
        answer = self._table.delete_item(
            Key={"pk": connection_pk(connection_id), "sk": POLICIES_SK}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in answer


class PolicySource:
    def __init__(
        self,
        deployed_dir: Path | None,
        overrides: OverridesStore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dir = deployed_dir
        self._overrides = overrides
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, PolicySet]] = {}

    @cached_property
    def deployed(self) -> list[LoadedDocument]:
        """None deploys no policies (a stack without the PoliciesLayer); a folder that was named but
        is missing is an error, not an empty policy set that would silently alert on nothing."""
        if self._dir is None:
            return []
        if not self._dir.is_dir():
            raise SettingsError(f"the policies folder {self._dir} does not exist")
        return load_directory(self._dir)

    def deployed_set(self) -> PolicySet:
        return merge(self.deployed)

    def for_connection(self, connection_id: str) -> PolicySet:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(connection_id)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        stored = self._overrides.get(connection_id)
        try:
            policies = self.with_overrides(stored.text if stored else None)
        except InvalidPolicies as exc:
            # Overrides that were valid when applied, broken by a later deploy (a policy they
            # disable is gone): the deployed policies still hold, and the status says why.
            logger.error("connection policy overrides no longer apply", extra={"problems": str(exc)})
            policies = self.deployed_set()
        with self._lock:
            self._cache[connection_id] = (now, policies)
        return policies

    def with_overrides(self, text: str | None) -> PolicySet:
        """The set these overrides would make (InvalidPolicies, naming lines, if they can't)."""
        overrides = [load_text(text, OVERRIDES_SOURCE)] if text else []
        return merge(self.deployed, overrides)

    def forget(self, connection_id: str) -> None:
        with self._lock:
            self._cache.pop(connection_id, None)
