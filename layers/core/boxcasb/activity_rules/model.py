"""Activity rules as data: what a policy's `activity:` list holds, validated at the edge.

```yaml
activity:
  - {id: mass-download, kind: threshold, category: download, count: 200, window_minutes: 60}
  - {id: admin-changes, kind: event, category: admin_and_persistence, severity: high}
  - {id: new-country, kind: new_country}
  - {id: outsiders, kind: external_actor}
  - {id: shield, kind: shield_alert, min_risk_score: 50}
```

A rule watches the union of its `category`'s event types and its own `event_types`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from boxcasb.activity_rules.catalog import CATEGORY_EVENTS, LABELS, Category
from boxcasb.severity import Severity

RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
# Box's spelling: upper case words and underscores; unknown ones are allowed (Box's list is open).
EventType = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,99}$")]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RuleId


class _Watching(_Rule):
    """A rule over chosen event types: a named category, types of its own, or both."""

    category: Category | None = None
    event_types: frozenset[EventType] = frozenset()

    @cached_property
    def watched(self) -> frozenset[str]:
        named = CATEGORY_EVENTS[self.category] if self.category is not None else frozenset()
        return named | self.event_types

    @property
    def label(self) -> str:
        """What the watched events are called in a summary."""
        if self.category is not None and not self.event_types:
            return LABELS[self.category]
        return "events (" + ", ".join(sorted(self.watched)) + ")"

    @model_validator(mode="after")
    def _watches_something(self) -> Self:
        if not self.watched:
            raise ValueError(f"rule {self.id!r} needs a category or event_types")
        return self


class _Excluding(_Watching):
    """A watching rule that some users (service accounts, say) are exempt from."""

    # Box user ids or logins; logins compare case-insensitively.
    exclude_users: frozenset[str] = frozenset()

    @field_validator("exclude_users")
    @classmethod
    def _normalise(cls, value: frozenset[str]) -> frozenset[str]:
        return frozenset(v.strip().lower() for v in value if v.strip())

    def excludes(self, user_id: str | None, login: str | None) -> bool:
        return (user_id is not None and user_id in self.exclude_users) or (
            login is not None and login.lower() in self.exclude_users
        )


class ThresholdRule(_Excluding):
    """`count` watched events by one user inside one window: fires once for that user and window."""

    kind: Literal["threshold"]
    count: int = Field(ge=2, le=1000)
    window_minutes: int = Field(ge=1, le=7 * 24 * 60)
    severity: Severity = Severity.MEDIUM


class EventRule(_Watching):
    """Every watched event fires: admin role changes, new app authorizations, holds removed."""

    kind: Literal["event"]
    severity: Severity = Severity.HIGH


class NewCountryRule(_Excluding):
    """A login from a country this user was not seen in (the first login seen only records)."""

    kind: Literal["new_country"]
    category: Category | None = Category.LOGIN
    # A user's countries are forgotten this long after their last watched login.
    remember_days: int = Field(default=90, ge=1, le=730)
    severity: Severity = Severity.MEDIUM


class ExternalActorRule(_Excluding):
    """Watched events by the anonymous user, or by a login outside the enterprise's domains."""

    kind: Literal["external_actor"]
    category: Category | None = Category.CONTENT
    anonymous: bool = True
    external: bool = True
    severity: Severity = Severity.MEDIUM

    @model_validator(mode="after")
    def _matches_someone(self) -> Self:
        if not (self.anonymous or self.external):
            raise ValueError(f"rule {self.id!r} matches no one: set anonymous or external")
        return self


class ShieldAlertRule(_Rule):
    """Box Shield's alerts (SHIELD_ALERT), passed through with their rule, priority and risk score."""

    kind: Literal["shield_alert"]
    min_risk_score: int = Field(default=0, ge=0, le=100)
    severity: Severity | None = None  # None: from the alert's priority


ActivityRule = Annotated[
    ThresholdRule | EventRule | NewCountryRule | ExternalActorRule | ShieldAlertRule,
    Field(discriminator="kind"),
]
RuleKind = Literal["threshold", "event", "new_country", "external_actor", "shield_alert"]


class ActivityRules(RootModel[tuple[ActivityRule, ...]]):
    """A policy's `activity:` list; rule ids are unique within it (they name the rule's state)."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [rule.id for rule in self.root]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"activity rule ids must be unique; repeated: {', '.join(repeated)}")
        return self


class ActivityPolicy(BaseModel):
    """The activity rules of one policy, as the engine runs them. The id is part of the rules' state keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    rules: ActivityRules = ActivityRules(())
