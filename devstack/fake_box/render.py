"""Box JSON representations of tenant objects, as one user sees them.

Each representation is a table of field getters, so ``fields=`` only computes
what was asked for (folder sizes and paths are not free). Without ``fields``
Box answers the standard set of its endpoint. With ``fields`` the spec says the
mini fields come along; real Box sends only ``type``, ``id`` (and ``etag`` for
items) plus what was asked, and so do we: code that forgets to ask for a field
should fail here, not in production.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from .eventlog import Event
from .tenant import Collaboration, File, Folder, Group, GroupMembership, Item, Tenant, User, Webhook

# Box writes times with the enterprise's offset (Pacific here), never as "Z".
_PACIFIC = timezone(timedelta(hours=-8))

USER_BASE = ("type", "id")
USER_STANDARD = (
    "type", "id", "name", "login", "created_at", "modified_at", "language", "timezone", "space_amount",
    "space_used", "max_upload_size", "status", "job_title", "phone", "address", "avatar_url",
    "notification_email",
)  # fmt: skip
ITEM_BASE = ("type", "id", "etag")
GROUP_BASE = ("type", "id")
GROUP_STANDARD = ("type", "id", "name", "group_type", "created_at", "modified_at")
MINI = {
    "folder": ("type", "id", "sequence_id", "etag", "name"),
    "file": ("type", "id", "file_version", "sequence_id", "etag", "sha1", "name"),
    "web_link": ("type", "id", "url", "sequence_id", "etag", "name"),
}
STANDARD = {
    "folder": (
        "type", "id", "sequence_id", "etag", "name", "created_at", "modified_at", "description", "size",
        "path_collection", "created_by", "modified_by", "trashed_at", "purged_at", "content_created_at",
        "content_modified_at", "owned_by", "shared_link", "folder_upload_email", "parent", "item_status",
        "item_collection",
    ),
    "file": (
        "type", "id", "file_version", "sequence_id", "etag", "sha1", "name", "description", "size",
        "path_collection", "created_at", "modified_at", "trashed_at", "purged_at", "content_created_at",
        "content_modified_at", "created_by", "modified_by", "owned_by", "shared_link", "parent",
        "item_status",
    ),
    "web_link": (
        "type", "id", "sequence_id", "etag", "name", "url", "created_at", "modified_at", "description",
        "path_collection", "created_by", "modified_by", "trashed_at", "purged_at", "owned_by", "shared_link",
        "parent", "item_status",
    ),
}  # fmt: skip
# Box's classification is an instance of this enterprise metadata template, with one key.
CLASSIFICATION_TEMPLATE = "securityClassification-6VMVochwUWo"
CLASSIFICATION_KEY = "Box__Security__Classification__Key"
# How Box says it sorted a folder listing (folders first, then by name).
ITEMS_ORDER = [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}]
_TYPE_RANK = {"folder": 0, "file": 1, "web_link": 2}
_MAX_UPLOAD_SIZE = 5 * 1024**3
_SPACE_AMOUNT = 10 * 1024**4
_FULL_ROLES = ("owner", "co-owner", "editor")
_INVITEE_ROLES = (
    "editor", "viewer", "previewer", "uploader", "previewer uploader", "viewer uploader", "co-owner",
)  # fmt: skip

# The one representation the fake makes: Box's plain text of a document (``[extracted_text]``).
TEXT_REPRESENTATION = "extracted_text"
# One hint of an ``x-rep-hints`` header: ``[name]`` or ``[name?query]``, e.g. ``[jpg?dimensions=32x32]``.
_REP_HINT = re.compile(r"\[([^\]?]*)(?:\?[^\]]*)?\]")

Getters = dict[str, Callable[[], Any]]
# Serialized event bodies (see Renderer.event_json): cleared when full. Threads may race on it;
# the worst outcome is a body serialized twice.
_EVENT_HEAD = frozenset({"type", "event_id", "event_type", "created_at"})
_EVENT_TAIL_CACHE_SIZE = 8192
_EVENT_TAILS: dict[tuple[int, int, int, int, str, str], tuple[object, object, object, object, str]] = {}


def box_time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(_PACIFIC).isoformat(timespec="seconds")


def rep_hints(header: str | None) -> frozenset[str] | None:
    """The representations an ``x-rep-hints`` header names; None without one (the spec: then all)."""
    if header is None:
        return None
    return frozenset(name.strip() for name in _REP_HINT.findall(header))


def representation_path(file: File) -> str:
    """Where Box's text of the file's current version is described (``info.url``), after the base URL."""
    return f"/2.0/internal_files/{file.id}/versions/{file.version_id}/representations/{TEXT_REPRESENTATION}"


def listing_order(items: Sequence[Item]) -> list[Item]:
    return sorted(items, key=lambda item: (_TYPE_RANK[item.type], item.name.casefold(), item.id))


def _pick(
    getters: Getters, base: Sequence[str], default: Sequence[str], fields: Sequence[str] | None
) -> dict[str, Any]:
    names = default if fields is None else (*base, *fields)
    return {name: getters[name]() for name in dict.fromkeys(names) if name in getters}


class Renderer:
    """``base_url`` starts the representation URLs; ``hints`` are what the call's ``x-rep-hints``
    named (None: it sent none)."""

    def __init__(
        self, tenant: Tenant, viewer: User, *, base_url: str = "", hints: frozenset[str] | None = None
    ) -> None:
        self._tenant = tenant
        self._viewer = viewer
        self._base_url = base_url
        self._hints = hints

    # ----- users ----------------------------------------------------------

    def user(
        self, user: User, fields: Sequence[str] | None, default: Sequence[str] = USER_STANDARD
    ) -> dict[str, Any]:
        tenant = self._tenant
        getters: Getters = {
            "type": lambda: "user",
            "id": lambda: user.id,
            "name": lambda: user.name,
            "login": lambda: user.login,
            "created_at": lambda: box_time(user.created_at),
            "modified_at": lambda: box_time(user.created_at),
            "language": lambda: "en",
            "timezone": lambda: "America/Los_Angeles",
            "space_amount": lambda: _SPACE_AMOUNT,
            "space_used": lambda: tenant.space_used(user),
            "max_upload_size": lambda: _MAX_UPLOAD_SIZE,
            "status": lambda: user.status,
            "job_title": lambda: user.job_title,
            "phone": lambda: "",
            "address": lambda: "",
            "avatar_url": lambda: f"https://app.box.com/api/avatar/large/{user.id}",
            "notification_email": lambda: None,
            # Full-only fields: Box sends these only when asked for.
            "role": lambda: user.role,
            "enterprise": lambda: tenant.enterprise.mini() if user.enterprise_id else None,
            "can_see_managed_users": lambda: user.role in ("admin", "coadmin"),
            "is_external_collab_restricted": lambda: False,
            "is_platform_access_only": lambda: False,
            "is_sync_enabled": lambda: True,
            "my_tags": lambda: [],
            "tracking_codes": lambda: [],
            "hostname": lambda: f"https://{tenant.enterprise.subdomain}.app.box.com/",
        }
        return _pick(getters, USER_BASE, default, fields)

    # ----- items ----------------------------------------------------------

    def item(self, item: Item, fields: Sequence[str] | None, *, mini: bool = False) -> dict[str, Any]:
        getters = self._item_getters(item)
        if isinstance(item, Folder):
            getters.update(self._folder_getters(item))
        elif isinstance(item, File):
            getters.update(self._file_getters(item))
        else:
            getters["url"] = lambda: item.url
        default = MINI[item.type] if mini else STANDARD[item.type]
        return _pick(getters, ITEM_BASE, default, fields)

    def listing_page(self, folder: Folder, limit: int) -> dict[str, Any]:
        """The ``item_collection`` of a folder: the first page of its listing, mini entries."""
        entries = listing_order(self._tenant.listing(self._viewer, folder))
        return {
            "total_count": len(entries),
            "entries": [self.item(entry, None, mini=True) for entry in entries[:limit]],
            "offset": 0,
            "limit": limit,
            "order": ITEMS_ORDER,
        }

    def _item_getters(self, item: Item) -> Getters:
        tenant, viewer = self._tenant, self._viewer
        owner = tenant.users[item.owner_id]
        creator = tenant.users[item.created_by_id]

        computed: list[list[Folder]] = []  # path_collection and parent share one computation

        def path() -> list[Folder]:
            if not computed:
                computed.append(tenant.path_for(viewer, item))
            return computed[0]

        def parent() -> dict[str, Any]:
            return path()[-1].mini()

        return {
            "type": lambda: item.type,
            "id": lambda: item.id,
            "etag": lambda: item.etag,
            "sequence_id": lambda: item.sequence_id,
            "name": lambda: item.name,
            "description": lambda: item.description,
            "created_at": lambda: box_time(item.created_at),
            "modified_at": lambda: box_time(item.modified_at),
            "content_created_at": lambda: box_time(item.created_at),
            "content_modified_at": lambda: box_time(item.modified_at),
            "trashed_at": lambda: None,
            "purged_at": lambda: None,
            "item_status": lambda: "active",
            "created_by": creator.mini,
            "modified_by": creator.mini,
            "owned_by": owner.mini,
            "path_collection": lambda: {"total_count": len(path()), "entries": [f.mini() for f in path()]},
            "parent": parent,
            "shared_link": lambda: self._shared_link(item),
            "permissions": lambda: self._permissions(item),
            "has_collaborations": lambda: bool(tenant.collaborations_on(item)),
            "is_externally_owned": lambda: owner.enterprise_id != tenant.enterprise.id,
            "classification": lambda: self._classification(item),
            "allowed_invitee_roles": lambda: list(_INVITEE_ROLES),
            "is_accessible_via_shared_link": lambda: item.shared_link is not None,
            "is_associated_with_app_item": lambda: False,
            "watermark_info": lambda: {"is_watermarked": False},
        }

    def _folder_getters(self, folder: Folder) -> Getters:
        tenant = self._tenant
        getters: Getters = {
            "size": lambda: tenant.folder_size(folder),
            "item_collection": lambda: self.listing_page(folder, 100),
            "folder_upload_email": lambda: None,
            "sync_state": lambda: "not_synced",
            "can_non_owners_invite": lambda: True,
            "can_non_owners_view_collaborators": lambda: True,
            "is_collaboration_restricted_to_enterprise": lambda: False,
            "allowed_shared_link_access_levels": lambda: ["open", "company", "collaborators"],
        }
        if folder.is_root:
            # Box's root ("All Files") has id 0, no etag, no dates, no parent and no link.
            owner = tenant.users[folder.owner_id]
            getters.update(
                {
                    "id": lambda: "0",
                    "etag": lambda: None,
                    "sequence_id": lambda: None,
                    "created_at": lambda: None,
                    "modified_at": lambda: None,
                    "content_created_at": lambda: None,
                    "content_modified_at": lambda: None,
                    "path_collection": lambda: {"total_count": 0, "entries": []},
                    "parent": lambda: None,
                    "size": lambda: tenant.space_used(owner),
                }
            )
        return getters

    def _file_getters(self, file: File) -> Getters:
        return {
            "sha1": lambda: file.sha1,
            "size": lambda: file.size,
            "file_version": lambda: {"type": "file_version", "id": file.version_id, "sha1": file.sha1},
            "version_number": lambda: "1",
            "comment_count": lambda: 0,
            "extension": lambda: file.name.rpartition(".")[2] if "." in file.name else "",
            "is_package": lambda: False,
            "lock": lambda: None,
            "expires_at": lambda: None,
            "representations": lambda: self._representations(file),
        }

    def _representations(self, file: File) -> dict[str, Any]:
        wanted = self._hints is None or TEXT_REPRESENTATION in self._hints
        return {"entries": [self.text_representation(file)] if wanted else []}

    def text_representation(self, file: File) -> dict[str, Any]:
        """The ``extracted_text`` entry of ``representations``, also what its ``info.url`` answers.

        Box serves the content from another host (dl.boxcloud.com); the fake from its own.
        """
        info = f"{self._base_url}{representation_path(file)}"
        return {
            "representation": TEXT_REPRESENTATION,
            "properties": {},
            "info": {"url": info},
            "status": {"state": file.extracted_text_state},
            "content": {"url_template": info + "/content/{+asset_path}"},
        }

    def _shared_link(self, item: Item) -> dict[str, Any] | None:
        link = item.shared_link
        if link is None:
            return None
        host = f"https://{self._tenant.enterprise.subdomain}.app.box.com"
        extension = item.name.rpartition(".")[2] if isinstance(item, File) and "." in item.name else ""
        permission = "can_download" if link.can_download else "can_preview"
        download_url = f"{host}/shared/static/{link.token}.{extension}" if isinstance(item, File) else None
        return {
            "url": f"{host}/s/{link.token}",
            "download_url": download_url,
            "vanity_url": None,
            "vanity_name": None,
            "access": link.access,
            "effective_access": link.effective_access or link.access,
            "effective_permission": "can_edit" if link.can_edit else permission,
            "unshared_at": None,
            "is_password_enabled": link.is_password_enabled,
            "permissions": {
                "can_download": link.can_download,
                "can_preview": True,
                "can_edit": link.can_edit,
            },
            "download_count": link.download_count,
            "preview_count": link.preview_count,
        }

    def _classification(self, item: Item) -> dict[str, Any] | None:
        if item.classification is None:
            return None
        definition, color = self._tenant.classifications[item.classification]
        return {"name": item.classification, "definition": definition, "color": color}

    def classification_instance(self, item: Item) -> dict[str, Any]:
        """The item's classification as Box's metadata instance; the item must have one."""
        enterprise = self._tenant.enterprise.id
        template_type = uuid.uuid5(uuid.NAMESPACE_URL, f"fake-box:{enterprise}:{CLASSIFICATION_TEMPLATE}")
        return {
            CLASSIFICATION_KEY: item.classification,
            "$id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-box:classification:{item.type}:{item.id}")),
            "$parent": f"{item.type}_{item.id}",
            "$template": CLASSIFICATION_TEMPLATE,
            "$scope": f"enterprise_{enterprise}",
            "$version": item.classification_version,
            "$type": f"{CLASSIFICATION_TEMPLATE}-{template_type}",
            "$typeVersion": 1,
            "$canEdit": True,
        }

    def _permissions(self, item: Item) -> dict[str, bool]:
        role = self._tenant.access_role(self._viewer, item)
        full = role in _FULL_ROLES
        reads = role not in (None, "uploader", "previewer", "previewer uploader")
        permissions = {
            "can_delete": full,
            "can_download": reads,
            "can_invite_collaborator": full,
            "can_rename": full,
            "can_set_share_access": full,
            "can_share": full,
            "can_upload": full or role in ("uploader", "previewer uploader", "viewer uploader"),
        }
        if isinstance(item, File):
            permissions.update(
                can_annotate=full,
                can_comment=role is not None,
                can_preview=role not in (None, "uploader"),
                can_view_annotations_all=full,
                can_view_annotations_self=role is not None,
            )
        return permissions

    # ----- groups ---------------------------------------------------------

    def group(self, group: Group, fields: Sequence[str] | None) -> dict[str, Any]:
        tenant, viewer = self._tenant, self._viewer

        def can_invite() -> bool:
            # "admins_only": the enterprise's admins and co-admins, and the group's own admins.
            return viewer.role in ("admin", "coadmin") or any(
                m.group_id == group.id and m.role == "admin" for m in tenant.memberships_of(viewer)
            )

        getters: Getters = {
            "type": lambda: "group",
            "id": lambda: group.id,
            "name": lambda: group.name,
            "group_type": lambda: "managed_group",
            "created_at": lambda: box_time(group.created_at),
            "modified_at": lambda: box_time(group.created_at),
            # Full-only fields: Box sends these only when asked for.
            "description": lambda: group.description,
            "provenance": lambda: "",
            "external_sync_identifier": lambda: "",
            "invitability_level": lambda: "admins_only",
            "member_viewability_level": lambda: "admins_only",
            "permissions": lambda: {"can_invite_as_collaborator": can_invite()},
        }
        return _pick(getters, GROUP_BASE, GROUP_STANDARD, fields)

    def group_membership(self, membership: GroupMembership) -> dict[str, Any]:
        tenant = self._tenant
        return {
            "type": "group_membership",
            "id": membership.id,
            "user": tenant.users[membership.user_id].mini(),
            "group": tenant.groups[membership.group_id].mini(),
            "role": membership.role,
            "created_at": box_time(membership.created_at),
            "modified_at": box_time(membership.created_at),
        }

    # ----- collaborations, events, webhooks ---------------------------------

    def collaboration(self, collaboration: Collaboration) -> dict[str, Any]:
        tenant = self._tenant
        body: dict[str, Any] = {
            "type": "collaboration",
            "id": collaboration.id,
            "item": self.item(tenant.collaboration_item(collaboration), None, mini=True),
        }
        if collaboration.user_id:
            collaborator = tenant.users[collaboration.user_id]
            body["accessible_by"] = {**collaborator.mini(), "is_active": collaborator.is_active}
        # An invite by mail has no one to name: Box's answer for it is not documented, and the
        # spec's accessible_by is not nullable, so the fake leaves the key out.
        body.update(
            {
                "invite_email": collaboration.invite_email,
                "role": collaboration.role,
                "expires_at": None,
                "is_access_only": False,
                "status": collaboration.status,
                "created_by": tenant.users[collaboration.created_by_id].mini(),
                "created_at": box_time(collaboration.created_at),
                "modified_at": box_time(collaboration.created_at),
            }
        )
        if collaboration.status == "accepted":
            body["acknowledged_at"] = box_time(collaboration.created_at)
        return body

    @staticmethod
    def event_json(event: Event) -> str:
        """``json.dumps(Renderer.event(event))``, faster: the body after ``created_at`` is cached.

        Events of a synthetic block or of the seeded history share their body dicts, so a
        page of them serializes those once. The cache holds the dicts it was keyed on, so
        their ids cannot be reused while cached (events never change once recorded).
        """
        extra = event.extra
        if extra.keys() & _EVENT_HEAD:
            return json.dumps(Renderer.event(event))
        key = (
            id(event.created_by),
            id(event.source),
            id(event.additional_details),
            id(extra),
            event.ip_address,
            event.session_id,
        )
        cached = _EVENT_TAILS.get(key)
        if cached is None or not (
            cached[0] is event.created_by
            and cached[1] is event.source
            and cached[2] is event.additional_details
            and cached[3] is extra
        ):
            tail = json.dumps(
                {
                    "created_by": event.created_by,
                    "source": event.source,
                    "ip_address": event.ip_address,
                    "session_id": event.session_id,
                    "additional_details": event.additional_details,
                    **extra,
                }
            )
            if len(_EVENT_TAILS) >= _EVENT_TAIL_CACHE_SIZE:
                _EVENT_TAILS.clear()
            cached = _EVENT_TAILS[key] = (
                event.created_by,
                event.source,
                event.additional_details,
                extra,
                tail,
            )
        return (
            f'{{"type": "event", "event_id": {json.dumps(event.event_id)}, '
            f'"event_type": {json.dumps(event.event_type)}, '
            f'"created_at": {json.dumps(box_time(event.created_at))}, {cached[4][1:]}'
        )

    @staticmethod
    def event(event: Event) -> dict[str, Any]:
        return {
            "type": "event",
            "event_id": event.event_id,
            "event_type": event.event_type,
            "created_at": box_time(event.created_at),
            "created_by": dict(event.created_by),
            "source": None if event.source is None else dict(event.source),
            "ip_address": event.ip_address,
            "session_id": event.session_id,
            "additional_details": dict(event.additional_details),
            **event.extra,
        }

    def webhook(self, webhook: Webhook, *, mini: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": webhook.id,
            "type": "webhook",
            "target": {"id": webhook.target_id, "type": webhook.target_type},
        }
        if not mini:
            body.update(
                created_by=self._tenant.users[webhook.created_by_id].mini(),
                created_at=box_time(webhook.created_at),
                address=webhook.address,
                triggers=list(webhook.triggers),
            )
        return body
