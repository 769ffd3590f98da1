"""Governance actions at our edge: what is asked, what came of it, and the audit record.

Requests and outcomes are pydantic (they cross into alerts, the audit log and the admin API);
what the port reads from Box is frozen dataclasses, never Box's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from boxcasb.scan.model import BoxId, LinkAccess

NarrowAccess = Literal["company", "collaborators"]
Result = Literal["applied", "already", "would_apply", "failed", "retry"]
Snapshot = dict[str, JsonValue]
# A mail domain as the scan compares them: lower case, at least one dot, no "@".
Domain = Annotated[
    str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
]


class ActionKind(StrEnum):
    """The same names as a policy's `actions[].type`, plus RESTORE (an admin's decision, never a policy's)."""

    REMOVE_SHARED_LINK = "remove_shared_link"
    NARROW_SHARED_LINK = "narrow_shared_link"
    REMOVE_EXTERNAL_COLLABORATORS = "remove_external_collaborators"
    APPLY_CLASSIFICATION = "apply_classification"
    QUARANTINE = "quarantine"
    RESTORE = "restore"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionRequest(_Model):
    """One action on one file. `owner_id` is the file's owner: the writes act as them (As-User).

    For RESTORE, `owner_id` and `original_parent_id` are the quarantine outcome's `before`
    (`owner_id`, `parent_id`): once quarantined the file is the admin's, and only the audit
    record remembers where it came from.
    """

    kind: ActionKind
    file_id: BoxId
    owner_id: BoxId
    access: NarrowAccess | None = None  # NARROW_SHARED_LINK: the widest access left
    classification: Annotated[str, Field(min_length=1, max_length=100)] | None = None  # APPLY_CLASSIFICATION
    internal_domains: frozenset[Domain] = frozenset()  # REMOVE_EXTERNAL_COLLABORATORS
    original_parent_id: BoxId | None = None  # RESTORE

    @field_validator("internal_domains", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(d.strip().lower() if isinstance(d, str) else d for d in value)
        return value

    @model_validator(mode="after")
    def _complete(self) -> Self:
        needs = {
            ActionKind.NARROW_SHARED_LINK: ("access", self.access is not None),
            ActionKind.APPLY_CLASSIFICATION: ("classification", self.classification is not None),
            ActionKind.REMOVE_EXTERNAL_COLLABORATORS: ("internal_domains", bool(self.internal_domains)),
            ActionKind.RESTORE: ("original_parent_id", self.original_parent_id is not None),
        }
        if self.kind in needs:
            name, present = needs[self.kind]
            if not present:
                raise ValueError(f"`{self.kind.value}` needs `{name}`")
        return self


class ActionOutcome(_Model):
    """What an action did (`applied`, `already`), would do (`would_apply`), or why it did not.

    `before` and `after` hold the fields the action is about (never a shared link's URL: for an
    open link that is the secret). `failed` is final until something changes (permissions, the
    file); `retry` means Box was busy or down after the gateway's own retries: try again later,
    after `retry_after_seconds` when Box said.
    """

    request: ActionRequest
    result: Result
    acting_user_id: str  # the Box user the writes were made as (the owner, or the admin itself)
    before: Snapshot = {}
    after: Snapshot = {}
    reason: str | None = None
    retry_after_seconds: float | None = None


class AuditRecord(_Model):
    """Who did what to which file, from what to what, and how it ended. Stored by the caller."""

    connection_id: Annotated[str, Field(min_length=1, max_length=64)]
    admin_user_id: str  # the connected Box account
    acting_user_id: str  # the Box user the writes were made as (As-User), or the admin itself
    action: ActionKind
    file_id: str
    dry_run: bool
    result: Result
    before: Snapshot
    after: Snapshot
    reason: str | None
    at: AwareDatetime
    requested_by: str | None = None  # the IAM principal, when an admin asked (a restore)

    @classmethod
    def of(
        cls, outcome: ActionOutcome, *, connection_id: str, admin_user_id: str, at: datetime
    ) -> AuditRecord:
        return cls(
            connection_id=connection_id,
            admin_user_id=admin_user_id,
            acting_user_id=outcome.acting_user_id,
            action=outcome.request.kind,
            file_id=outcome.request.file_id,
            dry_run=outcome.result == "would_apply",
            result=outcome.result,
            before=outcome.before,
            after=outcome.after,
            reason=outcome.reason,
            at=at,
        )


# ----- what the port reads from Box -----------------------------------------------------------


@dataclass(frozen=True)
class PathFolder:
    id: str
    name: str


@dataclass(frozen=True)
class FileState:
    """A file as one user sees it: `path` runs from that user's root ("0") down to the parent."""

    id: str
    name: str
    etag: str | None
    owner_id: str
    parent_id: str
    path: tuple[PathFolder, ...]
    link_access: LinkAccess | None
    classification: str | None


@dataclass(frozen=True)
class Collaboration:
    """One collaboration on an item: a user, a group, or an invite by mail to someone without Box."""

    id: str
    kind: Literal["user", "group", "invite"]
    user_id: str | None  # the user's (or group's) id; None for an invite by mail
    email: str | None  # the user's login, or the invited address
    role: str
    status: str

    @property
    def domain(self) -> str | None:
        if self.email is None or "@" not in self.email:
            return None
        return self.email.rpartition("@")[2].lower()

    def external(self, internal_domains: frozenset[str]) -> bool:
        """A user or invitee outside the enterprise's domains (groups are the enterprise's own)."""
        return self.kind != "group" and (self.domain is None or self.domain not in internal_domains)

    def snapshot(self) -> Snapshot:
        return {
            "id": self.id,
            "kind": self.kind,
            "email": self.email,
            "role": self.role,
            "status": self.status,
        }
