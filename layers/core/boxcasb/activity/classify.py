"""Which activity changes content or exposure (rescan the item first) and which only reads it.

One pure table, shared by the event poller and the webhook intake, so the same change
arriving both ways is judged the same way. Event types from Box's enterprise events
(admin_logs); triggers from Box V2 webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Impact(StrEnum):
    CONTENT_OR_EXPOSURE = "content_or_exposure"  # scan it now (priority queue)
    VIEW_ONLY = "view_only"  # recorded; the regular scan will see it
    OTHER = "other"  # logins, admin changes, ...: recorded, nothing to scan


CONTENT_OR_EXPOSURE_EVENTS = frozenset(
    {
        "UPLOAD",
        "EDIT",
        "ITEM_MODIFY",
        "COPY",
        "MOVE",
        "RENAME",
        "UNDELETE",
        "FILE_VERSION_RESTORE",
        "SHARE",
        "ITEM_SHARED_UPDATE",
        "UNSHARE",
        "SHARE_EXPIRATION",
        "UPDATE_SHARE_EXPIRATION",
        "COLLABORATION_INVITE",
        "COLLABORATION_ACCEPT",
        "COLLABORATION_ROLE_CHANGE",
        "COLLABORATION_REMOVE",
        "CHANGE_FOLDER_PERMISSION",
        "METADATA_INSTANCE_CREATE",
        "METADATA_INSTANCE_UPDATE",
        "METADATA_INSTANCE_DELETE",
    }
)
VIEW_ONLY_EVENTS = frozenset(
    {"PREVIEW", "DOWNLOAD", "ITEM_OPEN", "CONTENT_ACCESS", "FILE_WATERMARKED_DOWNLOAD"}
)

CONTENT_OR_EXPOSURE_TRIGGERS = frozenset(
    {
        "FILE.UPLOADED",
        "FILE.COPIED",
        "FILE.MOVED",
        "FILE.RENAMED",
        "FILE.RESTORED",
        "SHARED_LINK.CREATED",
        "SHARED_LINK.UPDATED",
        "SHARED_LINK.DELETED",
        "COLLABORATION.CREATED",
        "COLLABORATION.ACCEPTED",
        "COLLABORATION.UPDATED",
        "COLLABORATION.REMOVED",
        "METADATA_INSTANCE.CREATED",
        "METADATA_INSTANCE.UPDATED",
        "METADATA_INSTANCE.DELETED",
    }
)
VIEW_ONLY_TRIGGERS = frozenset({"FILE.PREVIEWED", "FILE.DOWNLOADED"})

SCANNABLE_ITEM_TYPES = frozenset({"file", "folder"})


@dataclass(frozen=True)
class ScanRequest:
    """Put this item at the front of the scan queue, because of `reason`."""

    item_type: str
    item_id: str
    reason: str
    owner_id: str | None = None  # the item's owner, when the event says: the rescan acts as them
    changed_at: datetime | None = None  # when the change happened: one change, one rescan


def impact_of_event(event_type: str) -> Impact:
    if event_type in CONTENT_OR_EXPOSURE_EVENTS:
        return Impact.CONTENT_OR_EXPOSURE
    if event_type in VIEW_ONLY_EVENTS:
        return Impact.VIEW_ONLY
    return Impact.OTHER


def impact_of_trigger(trigger: str) -> Impact:
    if trigger in CONTENT_OR_EXPOSURE_TRIGGERS or trigger.startswith("METADATA_INSTANCE."):
        return Impact.CONTENT_OR_EXPOSURE
    if trigger in VIEW_ONLY_TRIGGERS:
        return Impact.VIEW_ONLY
    return Impact.OTHER


def scan_request(
    impact: Impact,
    reason: str,
    item_type: str | None,
    item_id: str | None,
    owner_id: str | None = None,
    changed_at: datetime | None = None,
) -> ScanRequest | None:
    """A priority scan for a content or exposure change on a file or folder; None otherwise."""
    if impact is not Impact.CONTENT_OR_EXPOSURE or item_type not in SCANNABLE_ITEM_TYPES or not item_id:
        return None
    return ScanRequest(
        item_type=item_type, item_id=item_id, reason=reason, owner_id=owner_id, changed_at=changed_at
    )
