"""A file's verdict becomes alerts (and, for enforced policies, governance actions).

Only a file that matches now, or matched at its last scan, costs an alerts read: a file that
never matched has no open alert to update or resolve, so the common case stays free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from boxcasb.alerts.model import AlertStatus, Evidence, Finding, FindingSource, ObjectRef, ObjectType
from boxcasb.alerts.service import AlertService
from boxcasb.policies.file_match import PolicyMatch
from boxcasb.policies.policy_set import PolicySet
from boxcasb.scan.model import FileRecord


class Enforcement(Protocol):
    """Takes an enforced policy's actions on a file, and records them on its alert."""

    def enforce(
        self, connection_id: str, record: FileRecord, match: PolicyMatch, as_user: str | None
    ) -> None: ...


class AlertingVerdicts:
    def __init__(self, alerts: AlertService, enforcement: Enforcement) -> None:
        self._alerts = alerts
        self._enforcement = enforcement

    def file_judged(
        self,
        connection_id: str,
        record: FileRecord,
        previous: FileRecord | None,
        policies: PolicySet,
        matches: Sequence[PolicyMatch],
        as_user: str | None,
    ) -> None:
        if not matches and not (previous is not None and previous.matched_policies):
            return
        obj = ObjectRef(connection_id=connection_id, object_type=ObjectType.FILE, object_id=record.file_id)
        findings = [finding(connection_id, record, match) for match in matches]
        evaluated = [p.id for p in policies.enabled_file_policies]
        self._alerts.observe(obj, evaluated, findings, observed_at=record.scanned_at)
        acting = [m for m in matches if m.policy.actions]
        if not acting:
            return
        # A dismissed alert is the admin's decision for that policy and file (a restore from
        # quarantine dismisses): its actions are not taken again, nor proposed.
        dismissed = {a.policy_id for a in self._alerts.alerts_of(obj) if a.status is AlertStatus.DISMISSED}
        for match in acting:
            if match.policy.id not in dismissed:
                self._enforcement.enforce(connection_id, record, match, as_user)


def finding(connection_id: str, record: FileRecord, match: PolicyMatch) -> Finding:
    detections = match.evidence.get("detections")
    counts = dict(detections) if isinstance(detections, dict) else {}
    content = record.content
    samples = [s for name in counts for s in (content.samples.get(name, []) if content else [])]
    return Finding(
        connection_id=connection_id,
        policy_id=match.policy.id,
        policy_name=match.policy.name,
        severity=match.policy.severity,
        object_type=ObjectType.FILE,
        object_id=record.file_id,
        object_name=record.name or record.file_id,
        object_path=record.path,
        owner_id=record.owner_id,
        owner_login=record.owner_login,
        evidence=Evidence(
            detector_counts=counts,
            samples=samples,
            exposure=record.exposure.value,
            matched_filters=matched_filters(match),
        ),
        observed_at=record.scanned_at,
        source=(
            FindingSource(kind="scan", generation=record.generation)
            if record.generation
            else FindingSource(kind="priority")
        ),
    )


def matched_filters(match: PolicyMatch) -> list[str]:
    """The filters the policy set, by name, with the access levels the file was found at."""
    filters = match.policy.filters.model_dump(exclude_defaults=True)
    access = match.evidence.get("access")
    named = [
        f"access={','.join(str(a) for a in access)}"
        if name == "access" and isinstance(access, list)
        else name
        for name in filters
    ]
    return named[:20]
