"""Runs every activity rule of every policy over one new enterprise event; returns what fired.

Called once per ingested event, at least once: every decision that needs memory goes through
the state port, keyed on the event, so a redelivery counts nothing twice and repeats a decision
with the same `match_id` at most. Rules that need no memory (per-event rules, outsiders, Shield)
are pure functions of the event: a redelivery yields the identical match.

Webhook deliveries (`webhook:` ids) are not evaluated: the enterprise event for the same change
arrives through the event stream with its own id, and counting both would count it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from boxcasb.activity.model import WEBHOOK_EVENT_PREFIX, ActivityEvent
from boxcasb.activity_rules.catalog import ANONYMOUS_USER_ID, DESCRIPTIONS, SHIELD_ALERT
from boxcasb.activity_rules.geo import IpCountry
from boxcasb.activity_rules.matches import ActivityMatch, Subject
from boxcasb.activity_rules.model import (
    ActivityPolicy,
    ActivityRule,
    EventRule,
    ExternalActorRule,
    NewCountryRule,
    ShieldAlertRule,
    ThresholdRule,
)
from boxcasb.activity_rules.state import ActivityState, EventMark, Scope, Sighting
from boxcasb.clock import Clock, utc_now
from boxcasb.observability import logger
from boxcasb.severity import Severity

# Window state outlives its window by this much: late events (the stream delivers out of order,
# backfilled history comes days late) and redeliveries still find what was counted.
WINDOW_GRACE = timedelta(days=1)
_PRIORITIES = {"low": Severity.LOW, "medium": Severity.MEDIUM, "high": Severity.HIGH}


@dataclass(frozen=True)
class InactiveRule:
    policy_id: str
    rule_id: str
    reason: str


class ActivityEngine:
    """The rules of the given policies, over one state store and one IP-to-country database.

    Cheap to build (no I/O): build one per invocation if policies differ per connection.
    `internal_domains(connection_id)` gives the enterprise's mail domains (as the file scan uses).
    """

    def __init__(
        self,
        policies: Iterable[ActivityPolicy],
        state: ActivityState,
        geo: IpCountry,
        internal_domains: Callable[[str], frozenset[str]],
        clock: Clock = utc_now,
    ) -> None:
        self._rules: list[tuple[str, ActivityRule]] = [
            (p.policy_id, r) for p in policies for r in p.rules.root
        ]
        self._state = state
        self._geo = geo
        self._internal_domains = internal_domains
        self._clock = clock
        self._inactive = tuple(
            InactiveRule(policy_id, rule.id, "no IP-to-country database is configured")
            for policy_id, rule in self._rules
            if isinstance(rule, NewCountryRule) and not geo.available
        )
        for inactive in self._inactive:
            logger.warning(
                "activity rule inactive",
                extra={
                    "policy_id": inactive.policy_id,
                    "rule_id": inactive.rule_id,
                    "reason": inactive.reason,
                },
            )

    def inactive(self) -> tuple[InactiveRule, ...]:
        """Rules that can never fire with this setup, and why."""
        return self._inactive

    def evaluate(self, connection_id: str, event: ActivityEvent) -> list[ActivityMatch]:
        if event.event_id.startswith(WEBHOOK_EVENT_PREFIX):
            return []
        found: list[ActivityMatch] = []
        for policy_id, rule in self._rules:
            match = self._evaluate(connection_id, policy_id, rule, event)
            if match is not None:
                found.append(match)
        return found

    def _evaluate(
        self, connection_id: str, policy_id: str, rule: ActivityRule, event: ActivityEvent
    ) -> ActivityMatch | None:
        match rule:
            case ThresholdRule():
                return self._threshold(connection_id, policy_id, rule, event)
            case EventRule():
                return _per_event(connection_id, policy_id, rule, event)
            case NewCountryRule():
                return self._new_country(connection_id, policy_id, rule, event)
            case ExternalActorRule():
                domains = self._internal_domains(connection_id)
                return _external_actor(connection_id, policy_id, rule, event, domains)
            case ShieldAlertRule():
                return _shield_alert(connection_id, policy_id, rule, event)

    def _threshold(
        self, connection_id: str, policy_id: str, rule: ThresholdRule, event: ActivityEvent
    ) -> ActivityMatch | None:
        if (
            event.event_type not in rule.watched
            or event.user_id is None
            or rule.excludes(event.user_id, event.user_login)
        ):
            return None
        length = rule.window_minutes * 60
        window = int(event.created_at.timestamp()) // length
        start = datetime.fromtimestamp(window * length, UTC)
        end = start + timedelta(seconds=length)
        scope = Scope(connection_id, policy_id, rule.id, event.user_id)
        mark = EventMark(event.event_id, event.created_at)
        marks = self._state.count(scope, window, rule.count, mark, max(end, self._clock()) + WINDOW_GRACE)
        if marks is None:
            return None
        who = event.user_login or event.user_id
        return ActivityMatch(
            match_id=f"{connection_id}/{policy_id}/{rule.id}/{event.user_id}/{window}",
            connection_id=connection_id,
            policy_id=policy_id,
            rule_id=rule.id,
            rule_kind=rule.kind,
            severity=rule.severity,
            subject=Subject("user", event.user_id, event.user_login),
            event_ids=tuple(m.event_id for m in marks),
            summary=(
                f"{rule.count} {rule.label} by {who} within {rule.window_minutes} min "
                f"(window {start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC)"
            ),
            first_at=min(m.at for m in marks),
            last_at=max(m.at for m in marks),
            details={"window_start": start.isoformat(), "window_end": end.isoformat()},
        )

    def _new_country(
        self, connection_id: str, policy_id: str, rule: NewCountryRule, event: ActivityEvent
    ) -> ActivityMatch | None:
        if (
            not self._geo.available
            or event.event_type not in rule.watched
            or event.user_id is None
            or event.ip_address is None
            or rule.excludes(event.user_id, event.user_login)
        ):
            return None
        country = self._geo.country(event.ip_address)
        if country is None:  # a private address, or one the database does not place
            return None
        scope = Scope(connection_id, policy_id, rule.id, event.user_id)
        expires_at = self._clock() + timedelta(days=rule.remember_days)
        seen = self._state.see_country(
            scope, country, EventMark(event.event_id, event.created_at), expires_at
        )
        if seen.sighting is not Sighting.NEW:
            return None
        who = event.user_login or event.user_id
        known = ", ".join(seen.known)
        return _single(
            connection_id,
            policy_id,
            rule,
            rule.severity,
            event,
            Subject("user", event.user_id, event.user_login),
            f"{event.event_type} by {who} from {country}, a country not seen for this user (seen: {known})",
            {"country": country, "known_countries": known, "ip_address": event.ip_address},
        )


def _per_event(
    connection_id: str, policy_id: str, rule: EventRule, event: ActivityEvent
) -> ActivityMatch | None:
    if event.event_type not in rule.watched:
        return None
    who = event.user_login or event.user_id or "an unknown user"
    what = DESCRIPTIONS.get(event.event_type, event.event_type)
    target = _target(event.raw.get("source"))
    details = {"event_type": event.event_type}
    if target:
        details["target"] = target
    return _single(
        connection_id,
        policy_id,
        rule,
        rule.severity,
        event,
        Subject("user", event.user_id, event.user_login),
        f"{what} by {who}" + (f" (target: {target})" if target else ""),
        details,
    )


def _external_actor(
    connection_id: str,
    policy_id: str,
    rule: ExternalActorRule,
    event: ActivityEvent,
    internal_domains: frozenset[str],
) -> ActivityMatch | None:
    if event.event_type not in rule.watched or rule.excludes(event.user_id, event.user_login):
        return None
    actor = _mapping(event.raw.get("created_by"))
    item = _item_subject(event)
    what = f"{event.event_type} of {item.kind} {item.name or item.id or '(unknown)'}"
    if _anonymous(actor):
        if not rule.anonymous:
            return None
        return _single(
            connection_id,
            policy_id,
            rule,
            rule.severity,
            event,
            item,
            f"Anonymous {what}",
            {"actor": "anonymous", "event_type": event.event_type},
        )
    domain = _domain(event.user_login)
    # Without the enterprise's domains, no login can be called external.
    if not rule.external or domain is None or not internal_domains or domain in internal_domains:
        return None
    return _single(
        connection_id,
        policy_id,
        rule,
        rule.severity,
        event,
        Subject("user", event.user_id, event.user_login),
        f"External user {event.user_login}: {what}",
        {"actor": "external", "domain": domain, "event_type": event.event_type},
    )


def _shield_alert(
    connection_id: str, policy_id: str, rule: ShieldAlertRule, event: ActivityEvent
) -> ActivityMatch | None:
    if event.event_type != SHIELD_ALERT:
        return None
    alert = _mapping(_mapping(event.raw.get("additional_details")).get("shield_alert"))
    score = _int(alert.get("risk_score"))
    if score is not None and score < rule.min_risk_score:
        return None
    priority = _text(alert.get("priority"))
    severity = rule.severity or _PRIORITIES.get((priority or "").lower(), Severity.MEDIUM)
    user = _mapping(alert.get("user"))
    subject = Subject("user", _text(user.get("id")), _text(user.get("email")))
    rule_name = _text(alert.get("rule_name")) or "(unnamed rule)"
    details = {
        name: value
        for name, value in {
            "rule_name": _text(alert.get("rule_name")),
            "rule_category": _text(alert.get("rule_category")),
            "shield_rule_id": _text(alert.get("rule_id")),
            "priority": priority,
            "risk_score": str(score) if score is not None else None,
            "alert_id": _text(alert.get("alert_id")),
            "link": _text(alert.get("link")),
        }.items()
        if value is not None
    }
    about = f" for {subject.name or subject.id}" if subject.name or subject.id else ""
    return _single(
        connection_id,
        policy_id,
        rule,
        severity,
        event,
        subject,
        f"Box Shield alert '{rule_name}'{about}: "
        f"{details.get('rule_category', 'uncategorised')}, priority {priority or 'unknown'}, "
        f"risk score {details.get('risk_score', 'unknown')}",
        details,
    )


def _single(
    connection_id: str,
    policy_id: str,
    rule: EventRule | NewCountryRule | ExternalActorRule | ShieldAlertRule,
    severity: Severity,
    event: ActivityEvent,
    subject: Subject,
    summary: str,
    details: Mapping[str, str],
) -> ActivityMatch:
    """A match on one event: its id is the event's, so a redelivery repeats it exactly."""
    return ActivityMatch(
        match_id=f"{connection_id}/{policy_id}/{rule.id}/{event.event_id}",
        connection_id=connection_id,
        policy_id=policy_id,
        rule_id=rule.id,
        rule_kind=rule.kind,
        severity=severity,
        subject=subject,
        event_ids=(event.event_id,),
        summary=summary,
        first_at=event.created_at,
        last_at=event.created_at,
        details=details,
    )


def _anonymous(actor: Mapping[str, Any]) -> bool:
    """Box's anonymous user (id 2), or an actor without an id at all."""
    actor_id = _text(actor.get("id"))
    return actor_id is None or actor_id == ANONYMOUS_USER_ID or actor.get("type") == "anonymous"


def _item_subject(event: ActivityEvent) -> Subject:
    kind: Literal["file", "folder", "item"] = (
        "file" if event.item_type == "file" else "folder" if event.item_type == "folder" else "item"
    )
    return Subject(kind, event.item_id, event.item_name)


def _target(source: object) -> str | None:
    """Whom or what a change was made to: a user's login, an item's or a policy's name."""
    fields = _mapping(source)
    for name in ("login", "name", "item_name", "policy_name", "id", "item_id"):
        value = _text(fields.get(name))
        if value:
            return value
    return None


def _domain(login: str | None) -> str | None:
    if login is None or "@" not in login:
        return None
    return login.rpartition("@")[2].lower() or None


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") and not isinstance(value, dict | list) else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None
