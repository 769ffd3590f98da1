"""Priority rescans: one file or folder whose content or exposure just changed, outside any generation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO, Protocol

from boxcasb.activity.classify import ScanRequest
from boxcasb.errors import BoxAccessDenied, BoxRequestFailed, NotFound
from boxcasb.observability import logger, metrics
from boxcasb.scan.exposure import merge_collaborators, widest_link
from boxcasb.scan.file_scan import FileScanner
from boxcasb.scan.inventory import InventoryStore
from boxcasb.scan.model import Collaborator, LinkAccess, ListedFile, ListedFolder, root_key
from boxcasb.scan.plan import plan_folder
from boxcasb.scan.reads import FolderListing
from boxcasb.scan_queue import PriorityScanMessage


class PriorityBox(Protocol):
    def get_file(self, file_id: str, as_user: str | None) -> tuple[ListedFile, list[str]]: ...

    def get_folder(self, folder_id: str, as_user: str | None) -> tuple[ListedFolder, str, list[str]]: ...

    def list_folder(self, folder_id: str, path: str, as_user: str | None, key: str) -> FolderListing: ...

    def collaborators(self, kind: str, item_id: str, as_user: str | None) -> list[Collaborator]: ...

    def download(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> int: ...

    def extracted_text(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> bool: ...

    def folder_access(self, folder_id: str, as_user: str | None) -> ListedFolder: ...


class PriorityScanner:
    def __init__(
        self,
        inventory: InventoryStore,
        box_for: Callable[[str], PriorityBox],
        scanner: FileScanner,
        admin_of: Callable[[str], str],
        enqueue: Callable[[str, Sequence[ScanRequest]], object],
    ) -> None:
        self._inventory = inventory
        self._box_for = box_for
        self._scanner = scanner
        self._admin_of = admin_of
        self._enqueue = enqueue

    def handle(self, message: PriorityScanMessage) -> str:
        """What happened: "scanned", "unchanged", "gone" or "unreadable" (Box errors that may pass raise)."""
        connection_id = message.connection_id
        try:
            admin = self._admin_of(connection_id)
        except NotFound:
            logger.warning("priority scan for an unknown connection dropped")
            return "unknown connection"  # deleted since it was queued: retrying can't help
        # As-User can't name the connected admin itself; the admin's own items go without it.
        owner = message.owner_id if message.owner_id and message.owner_id != admin else None
        walker = owner or admin
        box = self._box_for(connection_id)
        try:
            if message.item_type == "file":
                outcome = self._file(connection_id, box, message.item_id, owner, walker)
            else:
                outcome = self._folder(connection_id, box, message.item_id, owner, walker)
        except (BoxAccessDenied, BoxRequestFailed) as exc:
            if isinstance(exc, BoxRequestFailed) and exc.status not in (403, 404):
                raise
            # Deleted since, or out of reach (an admin's file on a co-admin connection): the next
            # generation's listing removes or reports it.
            outcome = "gone" if isinstance(exc, BoxRequestFailed) and exc.status == 404 else "unreadable"
        logger.info(
            "priority scan",
            extra={"item_type": message.item_type, "item_id": message.item_id, "outcome": outcome},
        )
        metrics.add_metric(name="PriorityScans", unit="Count", value=1)
        return outcome

    def _inherited(
        self, box: PriorityBox, above: Sequence[str], owner: str | None
    ) -> tuple[list[Collaborator], LinkAccess | None]:
        """What the folders above pass down: their collaborators and their widest shared link.

        No listing carried them down as in a generation, so each folder above is read (a few calls).
        """
        folders = [box.folder_access(folder_id, owner) for folder_id in above]
        collaborators = merge_collaborators(
            *(box.collaborators("folders", f.id, owner) for f in folders if f.has_collaborations)
        )
        return collaborators, widest_link(*(f.link_access for f in folders))

    def _file(
        self, connection_id: str, box: PriorityBox, file_id: str, owner: str | None, walker: str
    ) -> str:
        file, above = box.get_file(file_id, owner)
        if file.parent_id == "0":
            file = file.model_copy(update={"parent_id": root_key(walker)})
        stored = self._inventory.get(connection_id, file.parent_id, file.id)
        inherited, folder_link = self._inherited(box, above, owner)
        record = self._scanner.scan(
            connection_id,
            box,
            owner,
            file,
            inherited,
            previous=stored,
            generation=stored.generation if stored else 0,
            folder_link=folder_link,
        )
        self._inventory.put(connection_id, record)
        return "scanned"

    def _folder(
        self, connection_id: str, box: PriorityBox, folder_id: str, owner: str | None, walker: str
    ) -> str:
        folder, path, above = box.get_folder(folder_id, owner)
        inherited, folder_link = self._inherited(box, above, owner)
        folder_link = widest_link(folder_link, folder.link_access)
        if folder.has_collaborations:
            inherited = merge_collaborators(inherited, box.collaborators("folders", folder.id, owner))
        listing = box.list_folder(folder.id, path, owner, folder.id)
        stored = self._inventory.folder_state(connection_id, folder.id)
        plan = plan_folder(
            listing.files,
            stored,
            inherited,
            self._scanner.policy_version(connection_id),
            folder_link,
        )
        known = [work.file.id for work in plan.changed if work.stored]
        previous = self._inventory.get_many(connection_id, folder.id, known) if known else {}
        for work in plan.changed:
            before = previous.get(work.file.id)
            record = self._scanner.scan(
                connection_id,
                box,
                owner,
                work.file,
                inherited,
                previous=before,
                generation=before.generation if before else 0,
                folder_link=folder_link,
            )
            self._inventory.put(connection_id, record)
        if plan.removed:
            self._inventory.remove(connection_id, folder.id, plan.removed)
        # A change on a folder reaches everything below it: each subfolder gets its own rescan.
        self._enqueue(
            connection_id,
            [
                ScanRequest(
                    item_type="folder", item_id=sub.id, reason="parent folder changed", owner_id=owner
                )
                for sub in listing.folders
            ],
        )
        return "scanned" if plan.changed or plan.removed else "unchanged"
