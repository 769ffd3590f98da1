"""What makes the fake send a webhook, and the payload it sends.

The tenant's enterprise events drive deliveries: ``tenant.add_event(type, actor,
source=item)`` records the event and, for every webhook whose trigger the type maps
to (``TRIGGERS_BY_EVENT``) and whose target is the item or a folder above it, queues a
delivery. So one call makes both what admin_logs shows and what the webhook receives.
Events without an item source (logins, users), synthetic blocks and the seeded history
send nothing.

Lifecycle: deleting a webhook's target (``tenant.delete_item``) or deleting the webhook
on Box's side (``FakeBox.delete_webhook``) removes it and sends ``WEBHOOK.DELETED``
with ``additional_info: {"reason": ...}``. A webhook whose creating user's session with
the app is over (``session_alive`` says False) sends ``NO_ACTIVE_SESSION`` instead of
the real trigger, with a reduced payload (see ``WebhookDispatcher.event_recorded``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .deliveries import Deliverer
from .eventlog import Event
from .render import STANDARD, Renderer, box_time
from .tenant import File, Folder, Item, Tenant, User, Webhook

NO_ACTIVE_SESSION = "NO_ACTIVE_SESSION"
WEBHOOK_DELETED = "WEBHOOK.DELETED"

# Enterprise event type -> (trigger when the source is a file, trigger when it is a folder).
TRIGGERS_BY_EVENT: dict[str, tuple[str | None, str | None]] = {
    "UPLOAD": ("FILE.UPLOADED", "FOLDER.CREATED"),
    "EDIT": ("FILE.UPLOADED", None),  # a new version
    "ITEM_MODIFY": ("FILE.UPLOADED", None),
    "PREVIEW": ("FILE.PREVIEWED", None),
    "DOWNLOAD": ("FILE.DOWNLOADED", "FOLDER.DOWNLOADED"),
    "FILE_WATERMARKED_DOWNLOAD": ("FILE.DOWNLOADED", None),
    "COPY": ("FILE.COPIED", "FOLDER.COPIED"),
    "MOVE": ("FILE.MOVED", "FOLDER.MOVED"),
    "RENAME": ("FILE.RENAMED", "FOLDER.RENAMED"),
    "DELETE": ("FILE.TRASHED", "FOLDER.TRASHED"),  # Box's DELETE event: moved to the trash
    "TRASH": ("FILE.TRASHED", "FOLDER.TRASHED"),
    "UNDELETE": ("FILE.RESTORED", "FOLDER.RESTORED"),
    "LOCK": ("FILE.LOCKED", None),
    "UNLOCK": ("FILE.UNLOCKED", None),
    "SHARE": ("SHARED_LINK.CREATED", "SHARED_LINK.CREATED"),
    "ITEM_SHARED_UPDATE": ("SHARED_LINK.UPDATED", "SHARED_LINK.UPDATED"),
    "SHARE_EXPIRATION": ("SHARED_LINK.UPDATED", "SHARED_LINK.UPDATED"),
    "UPDATE_SHARE_EXPIRATION": ("SHARED_LINK.UPDATED", "SHARED_LINK.UPDATED"),
    "UNSHARE": ("SHARED_LINK.DELETED", "SHARED_LINK.DELETED"),
    "COLLABORATION_INVITE": ("COLLABORATION.CREATED", "COLLABORATION.CREATED"),
    "COLLABORATION_ACCEPT": ("COLLABORATION.ACCEPTED", "COLLABORATION.ACCEPTED"),
    "COLLABORATION_REJECT": ("COLLABORATION.REJECTED", "COLLABORATION.REJECTED"),
    "COLLABORATION_ROLE_CHANGE": ("COLLABORATION.UPDATED", "COLLABORATION.UPDATED"),
    "COLLABORATION_REMOVE": ("COLLABORATION.REMOVED", "COLLABORATION.REMOVED"),
    "METADATA_INSTANCE_CREATE": ("METADATA_INSTANCE.CREATED", "METADATA_INSTANCE.CREATED"),
    "METADATA_INSTANCE_UPDATE": ("METADATA_INSTANCE.UPDATED", "METADATA_INSTANCE.UPDATED"),
    "METADATA_INSTANCE_DELETE": ("METADATA_INSTANCE.DELETED", "METADATA_INSTANCE.DELETED"),
    "COMMENT_CREATE": ("COMMENT.CREATED", None),
    "COMMENT_EDIT": ("COMMENT.UPDATED", None),
    "COMMENT_DELETE": ("COMMENT.DELETED", None),
    "TASK_ASSIGNMENT_CREATE": ("TASK_ASSIGNMENT.CREATED", None),
    "TASK_ASSIGNMENT_UPDATE": ("TASK_ASSIGNMENT.UPDATED", None),
}
# The source of a delivery: the item as the webhook's creator would get it by default,
# but for a folder's listing (Box's payload examples carry none).
_SOURCE_FIELDS = {
    kind: [name for name in STANDARD[kind] if name != "item_collection"] for kind in ("file", "folder")
}


def trigger_for(event_type: str, item: Item) -> str | None:
    file_trigger, folder_trigger = TRIGGERS_BY_EVENT.get(event_type, (None, None))
    if isinstance(item, File):
        return file_trigger
    if isinstance(item, Folder):
        return folder_trigger
    return None


def covers(tenant: Tenant, webhook: Webhook, item: Item) -> bool:
    """A file webhook covers its file; a folder webhook its folder and everything beneath it."""
    if (webhook.target_type, webhook.target_id) == (item.type, item.id):
        return True
    return webhook.target_type == "folder" and any(f.id == webhook.target_id for f in tenant.ancestors(item))


def source_json(tenant: Tenant, webhook: Webhook, item: File | Folder) -> dict[str, Any]:
    viewer = tenant.users[webhook.created_by_id]
    return Renderer(tenant, viewer).item(item, _SOURCE_FIELDS[item.type])


def invocation(
    webhook: Webhook,
    trigger: str,
    *,
    created_at: datetime,
    created_by: dict[str, Any] | None,
    source: dict[str, Any],
    additional_info: Any = None,
) -> dict[str, Any]:
    """A webhook payload (Box's "webhook_event"); ``id`` is new, and stays the same across retries."""
    payload: dict[str, Any] = {
        "type": "webhook_event",
        "id": str(uuid.uuid4()),
        "created_at": box_time(created_at),
        "trigger": trigger,
        "webhook": {"id": webhook.id, "type": "webhook"},
    }
    if created_by is not None:
        payload["created_by"] = dict(created_by)
    payload["source"] = source
    payload["additional_info"] = [] if additional_info is None else additional_info
    return payload


class WebhookDispatcher:
    """The tenant listener that turns events and deletions into deliveries."""

    def __init__(self, deliverer: Deliverer, session_alive: Callable[[str], bool | None]) -> None:
        self._deliverer = deliverer
        self._session_alive = session_alive

    # ----- TenantListener -------------------------------------------------

    def event_recorded(self, tenant: Tenant, event: Event) -> None:
        source = event.source
        if not tenant.webhooks or source is None or "item_type" not in source:
            return
        item = tenant.find_item(str(source["item_type"]), str(source["item_id"]))
        if not isinstance(item, File | Folder):
            return
        trigger = trigger_for(event.event_type, item)
        if trigger is None:
            return
        for webhook in list(tenant.webhooks.values()):
            if trigger in webhook.triggers and covers(tenant, webhook, item):
                if self._session_alive(webhook.created_by_id) is False:
                    # Box's "no full payload": what happened where, but not the item or who did it.
                    payload = invocation(
                        webhook,
                        NO_ACTIVE_SESSION,
                        created_at=event.created_at,
                        created_by=None,
                        source={"id": item.id, "type": item.type},
                    )
                    self._deliverer.submit(webhook.id, NO_ACTIVE_SESSION, webhook.address, payload)
                    continue
                payload = invocation(
                    webhook,
                    trigger,
                    created_at=event.created_at,
                    created_by=event.created_by,
                    source=source_json(tenant, webhook, item),
                )
                self._deliverer.submit(webhook.id, trigger, webhook.address, payload)

    def items_deleting(self, tenant: Tenant, items: Sequence[Item], by: User | None) -> None:
        doomed = {(item.type, item.id) for item in items}
        for webhook in list(tenant.webhooks.values()):
            if (webhook.target_type, webhook.target_id) in doomed:
                self.webhook_deleted(tenant, webhook, reason="auto_cleanup", by=by)

    # ----- explicit deliveries ----------------------------------------------

    def deliver(
        self,
        tenant: Tenant,
        webhook: Webhook,
        trigger: str,
        item: File | Folder,
        user: User,
        additional_info: Any = None,
    ) -> str:
        payload = invocation(
            webhook,
            trigger,
            created_at=tenant.now(),
            created_by=user.mini(),
            source=source_json(tenant, webhook, item),
            additional_info=additional_info,
        )
        return self._deliverer.submit(webhook.id, trigger, webhook.address, payload)

    def webhook_deleted(self, tenant: Tenant, webhook: Webhook, *, reason: str, by: User | None) -> str:
        """Remove the webhook and send its WEBHOOK.DELETED (whatever its triggers)."""
        tenant.webhooks.pop(webhook.id, None)
        target = tenant.find_item(webhook.target_type, webhook.target_id)
        source = (
            source_json(tenant, webhook, target)
            if isinstance(target, File | Folder)
            else {"id": webhook.target_id, "type": webhook.target_type}
        )
        actor = by or tenant.users[webhook.created_by_id]
        payload = invocation(
            webhook,
            WEBHOOK_DELETED,
            created_at=tenant.now(),
            created_by=actor.mini(),
            source=source,
            additional_info={"reason": reason},
        )
        return self._deliverer.submit(webhook.id, WEBHOOK_DELETED, webhook.address, payload)
