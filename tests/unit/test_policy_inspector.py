"""The scan's inspector: when a file's text is read, what is judged, and what the record keeps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from boxcasb.inspect.content import detectors_version
from boxcasb.policies.file_match import PolicyMatch
from boxcasb.policies.loader import load_text
from boxcasb.policies.policy_set import PolicySet, merge
from boxcasb.scan.file_scan import ContentSource, FileScanner
from boxcasb.scan.model import Collaborator, ContentSummary, FileRecord, LinkAccess, ListedFile

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICIES = """\
policies:
  - kind: file
    id: public-link
    name: Public link
    filters: {access: [public]}
  - kind: file
    id: cards-shared
    name: Cards shared
    filters:
      access: [public, external]
      content: {detectors: {credit_card: 2}}
"""


@dataclass
class Reader:
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    reads: list[str] = field(default_factory=list)

    def read(
        self, box: ContentSource, file: ListedFile, as_user: str | None, custom: Mapping[str, str]
    ) -> ContentSummary:
        self.reads.append(file.id)
        return ContentSummary(
            sha1=file.sha1,
            detectors=detectors_version(custom),
            counts=self.counts,
            samples={name: ["**** **** **** 1111"] for name in self.counts},
            error=self.error,
        )


@dataclass
class Judged:
    calls: list[tuple[str, list[str]]] = field(default_factory=list)

    def file_judged(
        self,
        connection_id: str,
        record: FileRecord,
        previous: FileRecord | None,
        policies: PolicySet,
        matches: Sequence[PolicyMatch],
        as_user: str | None,
    ) -> None:
        self.calls.append((record.file_id, [m.policy.id for m in matches]))


class NoGroups:
    def groups_of(self, connection_id: str, user_id: str) -> frozenset[str]:
        return frozenset()


class Box:
    def collaborators(self, kind: str, item_id: str, as_user: str | None) -> list[Collaborator]:
        return [Collaborator(kind="user", id="9", login="eve@gmail.com", role="viewer")]

    def download(self, file_id: str, as_user: str | None, into: Any, max_bytes: int) -> int:
        raise AssertionError("the fake reader never downloads")


def listed(**fields: Any) -> ListedFile:
    values: dict[str, Any] = {
        "id": "10",
        "name": "cards.csv",
        "parent_id": "5",
        "path": "/Sales",
        "size": 100,
        "sha1": "a" * 40,
        "etag": "1",
        "owner_id": "1",
        "owner_login": "ann@acme.example",
        "extension": "csv",
    }
    return ListedFile(**(values | fields))


PUBLIC = {"link_access": LinkAccess.OPEN, "link_effective_access": LinkAccess.OPEN, "link_created": True}


def scanner(reader: Reader, judged: Judged, clock: Any = lambda: NOW) -> FileScanner:
    from boxcasb.policies.inspector import PolicyInspector

    policies = merge([load_text(POLICIES, "p.yaml")])
    inspector = PolicyInspector(lambda _cid: policies, reader, judged, NoGroups(), clock)
    return FileScanner(inspector, lambda _cid: frozenset({"acme.example"}), clock)


def scan(s: FileScanner, file: ListedFile, previous: FileRecord | None = None) -> FileRecord:
    return s.scan("c1", Box(), None, file, [], previous=previous, generation=1)


def test_a_private_file_is_judged_on_metadata_alone() -> None:
    reader, judged = Reader(counts={"credit_card": 5}), Judged()
    record = scan(scanner(reader, judged), listed())
    assert reader.reads == []  # no content policy's other filters hold: never downloaded
    assert (record.result, record.content, record.content_inspected) == ("clean", None, False)
    assert judged.calls == [("10", [])]  # judged all the same: its alerts, if any, resolve


def test_a_public_file_is_read_once_and_its_summary_reused_while_unchanged() -> None:
    reader, judged = Reader(counts={"credit_card": 2}), Judged()
    s = scanner(reader, judged)
    first = scan(s, listed(**PUBLIC))
    assert reader.reads == ["10"]
    assert (first.result, first.content_inspected) == ("matched", True)
    assert first.matched_policies == ["public-link", "cards-shared"]
    assert first.content is not None
    assert first.content.counts == {"credit_card": 2}
    # The link narrowed to company: judged again from the stored summary, no download.
    narrowed = scan(s, listed(link_access=LinkAccess.COMPANY, link_created=True), previous=first)
    assert reader.reads == ["10"]
    assert (narrowed.matched_policies, narrowed.content_inspected) == ([], False)
    assert narrowed.content == first.content
    # New content (another sha1): read again.
    scan(s, listed(sha1="b" * 40, **PUBLIC), previous=narrowed)
    assert reader.reads == ["10", "10"]


def test_below_the_threshold_the_content_policy_does_not_match() -> None:
    reader, judged = Reader(counts={"credit_card": 1}), Judged()
    record = scan(scanner(reader, judged), listed(**PUBLIC))
    assert record.matched_policies == ["public-link"]
    assert judged.calls == [("10", ["public-link"])]


@pytest.mark.parametrize(
    ("counts", "matched", "result"),
    [({}, ["public-link"], "matched"), ({"credit_card": 3}, ["public-link", "cards-shared"], "matched")],
)
def test_unreadable_text_matches_nothing_it_did_not_see(
    counts: dict[str, int], matched: list[str], result: str
) -> None:
    reader = Reader(counts=counts, error="zip_bomb: word/document.xml expands 1000x")
    record = scan(scanner(reader, Judged()), listed(**PUBLIC))
    assert (record.matched_policies, record.result) == (matched, result)
    assert record.content is not None
    assert record.content.error is not None


def test_an_error_without_a_match_is_the_result() -> None:
    reader = Reader(error="timeout: extraction took over 120 s")
    record = scan(scanner(reader, Judged()), listed(has_collaborations=True))  # shared with eve@gmail.com
    assert reader.reads == ["10"]
    assert (record.result, record.matched_policies) == ("error", [])


def test_the_link_keeps_the_time_a_scan_first_saw_it() -> None:
    now = [NOW]
    s = scanner(Reader(), Judged(), clock=lambda: now[0])
    first = scan(s, listed(**PUBLIC))
    now[0] = NOW + timedelta(days=30)
    second = scan(s, listed(etag="2", **PUBLIC), previous=first)
    now[0] = NOW + timedelta(days=60)
    assert first.link_seen_at == second.link_seen_at == NOW
    gone = scan(s, listed(etag="3"), previous=second)
    assert gone.link_seen_at is None
