"""A matched policy's actions: taken when it says `enforce`, dry-run (proposed) when it alerts only.

Either way each outcome is audited and kept on the file's alert, so the alert shows what was done
or what enforcement would do (the dry-run report). Actions are idempotent (they read first), so a
redelivered scan finds `already` and changes nothing. A Box rate limit that outlasts the
action's retries is raised as such: the scan message goes back on its queue with the delay.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key

from boxcasb.alerts.model import AlertStatus, ObjectRef, ObjectType, alert_id_for
from boxcasb.alerts.service import AlertService
from boxcasb.errors import BoxRateLimited
from boxcasb.govern.actions import Governor
from boxcasb.govern.model import ActionKind, ActionOutcome, ActionRequest, AuditRecord
from boxcasb.observability import logger
from boxcasb.policies.file_match import PolicyMatch
from boxcasb.policies.model import FileAction, Mode
from boxcasb.scan.model import FileRecord
from boxcasb.state_store import connection_pk, delete_keys, query_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

AUDIT_PREFIX = "AUDIT#"


class AuditLog:
    """Every action outcome, applied or dry-run, in the state table:
    `CONN#<id>` / `AUDIT#<at>#<file>#<action>`. Kept without expiry: what was changed in the
    customer's Box, and why, outlives the alert."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def put(self, record: AuditRecord) -> None:
        sk = f"{AUDIT_PREFIX}{record.at.isoformat()}#{record.file_id}#{record.action.value}"
        self._table.put_item(
            Item={"pk": connection_pk(record.connection_id), "sk": sk, "doc": record.model_dump_json()}
        )

    def last_quarantine(self, connection_id: str, file_id: str) -> AuditRecord | None:
        """The newest quarantine that moved the file: where it came from, and whose it was (a later
        scan of the quarantined file finds it `already` there, with the quarantine as `before`)."""
        for record in self._records(connection_id):
            moved = record.result == "applied" and not record.dry_run
            if record.file_id == file_id and record.action is ActionKind.QUARANTINE and moved:
                return record
        return None

    def recent(self, connection_id: str, limit: int = 100) -> list[AuditRecord]:
        return list(itertools.islice(self._records(connection_id), limit))

    def delete_connection(self, connection_id: str) -> int:
        """Delete the connection's audit (a disconnect: who disconnected stays on the connection)."""
        keys = query_all(
            self._table,
            KeyConditionExpression=Key("pk").eq(connection_pk(connection_id))
            & Key("sk").begins_with(AUDIT_PREFIX),
            ProjectionExpression="pk, sk",
            ConsistentRead=True,
        )
        return delete_keys(self._table, list(keys))

    def _records(self, connection_id: str) -> Iterator[AuditRecord]:
        """Newest first, read page by page as they are consumed."""
        items = query_all(
            self._table,
            KeyConditionExpression=Key("pk").eq(connection_pk(connection_id))
            & Key("sk").begins_with(AUDIT_PREFIX),
            ScanIndexForward=False,
        )
        return (AuditRecord.model_validate_json(str(item["doc"])) for item in items)


class GovernanceEnforcement:
    def __init__(
        self,
        governor_for: Callable[[str], Governor],
        alerts: AlertService,
        audit: AuditLog,
        internal_domains: Callable[[str], frozenset[str]],
    ) -> None:
        self._governor_for = governor_for
        self._alerts = alerts
        self._audit = audit
        self._internal_domains = internal_domains

    def enforce(
        self, connection_id: str, record: FileRecord, match: PolicyMatch, as_user: str | None
    ) -> None:
        if not match.policy.actions or record.owner_id is None:
            return
        governor = self._governor_for(connection_id)
        alert_id = alert_id_for(connection_id, match.policy.id, ObjectType.FILE, record.file_id)
        enforce = match.policy.mode is Mode.ENFORCE
        for action in match.policy.actions:
            request = self._request(connection_id, record, action)
            outcome = governor.apply(request) if enforce else governor.dry_run(request)
            audit = governor.audit(outcome)
            self._audit.put(audit)
            self._alerts.record_action(
                connection_id, alert_id, outcome_summary(outcome, match.policy.id, audit.at)
            )
            if outcome.result == "retry":
                raise BoxRateLimited(
                    f"governance action {request.kind.value} was rate limited",
                    outcome.retry_after_seconds or 60.0,
                )
            if outcome.result == "failed":
                logger.warning(
                    "governance action failed",
                    extra={"action": request.kind.value, "file_id": record.file_id, "reason": outcome.reason},
                )

    def _request(self, connection_id: str, record: FileRecord, action: FileAction) -> ActionRequest:
        return ActionRequest(
            kind=ActionKind(action.type),
            file_id=record.file_id,
            owner_id=record.owner_id or "",
            access=getattr(action, "access", None),
            classification=getattr(action, "label", None),
            internal_domains=self._internal_domains(connection_id),
        )


class Restorer:
    """Puts a quarantined file back where its last quarantine found it, as an admin asked, and
    dismisses the file's open alerts of enforced quarantine policies: the admin's decision stands,
    so the next scan doesn't quarantine it again."""

    def __init__(
        self, governor_for: Callable[[str], Governor], audit: AuditLog, alerts: AlertService
    ) -> None:
        self._governor_for = governor_for
        self._audit = audit
        self._alerts = alerts

    def restore(self, connection_id: str, file_id: str, requested_by: str) -> ActionOutcome | None:
        """The outcome, or None when no applied quarantine of this file is on record."""
        quarantined = self._audit.last_quarantine(connection_id, file_id)
        if quarantined is None:
            logger.warning("restore asked for a file never quarantined", extra={"file_id": file_id})
            return None
        governor = self._governor_for(connection_id)
        request = ActionRequest(
            kind=ActionKind.RESTORE,
            file_id=file_id,
            owner_id=str(quarantined.before["owner_id"]),
            original_parent_id=str(quarantined.before["parent_id"]),
        )
        outcome = governor.apply(request)
        audit = governor.audit(outcome).model_copy(update={"requested_by": requested_by})
        self._audit.put(audit)
        if outcome.result in ("applied", "already"):
            obj = ObjectRef(connection_id=connection_id, object_type=ObjectType.FILE, object_id=file_id)
            for alert in self._alerts.alerts_of(obj):
                quarantining = any(a.get("action") == ActionKind.QUARANTINE.value for a in alert.actions)
                if alert.status is AlertStatus.OPEN and quarantining:
                    self._alerts.dismiss(
                        connection_id, alert.alert_id, requested_by, "restored from quarantine"
                    )
        return outcome


def outcome_summary(outcome: ActionOutcome, policy_id: str, at: datetime) -> dict[str, Any]:
    """What an alert keeps of an outcome: small (an alert keeps 1 KB per action), no long lists."""
    return {
        "action": outcome.request.kind.value,
        "policy_id": policy_id,
        "result": outcome.result,
        "reason": (outcome.reason or "")[:200] or None,
        "before": _brief(outcome.before),
        "after": _brief(outcome.after),
        "at": at.isoformat(timespec="seconds"),
    }


def _brief(snapshot: dict[str, Any]) -> dict[str, Any]:
    brief: dict[str, Any] = {}
    for key, value in snapshot.items():
        if isinstance(value, list):
            brief[key] = f"{len(value)} item(s)"
        elif isinstance(value, str | int | float | bool) or value is None:
            brief[key] = value if not isinstance(value, str) else value[:80]
    return brief
