"""The Box reads a scan makes, over the gateway's raw GET: listings, files and collaborations.

Box JSON becomes the scan's models here, at the edge; nothing past this module sees Box's shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Protocol

from boxcasb.scan.model import Collaborator, LinkAccess, ListedFile, ListedFolder

# Asked once per listing: everything the inventory and the policies need, so no file needs a GET.
FILE_FIELDS = (
    "id,type,name,size,sha1,etag,sequence_id,created_at,modified_at,owned_by,shared_link,"
    "has_collaborations,is_externally_owned,classification,extension"
)
ITEM_FIELDS = FILE_FIELDS + ",path_collection,parent"
FOLDER_FIELDS = "id,name,owned_by,shared_link,has_collaborations,path_collection"
COLLABORATION_FIELDS = "accessible_by,role,status"
PAGE_LIMIT = 1000


class RawGet(Protocol):
    def get_json(self, path: str, params: dict[str, str], user_id: str | None = None) -> dict[str, Any]: ...

    def download(self, file_id: str, user_id: str | None, into: IO[bytes], max_bytes: int) -> int: ...

    def extracted_text(self, file_id: str, user_id: str | None, into: IO[bytes], max_bytes: int) -> bool: ...


@dataclass
class FolderListing:
    files: list[ListedFile] = field(default_factory=list)
    folders: list[ListedFolder] = field(default_factory=list)
    pages: int = 0


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _access(value: object) -> LinkAccess | None:
    try:
        return LinkAccess(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _owner(entry: dict[str, Any]) -> tuple[str | None, str | None]:
    owned_by = entry.get("owned_by")
    if not isinstance(owned_by, dict):
        return None, None
    raw_id = owned_by.get("id")
    return (str(raw_id) if raw_id is not None else None), owned_by.get("login")


def _classification(entry: dict[str, Any]) -> str | None:
    value = entry.get("classification")
    return str(value.get("name")) if isinstance(value, dict) and value.get("name") else None


def listed_file(entry: dict[str, Any], parent_id: str, path: str) -> ListedFile:
    link = entry.get("shared_link") if isinstance(entry.get("shared_link"), dict) else None
    owner_id, owner_login = _owner(entry)
    name = str(entry.get("name") or "")
    return ListedFile(
        id=str(entry["id"]),
        name=name,
        parent_id=parent_id,
        path=path,
        size=int(entry.get("size") or 0),
        sha1=entry.get("sha1") or None,
        etag=str(entry["etag"]) if entry.get("etag") is not None else None,
        sequence_id=str(entry["sequence_id"]) if entry.get("sequence_id") is not None else None,
        created_at=_time(entry.get("created_at")),
        modified_at=_time(entry.get("modified_at")),
        owner_id=owner_id,
        owner_login=owner_login,
        link_access=_access(link.get("access")) if link else None,
        link_effective_access=_access(link.get("effective_access")) if link else None,
        link_created=link is not None,
        has_collaborations=bool(entry.get("has_collaborations")),
        externally_owned=bool(entry.get("is_externally_owned")),
        classification=_classification(entry),
        extension=str(entry.get("extension") or (name.rpartition(".")[2] if "." in name else "")).lower(),
    )


def _path_folders(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, name) of the folders in an item's path_collection, the root ("0") left out."""
    path = entry.get("path_collection")
    entries = path.get("entries") if isinstance(path, dict) else None
    folders = [f for f in entries or [] if isinstance(f, dict)]
    return [(str(f.get("id")), str(f.get("name") or "")) for f in folders if str(f.get("id")) != "0"]


def listed_folder(entry: dict[str, Any]) -> ListedFolder:
    link = entry.get("shared_link") if isinstance(entry.get("shared_link"), dict) else None
    owner_id, _ = _owner(entry)
    return ListedFolder(
        id=str(entry["id"]),
        name=str(entry.get("name") or ""),
        owner_id=owner_id,
        has_collaborations=bool(entry.get("has_collaborations")),
        link_access=(_access(link.get("effective_access")) or _access(link.get("access"))) if link else None,
    )


def _collaborator(entry: dict[str, Any]) -> Collaborator | None:
    if entry.get("status") == "rejected":
        return None
    who = entry.get("accessible_by")
    if not isinstance(who, dict) or who.get("id") is None:
        return None  # an invite by mail to someone without a Box account yet: no one to reach
    kind = "group" if who.get("type") == "group" else "user"
    return Collaborator(
        kind=kind,
        id=str(who["id"]),
        login=who.get("login"),
        name=who.get("name"),
        role=entry.get("role"),
    )


class ScanReads:
    """A connection's Box, read for a scan (the gateway's rate limiter and retries apply)."""

    def __init__(self, box: RawGet) -> None:
        self._box = box

    def download(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> int:
        return self._box.download(file_id, as_user, into, max_bytes)

    def extracted_text(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> bool:
        """Box's own text of the file into `into`, when Box has it ready (see BoxGateway)."""
        return self._box.extracted_text(file_id, as_user, into, max_bytes)

    def list_folder(self, folder_id: str, path: str, as_user: str | None, key: str) -> FolderListing:
        """Every file and folder directly in the folder (web links are not scanned), all pages.

        `key` is the folder as the inventory names it: its id, or the owner's root key.
        """
        listing = FolderListing()
        for page in self._pages(f"/folders/{folder_id}/items", FILE_FIELDS, as_user):
            listing.pages += 1
            for entry in page:
                kind = entry.get("type")
                if kind == "file":
                    listing.files.append(listed_file(entry, key, path))
                elif kind == "folder":
                    listing.folders.append(listed_folder(entry))
        return listing

    def get_file(self, file_id: str, as_user: str | None) -> tuple[ListedFile, list[str]]:
        """One file with its path as `as_user` sees it, and the ids of the folders above it (top
        first, the root left out): a priority rescan has no listing to carry them."""
        entry = self._box.get_json(f"/files/{file_id}", {"fields": ITEM_FIELDS}, as_user)
        above = _path_folders(entry)
        parent = entry.get("parent") if isinstance(entry.get("parent"), dict) else {}
        path = "/" + "/".join(name for _, name in above)
        file = listed_file(entry, str((parent or {}).get("id") or "0"), path)
        return file, [folder_id for folder_id, _ in above]

    def get_folder(self, folder_id: str, as_user: str | None) -> tuple[ListedFolder, str, list[str]]:
        """A folder, its path and the ids of the folders above it (top first, the root left out)."""
        entry = self._box.get_json(f"/folders/{folder_id}", {"fields": FOLDER_FIELDS}, as_user)
        above = _path_folders(entry)
        folder = listed_folder(entry)
        path = "/" + "/".join([name for _, name in above] + [folder.name])
        return folder, path, [folder_id for folder_id, _ in above]

    def folder_access(self, folder_id: str, as_user: str | None) -> ListedFolder:
        """A folder's shared link and collaboration flag: what it passes down to the items below."""
        entry = self._box.get_json(
            f"/folders/{folder_id}", {"fields": "id,name,shared_link,has_collaborations"}, as_user
        )
        return listed_folder(entry)

    def collaborators(self, kind: str, item_id: str, as_user: str | None) -> list[Collaborator]:
        """Who a file's or folder's own collaborations reach (`kind` is "files" or "folders")."""
        found = []
        for page in self._pages(f"/{kind}/{item_id}/collaborations", COLLABORATION_FIELDS, as_user):
            for entry in page:
                collaborator = _collaborator(entry)
                if collaborator is not None:
                    found.append(collaborator)
        return found

    def _pages(self, path: str, fields: str, as_user: str | None) -> Iterator[list[dict[str, Any]]]:
        """Each page's entries, following Box's markers to the end."""
        marker: str | None = None
        while True:
            params = {"fields": fields, "limit": str(PAGE_LIMIT), "usemarker": "true"}
            if marker:
                params["marker"] = marker
            page = self._box.get_json(path, params, as_user)
            yield [e for e in page.get("entries") or [] if isinstance(e, dict)]
            marker = page.get("next_marker") or None
            if not marker:
                return
