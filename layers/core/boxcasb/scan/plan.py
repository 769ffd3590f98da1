"""Which files of a folder need a scan: pure, so the cost model is testable without AWS or Box."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from boxcasb.scan.model import Collaborator, FileWork, LinkAccess, ListedFile


@dataclass(frozen=True)
class StoredState:
    """What the inventory remembers of a file, enough to decide "unchanged"."""

    sha1: str | None
    fingerprint: str
    policy_version: str
    generation: int = 0  # the last generation that scanned it (0: only priority rescans)


@dataclass(frozen=True)
class FolderPlan:
    changed: list[FileWork]
    unchanged: int
    removed: list[str]  # stored under this folder, no longer listed (deleted or moved away)


def inherited_key(inherited: Sequence[Collaborator]) -> str:
    return ",".join(sorted(f"{c.kind}:{c.id}:{c.role or ''}" for c in inherited))


def fingerprint(
    file: ListedFile, inherited: Sequence[Collaborator], folder_link: LinkAccess | None = None
) -> str:
    """Everything the listing shows that can change what the scan would record.

    The etag moves on any change to the file itself (content, name, link); the link and
    collaboration flags and the inherited collaborators are in too, because a change made on a
    folder above reaches the file without touching its etag.
    """
    parts = (
        file.sha1 or "",
        file.etag or "",
        file.name,
        file.path,
        file.owner_id or "",
        str(file.link_access or ""),
        str(file.link_effective_access or ""),
        str(file.has_collaborations),
        file.classification or "",
        inherited_key(inherited),
        str(folder_link or ""),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def plan_folder(
    files: Sequence[ListedFile],
    stored: Mapping[str, StoredState],
    inherited: Sequence[Collaborator],
    policy_version: str,
    folder_link: LinkAccess | None = None,
) -> FolderPlan:
    changed: list[FileWork] = []
    unchanged = 0
    for file in files:
        before = stored.get(file.id)
        content_changed = (
            before is None or before.sha1 != file.sha1 or before.policy_version != policy_version
        )
        if (
            content_changed
            or before is None
            or before.fingerprint != fingerprint(file, inherited, folder_link)
        ):
            changed.append(FileWork(file=file, content_changed=content_changed, stored=before is not None))
        else:
            unchanged += 1
    listed = {f.id for f in files}
    removed = sorted(file_id for file_id in stored if file_id not in listed)
    return FolderPlan(changed=changed, unchanged=unchanged, removed=removed)
