"""One file's scan: who can reach it, what the inspector says, and its inventory record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from boxcasb.clock import Clock, utc_now
from boxcasb.scan.exposure import exposure_of, external_collaborators, merge_collaborators
from boxcasb.scan.model import Collaborator, FileRecord, LinkAccess, ListedFile
from boxcasb.scan.plan import fingerprint


@dataclass(frozen=True)
class Inspection:
    result: str
    content_inspected: bool


class FileInspector(Protocol):
    """Where content inspection and policies plug in (next issue). Its version keys the incremental
    scan: a new policy set re-inspects every file once."""

    @property
    def policy_version(self) -> str: ...

    def inspect(self, file: ListedFile, record: FileRecord, content_changed: bool) -> Inspection: ...


class MetadataOnly:
    """The inspector until policies exist: the record's metadata and exposure are the result."""

    policy_version = "metadata-1"

    def inspect(self, file: ListedFile, record: FileRecord, content_changed: bool) -> Inspection:
        return Inspection(result="metadata", content_inspected=False)


class CollaboratorSource(Protocol):
    def collaborators(self, kind: str, item_id: str, as_user: str | None) -> list[Collaborator]: ...


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

    @property
    def policy_version(self) -> str:
        return self._inspector.policy_version

    def scan(
        self,
        connection_id: str,
        box: CollaboratorSource,
        as_user: str | None,
        file: ListedFile,
        inherited: Sequence[Collaborator],
        *,
        content_changed: bool,
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
            policy_version=self._inspector.policy_version,
            generation=generation,
            scanned_at=self._clock(),
            result="pending",
            content_inspected=False,
        )
        verdict = self._inspector.inspect(file, record, content_changed)
        return record.model_copy(
            update={"result": verdict.result, "content_inspected": verdict.content_inspected}
        )
