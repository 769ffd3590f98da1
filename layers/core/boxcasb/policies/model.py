"""Policies as data: what a policy YAML may say, checked field by field.

Every model forbids unknown keys: a misspelt filter must be an error, not a policy that silently
matches more than its author meant. Within one filter a list means "any of"; across filters, all
of them must hold.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from boxcasb.activity_rules.model import ActivityRules
from boxcasb.severity import Severity

PolicyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
DetectorName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,40}$")]
Domain = Annotated[
    str,
    StringConstraints(max_length=253, pattern=r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"),
    AfterValidator(str.lower),
]
Glob = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Mode(StrEnum):
    ALERT = "alert"  # findings and alerts only: the default
    ENFORCE = "enforce"  # also take the policy's governance actions


class AccessLevel(StrEnum):
    """Who can reach a file. A file can be at several at once (a company link and an external
    collaborator); a filter matches when any of them is listed."""

    PUBLIC = "public"  # an open shared link, on the file or a folder above
    COMPANY = "company"  # a company link
    EXTERNAL = "external"  # a collaborator outside the enterprise's domains, or an external owner
    INTERNAL = "internal"  # collaborators, all inside the enterprise
    PRIVATE = "private"  # the owner only


class DomainFilter(_Strict):
    """Collaborators' mail domains: `deny` matches a file with a collaborator from a listed domain;
    `allow` matches one with an external collaborator from any domain not listed."""

    allow: list[Domain] = []
    deny: list[Domain] = []

    @model_validator(mode="after")
    def _one_list(self) -> Self:
        if not self.allow and not self.deny:
            raise ValueError("give `allow`, `deny` or both")
        return self


class SizeFilter(_Strict):
    min_bytes: int | None = Field(default=None, ge=0)
    max_bytes: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_bytes is None and self.max_bytes is None:
            raise ValueError("give `min_bytes`, `max_bytes` or both")
        if self.min_bytes is not None and self.max_bytes is not None and self.min_bytes > self.max_bytes:
            raise ValueError("`min_bytes` is above `max_bytes`")
        return self


class DateFilter(_Strict):
    """Absolute bounds, relative ones (days before the scan), or both."""

    after: AwareDatetime | None = None
    before: AwareDatetime | None = None
    older_than_days: int | None = Field(default=None, ge=0, le=36500)
    newer_than_days: int | None = Field(default=None, ge=0, le=36500)

    @model_validator(mode="after")
    def _some_bound(self) -> Self:
        if all(v is None for v in (self.after, self.before, self.older_than_days, self.newer_than_days)):
            raise ValueError("give at least one of `after`, `before`, `older_than_days`, `newer_than_days`")
        if self.after and self.before and self.after >= self.before:
            raise ValueError("`after` is not before `before`")
        return self


class ContentFilter(_Strict):
    """Matches on what the file's text holds: detector name -> the fewest matches that count.

    `patterns` adds the policy's own regular expressions as detectors under their names; they run
    in the same single pass as the built-in ones (no backreferences or lookaround: the engine
    guarantees linear time, so a pattern can't stall a scan).
    """

    detectors: dict[DetectorName, Annotated[int, Field(ge=1, le=1_000_000)]] = Field(min_length=1)
    match: Literal["any", "all"] = "any"
    patterns: dict[DetectorName, Annotated[str, StringConstraints(min_length=1, max_length=1000)]] = {}

    @model_validator(mode="after")
    def _patterns_used(self) -> Self:
        unused = sorted(set(self.patterns) - set(self.detectors))
        if unused:
            raise ValueError(f"patterns {unused} are defined but not listed under `detectors`")
        return self


class FileFilters(_Strict):
    access: list[AccessLevel] = []
    collaborator_domains: DomainFilter | None = None
    owners: list[str] = []  # logins or Box user ids
    owner_groups: list[str] = []  # Box group names or ids
    extensions: list[
        Annotated[str, StringConstraints(pattern=r"^[a-z0-9_+-]{1,16}$")]
    ] = []  # "pdf" or ".PDF"
    mime_types: list[Glob] = []  # "application/pdf", "image/*"
    name_patterns: list[Glob] = []  # shell globs over the file name, case-insensitive
    paths: list[Glob] = []  # shell globs over the file's full path: "/Finance/*" is the tree below
    parent_folder_ids: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{1,20}$")]] = []
    size: SizeFilter | None = None
    created: DateFilter | None = None
    modified: DateFilter | None = None
    classifications: list[str] = []  # Box classification labels, case-insensitive
    # A shared link first seen by a scan more than this many days ago (Box doesn't say when a
    # link was made; the inventory remembers when it first saw one).
    link_older_than_days: int | None = Field(default=None, ge=1, le=36500)
    content: ContentFilter | None = None

    @field_validator("extensions", mode="before")
    @classmethod
    def _no_dot(cls, value: object) -> object:
        if isinstance(value, list):
            return [v.removeprefix(".").lower() if isinstance(v, str) else v for v in value]
        return value


class RemoveSharedLink(_Strict):
    type: Literal["remove_shared_link"]


class NarrowSharedLink(_Strict):
    type: Literal["narrow_shared_link"]
    access: Literal["company", "collaborators"]


class RemoveExternalCollaborators(_Strict):
    type: Literal["remove_external_collaborators"]


class ApplyClassification(_Strict):
    type: Literal["apply_classification"]
    label: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Quarantine(_Strict):
    type: Literal["quarantine"]


FileAction = Annotated[
    RemoveSharedLink | NarrowSharedLink | RemoveExternalCollaborators | ApplyClassification | Quarantine,
    Field(discriminator="type"),
]


class FilePolicy(_Strict):
    kind: Literal["file"]
    id: PolicyId
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: str = ""
    severity: Severity = Severity.MEDIUM
    mode: Mode = Mode.ALERT
    enabled: bool = True
    filters: FileFilters
    actions: list[FileAction] = []

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.filters == FileFilters():
            raise ValueError("a file policy needs at least one filter (it would match every file)")
        if self.mode is Mode.ENFORCE and not self.actions:
            raise ValueError("`mode: enforce` needs at least one action")
        kinds = [a.type for a in self.actions]
        if len(kinds) != len(set(kinds)):
            raise ValueError("an action type is listed twice")
        if "quarantine" in kinds and kinds[-1] != "quarantine":
            raise ValueError("`quarantine` must be the last action (the file moves away)")
        return self


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A shell glob (`*`, `?`, `[...]`) as one case-insensitive regex; `*` crosses `/` on purpose:
    `/Finance/*` is meant to reach the whole tree below."""
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE)


def days_before(moment: datetime, days: int) -> datetime:
    return moment - timedelta(days=days)


class ActivityPolicy(_Strict):
    """Rules over the event stream (boxcasb.activity_rules); each rule carries its severity."""

    kind: Literal["activity"]
    id: PolicyId
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: str = ""
    enabled: bool = True
    activity: ActivityRules

    @model_validator(mode="after")
    def _has_rules(self) -> Self:
        if not self.activity.root:
            raise ValueError("an activity policy needs at least one rule under `activity`")
        return self


AnyPolicy = FilePolicy | ActivityPolicy
