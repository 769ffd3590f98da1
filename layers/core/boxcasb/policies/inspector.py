"""The scan's FileInspector: a connection's policies judged on one file, and what follows.

The text is read only when a content policy's other filters select the file and no stored summary
of the same content (same sha1, same detectors) exists: an exposure change on an unchanged file is
judged again from its stored summary, without a download.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from boxcasb.clock import Clock, utc_now
from boxcasb.inspect.content import detectors_version
from boxcasb.policies.file_match import FileFacts, PolicyMatch, evaluate, needs_content
from boxcasb.policies.policy_set import PolicySet
from boxcasb.scan.file_scan import ContentSource, Inspection, link_seen_at
from boxcasb.scan.model import ContentSummary, FileRecord, ListedFile


class Verdicts(Protocol):
    """Where a file's verdict goes (alerts, and governance actions for enforced policies)."""

    def file_judged(
        self,
        connection_id: str,
        record: FileRecord,
        previous: FileRecord | None,
        policies: PolicySet,
        matches: Sequence[PolicyMatch],
        as_user: str | None,
    ) -> None: ...


class TextReader(Protocol):
    """Reads a file's text through the detectors (inspect.content.ContentReader)."""

    def read(
        self, box: ContentSource, file: ListedFile, as_user: str | None, custom: Mapping[str, str]
    ) -> ContentSummary: ...


class OwnerGroups(Protocol):
    def groups_of(self, connection_id: str, user_id: str) -> frozenset[str]: ...


class PolicyInspector:
    def __init__(
        self,
        policies: Callable[[str], PolicySet],
        reader: TextReader,
        verdicts: Verdicts,
        groups: OwnerGroups,
        clock: Clock = utc_now,
    ) -> None:
        self._policies = policies
        self._reader = reader
        self._verdicts = verdicts
        self._groups = groups
        self._clock = clock

    def policy_version(self, connection_id: str) -> str:
        return self._policies(connection_id).version

    def inspect(
        self,
        connection_id: str,
        box: ContentSource,
        as_user: str | None,
        file: ListedFile,
        record: FileRecord,
        previous: FileRecord | None,
    ) -> Inspection:
        policies = self._policies(connection_id)
        enabled = policies.enabled_file_policies
        custom = policies.custom_patterns
        uses_groups = any(p.filters.owner_groups for p in enabled)
        facts = FileFacts(
            record=record,
            now=self._clock(),
            created_at=file.created_at,
            link_seen_at=link_seen_at(record, previous),
            owner_groups=(
                self._groups.groups_of(connection_id, record.owner_id)
                if uses_groups and record.owner_id
                else frozenset()
            ),
        )
        content, read_now = _stored_summary(previous, file, detectors_version(custom)), False
        if content is None and needs_content(enabled, facts):
            content, read_now = self._reader.read(box, file, as_user, custom), True
        if content is not None:
            facts = replace(facts, detections=_detections(content))
        matches = evaluate(enabled, facts)
        inspection = Inspection(
            result=_result(content, matches),
            content_inspected=read_now,
            content=content,
            link_seen_at=facts.link_seen_at,
            matched_policies=tuple(m.policy.id for m in matches),
        )
        judged = inspection.applied_to(record)
        self._verdicts.file_judged(connection_id, judged, previous, policies, matches, as_user)
        return inspection


def _stored_summary(previous: FileRecord | None, file: ListedFile, detectors: str) -> ContentSummary | None:
    content = previous.content if previous is not None else None
    if content is None or content.sha1 != file.sha1 or content.detectors != detectors:
        return None
    return content


def _detections(content: ContentSummary) -> dict[str, int] | None:
    """What the detectors saw; None when the text couldn't be read and nothing was found before
    the failure (partial text that already matched is a real finding)."""
    if content.error is not None and not content.counts:
        return None
    return dict(content.counts)


def _result(content: ContentSummary | None, matches: Sequence[PolicyMatch]) -> str:
    if matches:
        return "matched"
    if content is not None and content.error is not None:
        return "error"
    return "clean"
