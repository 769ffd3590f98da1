"""The policies in force for a connection, and the version the incremental scan keys on.

The deployed `policies/` folder is the base; a connection's overrides (one YAML document kept in
DynamoDB) add policies, replace a deployed one by using its id, or switch deployed ones off
(`disable`). The version hashes the enabled file policies only: a new activity policy must not
make every file be inspected again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from boxcasb.inspect.detect import BUILTIN_DETECTORS
from boxcasb.policies.loader import InvalidPolicies, LoadedDocument, PolicyProblem
from boxcasb.policies.model import ActivityPolicy, AnyPolicy, FilePolicy
from boxcasb.severity import highest

# Bumped when matching or detection changes meaning, so stored verdicts are recomputed.
MATCHING_REVISION = "1"


@dataclass(frozen=True)
class PolicySet:
    file_policies: tuple[FilePolicy, ...]
    sources: Mapping[str, str] = field(default_factory=dict)  # policy id -> "file:line" it came from
    activity_policies: tuple[ActivityPolicy, ...] = ()

    @property
    def version(self) -> str:
        canonical = json.dumps(
            [p.model_dump(mode="json") for p in sorted(self.enabled_file_policies, key=lambda p: p.id)],
            sort_keys=True,
            separators=(",", ":"),
        )
        digest = hashlib.sha256(f"{MATCHING_REVISION}\n{canonical}".encode()).hexdigest()
        return f"policies-{digest[:16]}"

    @property
    def enabled_file_policies(self) -> tuple[FilePolicy, ...]:
        return tuple(p for p in self.file_policies if p.enabled)

    @property
    def all_policies(self) -> tuple[AnyPolicy, ...]:
        return (*self.file_policies, *self.activity_policies)

    @property
    def enabled_activity_policies(self) -> tuple[ActivityPolicy, ...]:
        return tuple(p for p in self.activity_policies if p.enabled)

    @property
    def activity_version(self) -> str:
        """Keys the activity engine a worker keeps (rebuilt when the rules change)."""
        canonical = json.dumps(
            [p.model_dump(mode="json") for p in sorted(self.enabled_activity_policies, key=lambda p: p.id)],
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def custom_patterns(self) -> dict[str, str]:
        """Every enabled policy's own patterns, by name (one name means one pattern: checked on load)."""
        patterns: dict[str, str] = {}
        for policy in self.enabled_file_policies:
            if policy.filters.content is not None:
                patterns.update(policy.filters.content.patterns)
        return patterns

    @property
    def needs_content(self) -> bool:
        return any(p.filters.content is not None for p in self.enabled_file_policies)


Origin = tuple[str, int | None]  # the file (or override) and line a policy came from


def merge(base: Sequence[LoadedDocument], overrides: Sequence[LoadedDocument] = ()) -> PolicySet:
    """Base documents may not repeat an id; an override replaces by id or disables. Custom pattern
    names must mean one pattern across the whole set, and can't shadow a built-in detector."""
    problems: list[PolicyProblem] = []
    policies: dict[str, AnyPolicy] = {}
    origins: dict[str, Origin] = {}
    for loaded in base:
        for policy in loaded.document.policies:
            origin = (loaded.source, loaded.lines.get(policy.id))
            if policy.id in policies:
                first = _where(origins[policy.id])
                problems.append(
                    _problem(origin, "id", f"policy id {policy.id!r} is already defined at {first}")
                )
                continue
            policies[policy.id], origins[policy.id] = policy, origin
        if loaded.document.disable:
            problems.append(
                PolicyProblem(loaded.source, None, "disable", "only a connection's overrides can disable")
            )
    for loaded in overrides:
        for policy in loaded.document.policies:
            policies[policy.id] = policy
            origins[policy.id] = (loaded.source, loaded.lines.get(policy.id))
        for policy_id in loaded.document.disable:
            if policy_id not in policies:
                problems.append(
                    PolicyProblem(loaded.source, None, "disable", f"no policy {policy_id!r} to disable")
                )
                continue
            policies[policy_id] = policies[policy_id].model_copy(update={"enabled": False})
    file_policies = tuple(p for p in policies.values() if isinstance(p, FilePolicy))
    problems.extend(_detector_problems(file_policies, origins))
    if problems:
        raise InvalidPolicies(problems)
    return PolicySet(
        file_policies,
        {k: _where(v) for k, v in origins.items()},
        tuple(p for p in policies.values() if isinstance(p, ActivityPolicy)),
    )


def _detector_problems(policies: Iterable[FilePolicy], origins: Mapping[str, Origin]) -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []
    defined: dict[str, tuple[str, str]] = {}  # pattern name -> (policy id, pattern)
    for policy in policies:
        content = policy.filters.content
        if content is None:
            continue
        origin = origins[policy.id]
        for name, pattern in content.patterns.items():
            where = f"filters.content.patterns.{name}"
            if name in BUILTIN_DETECTORS:
                problems.append(
                    _problem(origin, where, f"{name!r} is a built-in detector: rename the pattern")
                )
            elif name in defined and defined[name][1] != pattern:
                other = defined[name][0]
                problems.append(
                    _problem(origin, where, f"{name!r} is defined differently by policy {other!r}")
                )
            else:
                defined[name] = (policy.id, pattern)
        unknown = sorted(set(content.detectors) - set(content.patterns) - set(BUILTIN_DETECTORS))
        if unknown:
            known = ", ".join(sorted(BUILTIN_DETECTORS))
            problems.append(
                _problem(
                    origin, "filters.content.detectors", f"unknown detectors {unknown} (built-in: {known})"
                )
            )
    return problems


def _problem(origin: Origin, field_path: str, message: str) -> PolicyProblem:
    return PolicyProblem(origin[0], origin[1], field_path, message)


def _where(origin: Origin) -> str:
    return origin[0] if origin[1] is None else f"{origin[0]}:{origin[1]}"


def policy_summary(policy: AnyPolicy) -> dict[str, object]:
    """A policy in a listing: what it is and does, without its whole filter tree."""
    if isinstance(policy, ActivityPolicy):
        return {
            "id": policy.id,
            "kind": policy.kind,
            "name": policy.name,
            "severity": highest(r.severity for r in policy.activity.root),
            "mode": "alert",
            "enabled": policy.enabled,
            "actions": [],
            "rules": [f"{r.id} ({r.kind})" for r in policy.activity.root],
        }
    return {
        "id": policy.id,
        "kind": policy.kind,
        "name": policy.name,
        "severity": policy.severity.value,
        "mode": policy.mode.value,
        "enabled": policy.enabled,
        "actions": [a.type for a in policy.actions],
        "content": policy.filters.content is not None,
    }
