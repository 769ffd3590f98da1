"""Every file filter, on records built the way the scan builds them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from boxcasb.policies.file_match import FileFacts, access_levels, evaluate, metadata_matches, needs_content
from boxcasb.policies.model import AccessLevel, FileFilters, FilePolicy
from boxcasb.scan.model import Collaborator, Exposure, FileRecord, LinkAccess

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BOB = Collaborator(kind="user", id="2", login="bob@acme.example", role="editor")
EVE = Collaborator(kind="user", id="9", login="eve@gmail.com", role="viewer")
PAT = Collaborator(kind="user", id="8", login="pat@partner.example", role="viewer")


def record(**fields: Any) -> FileRecord:
    collaborators = fields.pop("collaborators", [])
    external = [c.login for c in collaborators if c.domain != "acme.example"]
    values: dict[str, Any] = {
        "file_id": "10",
        "name": "report.pdf",
        "folder_id": "5",
        "path": "/Finance/2026",
        "owner_id": "1",
        "owner_login": "ann@acme.example",
        "size": 2048,
        "sha1": "a" * 40,
        "etag": "0",
        "extension": "pdf",
        "modified_at": NOW - timedelta(days=10),
        "classification": None,
        "link_access": None,
        "link_effective_access": None,
        "collaborators": collaborators,
        "external_collaborators": external,
        "exposure": Exposure.EXTERNAL if external else Exposure.PRIVATE,
        "fingerprint": "f",
        "policy_version": "v",
        "generation": 1,
        "scanned_at": NOW,
        "result": "pending",
        "content_inspected": False,
    }
    values.update(fields)
    return FileRecord(**values)


def facts(rec: FileRecord | None = None, **fields: Any) -> FileFacts:
    return FileFacts(record=rec or record(), now=NOW, **fields)


def matches(filters: dict[str, Any], the_facts: FileFacts) -> bool:
    return metadata_matches(FileFilters.model_validate(filters), the_facts)


@pytest.mark.parametrize(
    ("fields", "levels"),
    [
        ({}, {AccessLevel.PRIVATE}),
        ({"link_access": LinkAccess.OPEN, "link_effective_access": LinkAccess.OPEN}, {AccessLevel.PUBLIC}),
        # The enterprise narrows an open link: what counts is the effective access.
        (
            {"link_access": LinkAccess.OPEN, "link_effective_access": LinkAccess.COMPANY},
            {AccessLevel.COMPANY},
        ),
        ({"folder_link_access": LinkAccess.OPEN}, {AccessLevel.PUBLIC}),
        ({"collaborators": [BOB]}, {AccessLevel.INTERNAL}),
        ({"collaborators": [BOB, EVE]}, {AccessLevel.INTERNAL, AccessLevel.EXTERNAL}),
        (
            {"collaborators": [EVE], "link_access": LinkAccess.COMPANY},
            {AccessLevel.EXTERNAL, AccessLevel.COMPANY},
        ),
        ({"link_access": LinkAccess.COLLABORATORS}, {AccessLevel.PRIVATE}),
    ],
)
def test_access_levels(fields: dict[str, Any], levels: set[AccessLevel]) -> None:
    assert access_levels(record(**fields)) == levels


def test_access_filter_matches_any_listed_level() -> None:
    shared = facts(record(collaborators=[EVE], link_access=LinkAccess.COMPANY))
    assert matches({"access": ["company"]}, shared)
    assert matches({"access": ["public", "external"]}, shared)
    assert not matches({"access": ["public", "private"]}, shared)


def test_collaborator_domains_deny_and_allow() -> None:
    gmail, partner = facts(record(collaborators=[BOB, EVE])), facts(record(collaborators=[PAT]))
    assert matches({"collaborator_domains": {"deny": ["GMAIL.com"]}}, gmail)
    assert not matches({"collaborator_domains": {"deny": ["gmail.com"]}}, partner)
    # allow: any external collaborator from a domain not on the list
    assert matches({"collaborator_domains": {"allow": ["partner.example"]}}, gmail)
    assert not matches({"collaborator_domains": {"allow": ["partner.example"]}}, partner)
    # internal collaborators are never "not allowed"
    assert not matches(
        {"collaborator_domains": {"allow": ["partner.example"]}}, facts(record(collaborators=[BOB]))
    )


def test_owner_and_owner_group() -> None:
    assert matches({"owners": ["ANN@acme.example"]}, facts())
    assert matches({"owners": ["1"]}, facts())
    assert not matches({"owners": ["bob@acme.example"]}, facts())
    grouped = facts(owner_groups=frozenset({"finance", "301"}))
    assert matches({"owner_groups": ["Finance"]}, grouped)
    assert matches({"owner_groups": ["301"]}, grouped)
    assert not matches({"owner_groups": ["Finance"]}, facts())


def test_extension_mime_type_and_name() -> None:
    assert matches({"extensions": [".PDF"]}, facts())
    assert not matches({"extensions": ["docx"]}, facts())
    assert matches({"mime_types": ["application/pdf"]}, facts())
    assert matches({"mime_types": ["application/*"]}, facts())
    assert not matches({"mime_types": ["image/*"]}, facts())
    assert matches({"mime_types": ["application/octet-stream"]}, facts(record(extension="")))
    assert matches({"name_patterns": ["REPORT*"]}, facts())
    assert not matches({"name_patterns": ["*.docx"]}, facts())


def test_path_and_parent_folder() -> None:
    assert matches({"paths": ["/Finance/*"]}, facts())
    assert matches({"paths": ["/finance/2026/report.pdf"]}, facts())
    assert not matches({"paths": ["/HR/*"]}, facts())
    assert matches({"paths": ["/*"]}, facts(record(path="/")))
    assert matches({"parent_folder_ids": ["5"]}, facts())
    assert not matches({"parent_folder_ids": ["6"]}, facts())


def test_size() -> None:
    assert matches({"size": {"min_bytes": 2048}}, facts())
    assert not matches({"size": {"min_bytes": 2049}}, facts())
    assert matches({"size": {"max_bytes": 2048}}, facts())
    assert not matches({"size": {"min_bytes": 1, "max_bytes": 100}}, facts())


def test_created_and_modified_dates() -> None:
    created = facts(created_at=NOW - timedelta(days=400))
    assert matches({"created": {"older_than_days": 365}}, created)
    assert not matches({"created": {"newer_than_days": 365}}, created)
    assert matches({"created": {"before": "2026-01-01T00:00:00Z"}}, created)
    assert not matches({"created": {"after": "2026-01-01T00:00:00Z"}}, created)
    assert not matches({"created": {"older_than_days": 1}}, facts())  # unknown: no match
    assert matches({"modified": {"newer_than_days": 30}}, facts())
    assert not matches({"modified": {"older_than_days": 30}}, facts())


def test_classification() -> None:
    labelled = facts(record(classification="Confidential"))
    assert matches({"classifications": ["confidential"]}, labelled)
    assert not matches({"classifications": ["Public"]}, labelled)
    assert not matches({"classifications": ["Confidential"]}, facts())


def test_stale_link() -> None:
    linked = record(link_access=LinkAccess.OPEN, link_effective_access=LinkAccess.OPEN)
    assert matches({"link_older_than_days": 90}, facts(linked, link_seen_at=NOW - timedelta(days=91)))
    assert not matches({"link_older_than_days": 90}, facts(linked, link_seen_at=NOW - timedelta(days=89)))
    assert not matches({"link_older_than_days": 90}, facts(link_seen_at=NOW - timedelta(days=91)))


def test_all_filters_must_hold() -> None:
    assert matches({"extensions": ["pdf"], "paths": ["/Finance/*"]}, facts())
    assert not matches({"extensions": ["pdf"], "paths": ["/HR/*"]}, facts())


def policy(policy_id: str, filters: dict[str, Any]) -> FilePolicy:
    return FilePolicy.model_validate({"kind": "file", "id": policy_id, "name": policy_id, "filters": filters})


def test_content_thresholds_any_and_all() -> None:
    public = record(link_access=LinkAccess.OPEN, link_effective_access=LinkAccess.OPEN)
    any_of = policy("any", {"access": ["public"], "content": {"detectors": {"credit_card": 3, "us_ssn": 1}}})
    all_of = policy(
        "all",
        {"access": ["public"], "content": {"match": "all", "detectors": {"credit_card": 3, "us_ssn": 1}}},
    )
    two_cards = facts(public, detections={"credit_card": 2, "us_ssn": 1})
    assert [m.policy.id for m in evaluate([any_of, all_of], two_cards)] == ["any"]
    (found,) = evaluate([any_of], two_cards)
    assert found.evidence["detections"] == {"us_ssn": 1}
    three_cards = facts(public, detections={"credit_card": 3, "us_ssn": 1})
    assert [m.policy.id for m in evaluate([any_of, all_of], three_cards)] == ["any", "all"]


def test_a_content_policy_never_matches_unread_text_and_asks_for_it_only_when_metadata_holds() -> None:
    content = policy("c", {"access": ["public"], "content": {"detectors": {"credit_card": 1}}})
    metadata = policy("m", {"access": ["private"]})
    unread = facts()
    assert [m.policy.id for m in evaluate([content, metadata], unread)] == ["m"]
    assert not needs_content([content, metadata], unread)
    public = facts(record(link_access=LinkAccess.OPEN, link_effective_access=LinkAccess.OPEN))
    assert needs_content([content, metadata], public)
    assert evaluate([content], public) == []
