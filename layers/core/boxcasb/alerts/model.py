"""What the alerts domain takes in (findings) and keeps (alerts): pydantic at the edges.

A finding's evidence is capped at `EVIDENCE_MAX_BYTES` of JSON when the finding is built, by
shortening and then dropping samples, so an alert item, its index copies and a notification
stay small whatever a detector matched. Samples arrive masked: this module never sees a raw
match, and cutting a masked sample short can only remove characters, never reveal one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from boxcasb.severity import Severity

EVIDENCE_MAX_BYTES = 4096
SAMPLE_MAX_CHARS = 120
ACTIONS_KEPT = 20
ACTION_MAX_BYTES = 1024

# Ids become parts of DynamoDB keys joined with "#": none of them may contain one.
POLICY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
ALERT_ID_PATTERN = r"^[0-9a-f]{24}$"
ConnectionId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
PolicyId = Annotated[str, Field(pattern=POLICY_ID_PATTERN)]
ObjectId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_@.:-]+$")]

Change = Literal["opened", "reopened"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectType(StrEnum):
    FILE = "file"
    USER = "user"


class AlertStatus(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"  # an admin's decision for this policy and object: matches don't reopen it
    RESOLVED = "resolved"  # reopens when the policy matches the object again


class Resolution(StrEnum):
    NO_LONGER_MATCHES = "no_longer_matches"
    OBJECT_DELETED = "object_deleted"


class Evidence(_Model):
    """Why a policy matched, small and already masked: counts, masked samples, the exposure seen."""

    detector_counts: dict[Annotated[str, Field(max_length=64)], Annotated[int, Field(ge=0)]] = {}
    samples: list[str] = []  # masked by the caller ("4111 **** **** 1111"); never raw matches
    exposure: str | None = Field(default=None, max_length=32)
    matched_filters: list[Annotated[str, Field(max_length=200)]] = []
    samples_dropped: int = Field(default=0, ge=0)  # samples the size cap left out


def evidence_size(evidence: Evidence) -> int:
    return len(evidence.model_dump_json().encode())


def capped(evidence: Evidence) -> Evidence:
    """`evidence` within EVIDENCE_MAX_BYTES: long samples shortened, then the last ones dropped."""
    samples = [s if len(s) <= SAMPLE_MAX_CHARS else s[: SAMPLE_MAX_CHARS - 1] + "…" for s in evidence.samples]
    fitted = evidence.model_copy(update={"samples": samples})
    while evidence_size(fitted) > EVIDENCE_MAX_BYTES and samples:
        samples = samples[:-1]
        fitted = evidence.model_copy(
            update={
                "samples": samples,
                "samples_dropped": evidence.samples_dropped + len(evidence.samples) - len(samples),
            }
        )
    if evidence_size(fitted) > EVIDENCE_MAX_BYTES:
        raise ValueError(f"evidence is over {EVIDENCE_MAX_BYTES} bytes even without samples")
    return fitted


class ObjectRef(_Model):
    """The object a set of policies was evaluated on: a file or a user of one connection."""

    connection_id: ConnectionId
    object_type: ObjectType
    object_id: ObjectId


class FindingSource(_Model):
    """What produced the finding: a scan generation, activity events, or a priority rescan."""

    kind: Literal["scan", "activity", "priority"]
    generation: int | None = Field(default=None, ge=0)
    event_ids: list[Annotated[str, Field(max_length=64)]] = Field(default=[], max_length=20)

    @model_validator(mode="after")
    def _one_origin(self) -> FindingSource:
        if self.kind == "scan" and self.generation is None:
            raise ValueError("a scan finding names its generation")
        if self.kind == "activity" and not self.event_ids:
            raise ValueError("an activity finding names its events")
        return self


class Finding(_Model):
    """One policy matched one object."""

    connection_id: ConnectionId
    policy_id: PolicyId
    policy_name: str = Field(min_length=1, max_length=200)
    severity: Severity
    object_type: ObjectType
    object_id: ObjectId
    object_name: str = Field(min_length=1, max_length=1024)  # a file name or a user's login
    object_path: str | None = Field(default=None, max_length=4096)
    owner_id: str | None = Field(default=None, max_length=64)
    owner_login: str | None = Field(default=None, max_length=320)
    evidence: Evidence = Evidence()
    observed_at: AwareDatetime
    source: FindingSource

    @field_validator("evidence", mode="after")
    @classmethod
    def _cap(cls, evidence: Evidence) -> Evidence:
        return capped(evidence)

    @property
    def object(self) -> ObjectRef:
        return ObjectRef(
            connection_id=self.connection_id, object_type=self.object_type, object_id=self.object_id
        )


def alert_id_for(connection_id: str, policy_id: str, object_type: ObjectType, object_id: str) -> str:
    """Deterministic: the same finding, however often delivered, names the same alert."""
    key = "\x1f".join((connection_id, policy_id, object_type.value, object_id))
    return hashlib.sha256(key.encode()).hexdigest()[:24]


class Notification(_Model):
    """Which opening was announced; a claim lets one worker publish while the others wait."""

    sent_for_opening: int = 0  # 0: no notification published yet
    claimed_until: datetime | None = None


class Alert(_Model):
    alert_id: str
    connection_id: str
    policy_id: str
    policy_name: str
    severity: Severity
    object_type: ObjectType
    object_id: str
    object_name: str
    object_path: str | None
    owner_id: str | None
    owner_login: str | None
    status: AlertStatus
    first_seen: datetime
    last_seen: datetime
    times_seen: int
    opened_at: datetime  # the latest opening (the first, or the latest reopening)
    openings: int  # 1 when created, +1 per reopening
    evidence: Evidence  # from the newest finding
    source: FindingSource
    resolved_at: datetime | None = None
    resolution: Resolution | None = None
    dismissed_at: datetime | None = None
    dismissed_by: str | None = None
    dismiss_reason: str | None = None
    actions: list[dict[str, JsonValue]] = []  # governance action outcomes, the last ACTIONS_KEPT
    notification: Notification = Notification()

    @property
    def object(self) -> ObjectRef:
        return ObjectRef(
            connection_id=self.connection_id, object_type=self.object_type, object_id=self.object_id
        )

    @property
    def notification_pending(self) -> bool:
        """Open, and its latest opening not announced yet (a publish failed or is under way)."""
        return self.status is AlertStatus.OPEN and self.notification.sent_for_opening < self.openings


@dataclass(frozen=True)
class AlertQuery:
    connection_id: str | None = None  # None: every connection
    status: AlertStatus | None = None
    severity: Severity | None = None
    policy_id: str | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class AlertPage:
    alerts: list[Alert]  # newest last_seen first
    cursor: str | None
