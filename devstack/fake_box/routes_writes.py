"""The writes governance needs: file updates (shared link, move, rename), collaborations, folders,
and the classification metadata instance.

Box's rules kept here: the acting user needs owner, co-owner or editor rights on what they
change (upload rights on a destination folder), names are unique per folder ignoring case
(409 ``item_name_in_use`` naming the item in the way), ``If-Match`` answers 412 on a stale
etag, and an item takes the owner of the folder it is moved into. The request bodies accept
what the spec lists; fields the fake does not model are refused with 400, never ignored.

Every write records the enterprise event Box would (``UNSHARE``, ``ITEM_SHARED_UPDATE``,
``MOVE``, ``COLLABORATION_REMOVE``, ...) and a ``Notification``. ``Box-Notifications: off``
suppresses both the mail and the webhook deliveries when the app may suppress notifications
(``Tenant.notification_suppression_enabled``) and the token's user is an admin or a co-admin
with "Edit settings for your company"; otherwise the header changes nothing. Invites are not
covered by the header (Box's guide says so): ``notify=false`` keeps their mail quiet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, get_args

from .access import Call
from .render import CLASSIFICATION_KEY
from .routes_items import find_file, find_folder
from .tenant import Access, CollaborationRole, File, Folder, Item, Notification, User
from .web import ApiError, Response, bad_request, forbidden, json_response, not_found

_FULL = frozenset({"owner", "co-owner", "editor"})
_UPLOADERS = _FULL | {"uploader", "previewer uploader", "viewer uploader"}
_ACCESS = frozenset(get_args(Access))
_ROLES: tuple[CollaborationRole, ...] = get_args(CollaborationRole)
_JSON_PATCH = "application/json-patch+json"


# ----- files -------------------------------------------------------------------------------


def update_file(call: Call, match: re.Match[str]) -> Response:
    """PUT /files/{id}: ``shared_link`` (``null`` removes it), ``parent`` (a move), ``name``,
    ``description``. Everything is checked before anything changes."""
    file = find_file(call, match["id"])
    body = _object(call)
    _only(body, {"name", "description", "parent", "shared_link"}, "PUT /files")
    _check_etag(call, file)
    _require(call, file, _FULL)
    destination = _destination(call, body["parent"]) if "parent" in body else None
    name = _name(body["name"]) if "name" in body else file.name
    description = body.get("description", file.description)
    if not isinstance(description, str) or len(description) > 256:
        raise bad_request("'description' must be a string of at most 256 characters")
    link = _link_change(body["shared_link"], file) if "shared_link" in body else None
    target = destination or call.tenant.folders[str(file.parent_id)]
    if destination is not None or name != file.name:
        _check_free(call, target, name, file)
    if destination is not None and destination.id != file.parent_id:
        quiet = _notified(call, "item_moved", file)
        call.tenant.move_file(file, destination)
        call.tenant.add_event("MOVE", call.user, source=file, notify=not quiet)
    if name != file.name or description != file.description:
        quiet = _notified(call, "item_renamed", file)
        file.name, file.description = name, description
        call.tenant.add_event("RENAME", call.user, source=file, notify=not quiet)
    if link is not None and (link[0] is not None or file.shared_link is not None):
        access, options = link
        kind, event = _link_event(file, access)
        quiet = _notified(call, kind, file)
        call.tenant.change_shared_link(file, access, **options)
        call.tenant.add_event(event, call.user, source=file, notify=not quiet)
    return json_response(200, call.renderer.item(file, call.fields()))


def _destination(call: Call, raw: Any) -> Folder:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise bad_request("'parent' must be an object with a string 'id'")
    if "user_id" in raw:
        raise bad_request("The fake does not model 'parent.user_id'")
    folder = find_folder(call, raw["id"])
    _require(call, folder, _UPLOADERS)
    return folder


def _link_change(raw: Any, item: Item) -> tuple[Access | None, dict[str, bool | None]]:
    """The link's new access (None: remove it) and the options to change, after Box's checks."""
    if raw is None:
        return None, {}
    if not isinstance(raw, dict):
        raise bad_request("'shared_link' must be an object or null")
    _only(raw, {"access", "password", "permissions"}, "shared_link")
    current = item.shared_link.access if item.shared_link else None
    # No access: the link keeps its level, or a new one gets the enterprise's default (open here).
    access = raw.get("access", current or "open")
    if access not in _ACCESS:
        raise bad_request(f"Invalid value '{access}' for 'shared_link.access'")
    permissions = raw.get("permissions", {})
    if not isinstance(permissions, dict):
        raise bad_request("'shared_link.permissions' must be an object")
    _only(permissions, {"can_download", "can_preview", "can_edit"}, "shared_link.permissions")
    can_download, can_edit = permissions.get("can_download"), permissions.get("can_edit")
    if any(value is not None and not isinstance(value, bool) for value in permissions.values()):
        raise bad_request("'shared_link.permissions' values must be booleans")
    if (can_download is not None or can_edit is not None) and access == "collaborators":
        raise bad_request(
            "Incorrect permission combination: downloads and edits need an open or company link"
        )
    downloads = (
        can_download if can_download is not None else bool(item.shared_link and item.shared_link.can_download)
    )
    if can_edit and not downloads:
        raise bad_request("Incorrect permission combination: 'can_edit' needs 'can_download'")
    password_enabled: bool | None = None
    if "password" in raw:
        password = raw["password"]
        if password is not None and (not isinstance(password, str) or access != "open"):
            raise bad_request("A password can only be set on an open shared link")
        password_enabled = password is not None
    return access, {"can_download": can_download, "can_edit": can_edit, "password_enabled": password_enabled}


def _link_event(item: Item, access: Access | None) -> tuple[str, str]:
    if access is None:
        return "shared_link_removed", "UNSHARE"
    if item.shared_link is None:
        return "shared_link_created", "SHARE"
    return "shared_link_updated", "ITEM_SHARED_UPDATE"


# ----- folders -----------------------------------------------------------------------------


def create_folder(call: Call, _match: re.Match[str]) -> Response:
    body = _object(call)
    _only(body, {"name", "parent"}, "POST /folders")
    name = _name(body.get("name"))
    raw_parent = body.get("parent")
    if not isinstance(raw_parent, dict) or not isinstance(raw_parent.get("id"), str):
        raise bad_request("'parent' must be an object with a string 'id'")
    parent = find_folder(call, raw_parent["id"])
    _require(call, parent, _UPLOADERS)
    _check_free(call, parent, name, None)
    quiet = _notified(call, "folder_created", parent)
    folder = call.tenant.add_folder(parent, name)
    folder.created_by_id = call.user.id
    call.tenant.add_event("UPLOAD", call.user, source=folder, notify=not quiet)
    return json_response(201, call.renderer.item(folder, call.fields()))


def delete_folder(call: Call, match: re.Match[str]) -> Response:
    """DELETE /folders/{id}: to the trash (here: gone), ``recursive=true`` for one with content."""
    folder = find_folder(call, match["id"])
    if folder.is_root:
        raise forbidden("The root folder cannot be deleted")
    _check_etag(call, folder)
    _require(call, folder, _FULL)
    if call.tenant.children(folder) and call.request.query.get("recursive") != "true":
        raise ApiError(400, "folder_not_empty", "Cannot delete - folder not empty")
    quiet = _notified(call, "folder_deleted", folder)
    call.tenant.add_event("DELETE", call.user, source=folder, notify=not quiet)
    call.tenant.delete_item(folder, by=call.user)
    return Response(204)


# ----- collaborations ----------------------------------------------------------------------


def create_collaboration(call: Call, _match: re.Match[str]) -> Response:
    """POST /collaborations for a user, by id or by login; a login with no Box account is an
    invite by mail. Users of the enterprise are in at once; others are pending until they accept."""
    body = _object(call)
    _only(
        body,
        {"item", "accessible_by", "role", "is_access_only", "can_view_path", "expires_at"},
        "collaboration",
    )
    if any(body.get(name) for name in ("is_access_only", "can_view_path", "expires_at")):
        raise bad_request("The fake does not model is_access_only, can_view_path or expires_at")
    item = _collaboration_item(call, body.get("item"))
    role = _role(body.get("role"))
    _require(call, item, _FULL)
    who, email = _invitee(call, body.get("accessible_by"))
    taken = call.tenant.collaborations_on(item)
    if any((who is not None and c.user_id == who.id) or (email and c.invite_email == email) for c in taken):
        raise ApiError(400, "user_already_collaborator", "User is already a collaborator")
    if who is not None and who.id == item.owner_id:
        raise bad_request("The owner cannot be a collaborator on their own item")
    quiet = call.request.query.get("notify") == "false"
    recipients = [who.id] if who is not None else [str(email)]
    _notified(call, "collaboration_invited", item, recipients=recipients, quiet=quiet)
    if who is None:
        collaboration = call.tenant.invite_by_email(item, str(email), role=role, created_by=call.user)
    else:
        inside = who.enterprise_id == call.tenant.enterprise.id and who.is_active
        collaboration = call.tenant.add_collaboration(
            item, who, role=role, status="accepted" if inside else "pending", created_by=call.user
        )
    webhooks = not _header_quiet(call)
    call.tenant.add_event("COLLABORATION_INVITE", call.user, source=item, accessible_by=who, notify=webhooks)
    return json_response(201, call.renderer.collaboration(collaboration))


def delete_collaboration(call: Call, match: re.Match[str]) -> Response:
    """DELETE /collaborations/{id}: by whoever may manage the item's collaborators, or the
    collaborator leaving."""
    collaboration = call.tenant.collaborations.get(match["id"])
    if collaboration is None:
        raise not_found("collaboration", match["id"])
    item = call.tenant.collaboration_item(collaboration)
    leaving = collaboration.user_id == call.user.id
    if not leaving:
        if not call.tenant.can_see(call.user, item):
            raise not_found("collaboration", match["id"])
        _require(call, item, _FULL)
    who = call.tenant.users.get(collaboration.user_id) if collaboration.user_id else None
    recipients = [who.id] if who is not None else [str(collaboration.invite_email)]
    quiet = _notified(call, "collaboration_removed", item, recipients=recipients)
    call.tenant.add_event("COLLABORATION_REMOVE", call.user, source=item, accessible_by=who, notify=not quiet)
    call.tenant.remove_collaboration(collaboration)
    return Response(204)


def _role(raw: Any) -> CollaborationRole:
    for role in _ROLES:
        if raw == role:
            return role
    raise bad_request(f"Invalid value '{raw}' for 'role'")


def _collaboration_item(call: Call, raw: Any) -> File | Folder:
    if (
        not isinstance(raw, dict)
        or raw.get("type") not in ("file", "folder")
        or not isinstance(raw.get("id"), str)
    ):
        raise bad_request("'item' must be an object with a string 'id' and a 'type' of file or folder")
    if raw["type"] == "file":
        return find_file(call, raw["id"])
    if raw["id"] == "0":
        raise bad_request("The root folder cannot be collaborated")
    return find_folder(call, raw["id"])


def _invitee(call: Call, raw: Any) -> tuple[User | None, str | None]:
    """The user to let in, or (None, address) for an address with no Box account."""
    if not isinstance(raw, dict) or raw.get("type") not in ("user", "group"):
        raise bad_request("'accessible_by' must be an object with a 'type' of user or group")
    if raw["type"] == "group":
        raise bad_request("The fake does not model groups")
    if isinstance(raw.get("id"), str):
        user = call.tenant.users.get(raw["id"])
        if user is None:
            raise not_found("user", raw["id"])
        return user, None
    login = raw.get("login")
    if not isinstance(login, str) or "@" not in login:
        raise bad_request("'accessible_by' needs a user 'id' or an e-mail 'login'")
    try:
        return call.tenant.user_by_login(login), None
    except KeyError:
        return None, login


# ----- classification ----------------------------------------------------------------------


def get_classification(call: Call, match: re.Match[str]) -> Response:
    file = _classified_file(call, match)
    if file.classification is None:
        raise _instance_not_found(file)
    return json_response(200, call.renderer.classification_instance(file))


def add_classification(call: Call, match: re.Match[str]) -> Response:
    file = _classified_file(call, match)
    body = _object(call)
    if set(body) != {CLASSIFICATION_KEY}:
        raise _schema_error(f"The body must hold exactly '{CLASSIFICATION_KEY}'")
    label = _label(call, body[CLASSIFICATION_KEY])
    _require(call, file, _FULL)
    if file.classification is not None:
        raise ApiError(409, "tuple_already_exists", "A classification is already applied to this file")
    quiet = _notified(call, "classification_applied", file)
    call.tenant.set_classification(file, label)
    call.tenant.add_event("METADATA_INSTANCE_CREATE", call.user, source=file, notify=not quiet)
    return json_response(201, call.renderer.classification_instance(file))


def update_classification(call: Call, match: re.Match[str]) -> Response:
    """PUT: a JSON Patch list of ``replace`` operations on the one key (the spec allows no other)."""
    file = _classified_file(call, match)
    content_type = (call.request.header("content-type") or "").partition(";")[0].strip().lower()
    if content_type != _JSON_PATCH:
        raise bad_request(f"The Content-Type must be {_JSON_PATCH}")
    operations = call.request.json()
    if not isinstance(operations, list) or not operations:
        raise bad_request("The body must be a non-empty array of JSON Patch operations")
    label: str | None = None
    for operation in operations:
        valid = (
            isinstance(operation, dict)
            and operation.get("op") == "replace"
            and operation.get("path") == f"/{CLASSIFICATION_KEY}"
            and "value" in operation
        )
        if not valid:
            raise bad_request(f"Each operation must be a 'replace' of '/{CLASSIFICATION_KEY}' with a 'value'")
        label = _label(call, operation["value"])
    _require(call, file, _FULL)
    if file.classification is None:
        raise _instance_not_found(file)
    quiet = _notified(call, "classification_applied", file)
    call.tenant.set_classification(file, str(label))
    call.tenant.add_event("METADATA_INSTANCE_UPDATE", call.user, source=file, notify=not quiet)
    return json_response(200, call.renderer.classification_instance(file))


def _classified_file(call: Call, match: re.Match[str]) -> File:
    scope = match["scope"]
    if scope not in ("enterprise", f"enterprise_{call.tenant.enterprise.id}"):
        raise ApiError(404, "instance_tuple_not_found", "The metadata template was not found")
    return find_file(call, match["id"])


def _label(call: Call, value: Any) -> str:
    if not isinstance(value, str) or value not in call.tenant.classifications:
        raise _schema_error(f"'{value}' is not a classification of this enterprise")
    return value


def _instance_not_found(file: File) -> ApiError:
    return ApiError(404, "instance_not_found", f"The classification is not applied to file {file.id}")


def _schema_error(message: str) -> ApiError:
    return ApiError(400, "schema_validation_failed", message)


# ----- shared checks -----------------------------------------------------------------------


def _object(call: Call) -> dict[str, Any]:
    body = call.request.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body


def _only(body: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise bad_request(f"The fake does not model {', '.join(unknown)} in {where}")


def _require(call: Call, item: Item, roles: frozenset[str]) -> None:
    if call.tenant.access_role(call.user, item) not in roles:
        raise forbidden()


def _check_etag(call: Call, item: Item) -> None:
    expected = call.request.header("if-match")
    if expected is not None and expected != item.etag:
        raise ApiError(
            412,
            "precondition_failed",
            "The resource has been modified. Please retrieve the resource again and retry",
        )


def _name(raw: Any) -> str:
    valid = (
        isinstance(raw, str)
        and 0 < len(raw) <= 255
        and raw not in (".", "..")
        and raw == raw.rstrip(" ")
        and not set(raw) & {"/", "\\"}
        and raw.isprintable()
    )
    if not valid:
        raise ApiError(400, "item_name_invalid", "Item name invalid")
    return str(raw)


def _check_free(call: Call, folder: Folder, name: str, moving: Item | None) -> None:
    """Box names are unique per folder whatever the case, across files, folders and links."""
    wanted = name.casefold()
    for child in call.tenant.children(folder):
        if child is not moving and child.name.casefold() == wanted:
            conflict = call.renderer.item(child, None, mini=True)
            raise ApiError(
                409,
                "item_name_in_use",
                "Item with the same name already exists",
                context_info={"conflicts": [conflict]},
            )


def _header_quiet(call: Call) -> bool:
    """Box-Notifications: off from a caller Box lets suppress notifications."""
    asked = (call.request.header("box-notifications") or "").strip().lower() == "off"
    actor = call.caller.token_user
    allowed = actor.role == "admin" or (actor.role == "coadmin" and actor.can_edit_settings)
    return asked and allowed and call.tenant.notification_suppression_enabled


def _notified(
    call: Call, kind: str, item: Item, *, recipients: Iterable[str] | None = None, quiet: bool | None = None
) -> bool:
    """Record what Box would tell, and to whom; True when it was suppressed."""
    asked = quiet if quiet is not None else (call.request.header("box-notifications") or "").lower() == "off"
    suppressed = quiet if quiet is not None else _header_quiet(call)
    audience = recipients if recipients is not None else _audience(call, item)
    call.tenant.notifications.append(
        Notification(
            kind=kind,
            item_type=item.type,
            item_id=item.id,
            actor_id=call.user.id,
            recipients=tuple(audience),
            asked_quiet=asked,
            suppressed=suppressed,
        )
    )
    return suppressed


def _audience(call: Call, item: Item) -> list[str]:
    """The item's owner and collaborators, but for whoever made the change."""
    people = [item.owner_id, *(c.user_id for c in call.tenant.collaborations_on(item) if c.user_id)]
    return [person for person in dict.fromkeys(people) if person != call.user.id]


_CLASSIFICATION = (
    r"/2\.0/files/(?P<id>[^/]+)/metadata/(?P<scope>enterprise(?:_[0-9]+)?)/securityClassification-6VMVochwUWo"
)
ROUTES = [
    ("PUT", r"/2\.0/files/(?P<id>[^/]+)", update_file),
    ("POST", r"/2\.0/folders", create_folder),
    ("DELETE", r"/2\.0/folders/(?P<id>[^/]+)", delete_folder),
    ("POST", r"/2\.0/collaborations", create_collaboration),
    ("DELETE", r"/2\.0/collaborations/(?P<id>[^/]+)", delete_collaboration),
    ("GET", _CLASSIFICATION, get_classification),
    ("POST", _CLASSIFICATION, add_classification),
    ("PUT", _CLASSIFICATION, update_classification),
]
