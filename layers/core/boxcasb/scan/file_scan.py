"""One file's scan: who can reach it, what the inspector says, and its inventory record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Protocol

from boxcasb.clock import Clock, utc_now
from boxcasb.scan.exposure import exposure_of, external_collaborators, merge_collaborators
from boxcasb.scan.model import Collaborator, ContentSummary, FileRecord, LinkAccess, ListedFile
from boxcasb.scan.plan import fingerprint


@dataclass(frozen=True)
class Inspection:
    result: str
    content_inspected: bool = False
    content: ContentSummary | None = None
    link_seen_at: datetime | None = None
    matched_policies: tuple[str, ...] = ()

    def applied_to(self, record: FileRecord) -> FileRecord:
        return record.model_copy(
            update={
                "result": self.result,
                "content_inspected": self.content_inspected,
                "content": self.content,
                "link_seen_at": self.link_seen_at,
                "matched_policies": list(self.matched_policies),
            }
        )


class FileInspector(Protocol):
    """Where content inspection and policies plug in. Its version (per connection: each can
    override the deployed policies) keys the incremental scan: a new policy set re-inspects every
    file once."""

    def policy_version(self, connection_id: str) -> str: ...

    def inspect(
        self,
        connection_id: str,
        box: ContentSource,
        as_user: str | None,
        file: ListedFile,
        record: FileRecord,
        previous: FileRecord | None,
    ) -> Inspection: ...


def link_seen_at(record: FileRecord, previous: FileRecord | None) -> datetime | None:
    """When a scan first saw the file's shared link: kept while a link stays, reset when it goes."""
    if record.link_access is None:
        return None
    if previous is not None and previous.link_access is not None and previous.link_seen_at is not None:
        return previous.link_seen_at
    return record.scanned_at


class CollaboratorSource(Protocol):
    def collaborators(self, kind: str, item_id: str, as_user: str | None) -> list[Collaborator]: ...


class ContentSource(CollaboratorSource, Protocol):
    def download(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> int: ...

    def extracted_text(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> bool: ...


class FileScanner:
    def __init__(
        self,
        inspector: FileInspector,
        internal_domains: Callable[[str], frozenset[str]],
        clock: Clock = utc_now,
    ) -> None:
        self._inspector = inspector
        self._internal_domains = internal_domains
        self._clock = clock

    def policy_version(self, connection_id: str) -> str:
        return self._inspector.policy_version(connection_id)

    def scan(
        self,
        connection_id: str,
        box: ContentSource,
        as_user: str | None,
        file: ListedFile,
        inherited: Sequence[Collaborator],
        *,
        previous: FileRecord | None,
        generation: int,
        folder_link: LinkAccess | None = None,
    ) -> FileRecord:
        # Only a file's own collaborations need a call; the folders' ones came down with the job.
        own = box.collaborators("files", file.id, as_user) if file.has_collaborations else []
        collaborators = merge_collaborators(inherited, own)
        domains = self._internal_domains(connection_id)
        record = FileRecord(
            file_id=file.id,
            name=file.name,
            folder_id=file.parent_id,
            path=file.path,
            owner_id=file.owner_id,
            owner_login=file.owner_login,
            size=file.size,
            sha1=file.sha1,
            etag=file.etag,
            extension=file.extension,
            modified_at=file.modified_at,
            classification=file.classification,
            link_access=file.link_access,
            link_effective_access=file.link_effective_access,
            folder_link_access=folder_link,
            collaborators=collaborators,
            external_collaborators=external_collaborators(collaborators, domains),
            exposure=exposure_of(file, collaborators, domains, folder_link),
            fingerprint=fingerprint(file, inherited, folder_link),
            policy_version=self._inspector.policy_version(connection_id),
            generation=generation,
            scanned_at=self._clock(),
            result="pending",
            content_inspected=False,
        )
        return self._inspector.inspect(connection_id, box, as_user, file, record, previous).applied_to(record)
