"""The governance port over the Box gateway: Box's JSON in and out, and nothing else.

Every write carries `Box-Notifications: off`, so a governance action does not mail the
file's collaborators or fire webhooks. Box's guide makes the header work only for an app
allowed to suppress notifications (a scope Box support enables, plus "Manage Enterprise
Properties") connected by an admin, or a co-admin with "Edit settings for your company".
What Box does with the header otherwise is undocumented; the fake ignores it then, and the
actions do not depend on it. Collaboration invites are not covered by the header (Box's
guide says so): `notify=false` keeps those quiet.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any, Literal, Protocol

from boxcasb.box_gateway.gateway import JsonReply
from boxcasb.errors import BoxRequestFailed, BoxUnavailable
from boxcasb.govern.model import Collaboration, FileState, PathFolder
from boxcasb.scan.model import LinkAccess

NO_NOTIFICATIONS = {"Box-Notifications": "off"}
FILE_FIELDS = "id,name,etag,owned_by,parent,path_collection,shared_link,classification"
COLLABORATION_FIELDS = "accessible_by,invite_email,role,status"
# Box's classification is an instance of this enterprise metadata template (one key).
CLASSIFICATION_PATH = "/metadata/enterprise/securityClassification-6VMVochwUWo"
CLASSIFICATION_KEY = "Box__Security__Classification__Key"
JSON_PATCH = "application/json-patch+json"
PAGE_LIMIT = "1000"


class Gateway(Protocol):
    """What of `BoxGateway` this adapter uses."""

    def get_json(self, path: str, params: dict[str, str], user_id: str | None = None) -> dict[str, Any]: ...

    def send_json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | list[Any] | None = None,
        user_id: str | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        answers: Collection[int] = (),
    ) -> JsonReply: ...


def _id_of(value: object) -> str | None:
    raw = value.get("id") if isinstance(value, dict) else None
    return str(raw) if raw is not None else None


def _access(link: object) -> LinkAccess | None:
    value = link.get("access") if isinstance(link, dict) else None
    try:
        return LinkAccess(value) if isinstance(value, str) else None
    except ValueError:
        return None


def file_state(entry: dict[str, Any]) -> FileState:
    """A file read with FILE_FIELDS."""
    path = entry.get("path_collection")
    folders = path.get("entries") if isinstance(path, dict) else None
    classification = entry.get("classification")
    return FileState(
        id=str(entry.get("id")),
        name=str(entry.get("name") or ""),
        etag=str(entry["etag"]) if entry.get("etag") is not None else None,
        owner_id=_id_of(entry.get("owned_by")) or "",
        parent_id=_id_of(entry.get("parent")) or "",
        path=tuple(
            PathFolder(id=str(f.get("id")), name=str(f.get("name") or ""))
            for f in folders or []
            if isinstance(f, dict)
        ),
        link_access=_access(entry.get("shared_link")),
        classification=(
            str(classification["name"])
            if isinstance(classification, dict) and classification.get("name")
            else None
        ),
    )


def collaboration(entry: dict[str, Any]) -> Collaboration:
    """An entry of a collaborations list. An invite by mail to someone without a Box account
    has no `accessible_by` (missing or null), only `invite_email`."""
    who = entry.get("accessible_by")
    if isinstance(who, dict) and who.get("id") is not None:
        kind: Literal["user", "group", "invite"] = "group" if who.get("type") == "group" else "user"
        user_id, email = str(who["id"]), who.get("login")
    else:
        kind, user_id, email = "invite", None, entry.get("invite_email")
    return Collaboration(
        id=str(entry.get("id")),
        kind=kind,
        user_id=user_id,
        email=str(email) if email else None,
        role=str(entry.get("role") or ""),
        status=str(entry.get("status") or ""),
    )


def _failure(reply: JsonReply) -> BoxRequestFailed:
    code = reply.body.get("code")
    code = str(code) if code else None
    return BoxRequestFailed(
        f"Box answered {reply.status}" + (f" ({code})" if code else ""), reply.status, code
    )


class GatewayBoxWrites:
    """`BoxWrites` over one connection's gateway (its rate limiter and retries apply)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def read_file(self, file_id: str, as_user: str | None) -> FileState:
        return file_state(self._gateway.get_json(f"/files/{file_id}", {"fields": FILE_FIELDS}, as_user))

    def set_shared_link(self, file_id: str, as_user: str | None, access: LinkAccess | None) -> None:
        link = None if access is None else {"access": access.value}
        self._write(
            "PUT", f"/files/{file_id}", as_user, {"shared_link": link}, params={"fields": "shared_link"}
        )

    def collaborations(
        self, item_type: Literal["file", "folder"], item_id: str, as_user: str | None
    ) -> list[Collaboration]:
        return [
            collaboration(entry) for entry in self._pages(f"/{item_type}s/{item_id}/collaborations", as_user)
        ]

    def remove_collaboration(self, collaboration_id: str, as_user: str | None) -> bool:
        reply = self._write("DELETE", f"/collaborations/{collaboration_id}", as_user, answers=(404,))
        return reply.status != 404

    def invite(self, folder_id: str, user_id: str, role: str, as_user: str | None) -> str:
        body = {
            "item": {"type": "folder", "id": folder_id},
            "accessible_by": {"type": "user", "id": user_id},
            "role": role,
        }
        params = {"notify": "false", "fields": "id"}
        reply = self._write("POST", "/collaborations", as_user, body, params=params, answers=(400,))
        if reply.status != 400:
            return str(reply.body["id"])
        if reply.body.get("code") == "user_already_collaborator":
            # Another run (a redelivered message) let them in first: theirs will do.
            for existing in self.collaborations("folder", folder_id, as_user):
                if existing.user_id == user_id:
                    return existing.id
        raise _failure(reply)

    def set_classification(self, file_id: str, as_user: str | None, label: str, *, replace: bool) -> None:
        # Box creates an instance with POST and changes one with a JSON Patch; either answers that
        # the other was needed (409 tuple_already_exists, 404 instance_not_found) when the file
        # changed since it was read.
        path = f"/files/{file_id}{CLASSIFICATION_PATH}"
        if not replace:
            created = self._write("POST", path, as_user, {CLASSIFICATION_KEY: label}, answers=(409,))
            if created.status != 409:
                return
        patch = [{"op": "replace", "path": f"/{CLASSIFICATION_KEY}", "value": label}]
        replaced = self._write("PUT", path, as_user, patch, content_type=JSON_PATCH, answers=(404,))
        if replaced.status == 404:
            if replaced.body.get("code") != "instance_not_found":
                raise _failure(replaced)
            self._write("POST", path, as_user, {CLASSIFICATION_KEY: label})

    def ensure_folder(self, parent_id: str, name: str, as_user: str | None) -> str:
        # Create first: Box's 409 names the folder in the way, where finding it would mean listing
        # the parent (the quarantine folder holds a folder per quarantined file).
        body = {"name": name, "parent": {"id": parent_id}}
        reply = self._write("POST", "/folders", as_user, body, params={"fields": "id"}, answers=(409,))
        if reply.status != 409:
            return str(reply.body["id"])
        if reply.body.get("code") == "operation_blocked_temporary":
            raise BoxUnavailable(f"Box answered 409 (operation_blocked_temporary) creating folder {name!r}")
        for item in _conflicts(reply.body):
            if item.get("type") == "folder" and str(item.get("name", "")).casefold() == name.casefold():
                return str(item["id"])
        raise _failure(reply)

    def move_file(self, file_id: str, parent_id: str, as_user: str | None) -> None:
        self._write(
            "PUT", f"/files/{file_id}", as_user, {"parent": {"id": parent_id}}, params={"fields": "parent"}
        )

    def delete_empty_folder(self, folder_id: str, as_user: str | None) -> bool:
        reply = self._write("DELETE", f"/folders/{folder_id}", as_user, answers=(400, 404))
        if reply.status == 400 and reply.body.get("code") != "folder_not_empty":
            raise _failure(reply)
        return reply.status == 204

    def _write(
        self,
        method: str,
        path: str,
        as_user: str | None,
        body: dict[str, Any] | list[Any] | None = None,
        *,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
        answers: Collection[int] = (),
    ) -> JsonReply:
        return self._gateway.send_json(
            method,
            path,
            params=params,
            body=body,
            user_id=as_user,
            headers=NO_NOTIFICATIONS,
            content_type=content_type,
            answers=answers,
        )

    def _pages(self, path: str, as_user: str | None) -> Iterator[dict[str, Any]]:
        marker: str | None = None
        while True:
            params = {"fields": COLLABORATION_FIELDS, "limit": PAGE_LIMIT, "usemarker": "true"}
            if marker:
                params["marker"] = marker
            page = self._gateway.get_json(path, params, as_user)
            yield from (e for e in page.get("entries") or [] if isinstance(e, dict))
            marker = page.get("next_marker") or None
            if not marker:
                return


def _conflicts(error: dict[str, Any]) -> list[dict[str, Any]]:
    """Box's `context_info.conflicts`: a list of items (folders), or one item (files)."""
    info = error.get("context_info")
    found = info.get("conflicts") if isinstance(info, dict) else None
    items = found if isinstance(found, list) else [found]
    return [item for item in items if isinstance(item, dict)]
