"""Does a file policy match a file? Metadata first; content only for policies whose metadata holds.

Split so the scan can ask "would any policy need this file's text?" before downloading it: a
file that no content policy's other filters select is never downloaded.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from re import Pattern

from boxcasb.policies.model import (
    AccessLevel,
    ContentFilter,
    DateFilter,
    DomainFilter,
    FileFilters,
    FilePolicy,
    compile_glob,
    days_before,
)
from boxcasb.scan.model import Exposure, FileRecord, LinkAccess


@dataclass(frozen=True)
class FileFacts:
    """What a policy can look at: the inventory record and what the scan learnt around it."""

    record: FileRecord
    now: datetime
    created_at: datetime | None = None
    link_seen_at: datetime | None = None  # when a scan first saw the file's current shared link
    owner_groups: frozenset[str] = frozenset()  # the owner's Box group names and ids
    detections: Mapping[str, int] | None = None  # None: the text was not (or could not be) read


@dataclass(frozen=True)
class PolicyMatch:
    policy: FilePolicy
    evidence: Mapping[str, object] = field(default_factory=dict)


def access_levels(record: FileRecord) -> frozenset[AccessLevel]:
    levels = set()
    links = {record.link_effective_access or record.link_access, record.folder_link_access}
    if LinkAccess.OPEN in links:
        levels.add(AccessLevel.PUBLIC)
    if LinkAccess.COMPANY in links:
        levels.add(AccessLevel.COMPANY)
    if record.external_collaborators or record.exposure is Exposure.EXTERNAL:
        levels.add(AccessLevel.EXTERNAL)
    if len(record.collaborators) > len(record.external_collaborators):
        levels.add(AccessLevel.INTERNAL)
    return frozenset(levels or {AccessLevel.PRIVATE})


def metadata_matches(filters: FileFilters, facts: FileFacts) -> bool:
    """Every filter given holds (content aside)."""
    record = facts.record
    checks = (
        not filters.access or bool(access_levels(record) & set(filters.access)),
        filters.collaborator_domains is None or _domains_match(filters.collaborator_domains, record),
        not filters.owners or _owner_listed(filters.owners, record),
        not filters.owner_groups or bool(facts.owner_groups & {g.lower() for g in filters.owner_groups}),
        not filters.extensions or record.extension.lower() in filters.extensions,
        not filters.mime_types or _any_glob(filters.mime_types, _mime_type(record.extension)),
        not filters.name_patterns or _any_glob(filters.name_patterns, record.name),
        not filters.paths or _any_glob(filters.paths, f"{record.path.rstrip('/')}/{record.name}"),
        not filters.parent_folder_ids or record.folder_id in filters.parent_folder_ids,
        filters.size is None or _within(record.size, filters.size.min_bytes, filters.size.max_bytes),
        filters.created is None or _date_matches(filters.created, facts.created_at, facts.now),
        filters.modified is None or _date_matches(filters.modified, record.modified_at, facts.now),
        not filters.classifications
        or (record.classification or "").lower() in {c.lower() for c in filters.classifications},
        filters.link_older_than_days is None or _link_older(filters.link_older_than_days, facts),
    )
    return all(checks)


def content_matches(content: ContentFilter, detections: Mapping[str, int]) -> dict[str, int] | None:
    """The detectors that reached their threshold, or None when the filter doesn't hold."""
    hits = {name: detections.get(name, 0) for name, least in content.detectors.items()}
    reached = {name: count for name, count in hits.items() if count >= content.detectors[name]}
    held = len(reached) == len(hits) if content.match == "all" else bool(reached)
    return reached if held else None


def needs_content(policies: Sequence[FilePolicy], facts: FileFacts) -> bool:
    return any(p.filters.content is not None and metadata_matches(p.filters, facts) for p in policies)


def evaluate(policies: Sequence[FilePolicy], facts: FileFacts) -> list[PolicyMatch]:
    """The policies that match. A content policy can't match a file whose text wasn't read: its
    alert would claim what no one saw (an unreadable file is a scan error, reported as such)."""
    matches = []
    for policy in policies:
        if not metadata_matches(policy.filters, facts):
            continue
        evidence: dict[str, object] = {"access": sorted(access_levels(facts.record))}
        content = policy.filters.content
        if content is not None:
            if facts.detections is None:
                continue
            reached = content_matches(content, facts.detections)
            if reached is None:
                continue
            evidence["detections"] = reached
        if facts.record.external_collaborators:
            evidence["external_collaborators"] = list(facts.record.external_collaborators[:20])
        matches.append(PolicyMatch(policy, evidence))
    return matches


def _domains_match(rule: DomainFilter, record: FileRecord) -> bool:
    domains = {c.domain for c in record.collaborators if c.domain}
    external = {login.rpartition("@")[2].lower() for login in record.external_collaborators if "@" in login}
    if rule.deny and domains & set(rule.deny):
        return True
    return bool(rule.allow) and bool(external - set(rule.allow))


def _owner_listed(owners: Sequence[str], record: FileRecord) -> bool:
    wanted = {o.lower() for o in owners}
    return (record.owner_login or "").lower() in wanted or (record.owner_id or "") in wanted


def _within(value: int, least: int | None, most: int | None) -> bool:
    return (least is None or value >= least) and (most is None or value <= most)


def _date_matches(rule: DateFilter, moment: datetime | None, now: datetime) -> bool:
    if moment is None:
        return False
    return (
        (rule.after is None or moment > rule.after)
        and (rule.before is None or moment < rule.before)
        and (rule.older_than_days is None or moment < days_before(now, rule.older_than_days))
        and (rule.newer_than_days is None or moment >= days_before(now, rule.newer_than_days))
    )


def _link_older(days: int, facts: FileFacts) -> bool:
    has_link = facts.record.link_access is not None
    return has_link and facts.link_seen_at is not None and facts.link_seen_at < days_before(facts.now, days)


def _mime_type(extension: str) -> str:
    guessed, _ = mimetypes.guess_type(f"file.{extension}", strict=False) if extension else (None, None)
    return guessed or "application/octet-stream"


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> Pattern[str]:
    return compile_glob(pattern)


def _any_glob(patterns: Sequence[str], value: str) -> bool:
    return any(_glob(p).match(value) for p in patterns)
