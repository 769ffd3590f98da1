"""Each new event through the connection's activity policies; a rule's firing becomes an alert.

An alert's object is the user the rule is about (or the item, for rules about one), so a user
who trips the same policy again updates one alert rather than opening another. Redelivered
events repeat a decision with the same match id (activity_rules.state): the alert is the same
one, seen again.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence

from boxcasb.activity.model import ActivityEvent
from boxcasb.activity_rules.engine import ActivityEngine
from boxcasb.activity_rules.matches import ActivityMatch
from boxcasb.activity_rules.model import ActivityPolicy as EnginePolicy
from boxcasb.alerts.model import Evidence, Finding, FindingSource, ObjectType
from boxcasb.alerts.service import AlertService
from boxcasb.fan_out import side_by_side
from boxcasb.policies.policy_set import PolicySet

EngineFactory = Callable[[Sequence[EnginePolicy]], ActivityEngine]


class ActivityVerdicts:
    def __init__(
        self,
        policies: Callable[[str], PolicySet],
        engine_for: EngineFactory,
        alerts: AlertService,
    ) -> None:
        self._policies = policies
        self._engine_for = engine_for
        self._alerts = alerts
        self._lock = threading.Lock()
        self._engines: dict[str, ActivityEngine] = {}  # by the rules' version

    def judge(self, connection_id: str, events: Sequence[ActivityEvent]) -> int:
        """The alerts raised or seen again for these events (already stored, so a retry is safe)."""
        engine = self._engine(self._policies(connection_id))
        if engine is None:
            return 0
        names = {p.id: p.name for p in self._policies(connection_id).activity_policies}
        # One task per acting user, side by side: a user's events keep their order, so each
        # window counts them as one after another would (the same event reaches a threshold);
        # users' windows and alerts are apart, and alert writes are conditional anyway.
        by_user: dict[str | None, list[ActivityEvent]] = {}
        for event in events:
            by_user.setdefault(event.user_id, []).append(event)

        def judge_in_turn(user_events: list[ActivityEvent]) -> int:
            raised = 0
            for event in user_events:
                for match in engine.evaluate(connection_id, event):
                    found = finding(match, names.get(match.policy_id, match.policy_id))
                    self._alerts.observe(found.object, [found.policy_id], [found], observed_at=match.last_at)
                    raised += 1
            return raised

        return sum(side_by_side([functools.partial(judge_in_turn, group) for group in by_user.values()]))

    def _engine(self, policies: PolicySet) -> ActivityEngine | None:
        enabled = policies.enabled_activity_policies
        if not enabled:
            return None
        version = policies.activity_version
        with self._lock:
            engine = self._engines.get(version)
            if engine is None:
                engine = self._engines[version] = self._engine_for(
                    [EnginePolicy(policy_id=p.id, rules=p.activity) for p in enabled]
                )
        return engine


def finding(match: ActivityMatch, policy_name: str) -> Finding:
    subject = match.subject
    is_user = subject.kind == "user"
    object_id = subject.id or subject.name or "anonymous"
    details = [f"{key}={value}" for key, value in sorted(match.details.items())]
    return Finding(
        connection_id=match.connection_id,
        policy_id=match.policy_id,
        policy_name=policy_name,
        severity=match.severity,
        object_type=ObjectType.USER if is_user else ObjectType.FILE,
        object_id=_object_id(object_id),
        object_name=subject.name or object_id,
        evidence=Evidence(
            samples=[match.summary], matched_filters=[f"{match.rule_id} ({match.rule_kind})", *details][:20]
        ),
        observed_at=match.last_at,
        source=FindingSource(kind="activity", event_ids=list(match.event_ids[-20:])),
    )


def _object_id(value: str) -> str:
    """Alert object ids are key parts: anything outside their alphabet becomes '_'."""
    cleaned = "".join(c if c.isalnum() or c in "_@.:-" else "_" for c in value)
    return cleaned[:64] or "unknown"
