"""What a rule's firing hands to the alerting side: who, what, when, which events. No secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from boxcasb.activity_rules.model import RuleKind
from boxcasb.severity import Severity

_MAX_TEXT = 300  # names and summaries come from Box's data: keep alerts readable


@dataclass(frozen=True)
class Subject:
    """Whom or what the match is about: a user (id, login) or an item (type, id, name)."""

    kind: Literal["user", "file", "folder", "item"]
    id: str | None
    name: str | None  # a user's login, an item's name


@dataclass(frozen=True)
class ActivityMatch:
    """One decision of one rule. `match_id` is stable: a redelivered event that repeats a decision
    yields the same id, so the alert store deduplicates on it."""

    match_id: str
    connection_id: str
    policy_id: str
    rule_id: str
    rule_kind: RuleKind
    severity: Severity
    subject: Subject
    event_ids: tuple[str, ...]
    summary: str
    first_at: datetime
    last_at: datetime
    # Rule-specific facts (a Shield alert's rule name, priority and risk score; a login's country).
    details: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "summary", clip(self.summary))
        object.__setattr__(self, "details", MappingProxyType({k: clip(v) for k, v in self.details.items()}))


def clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
