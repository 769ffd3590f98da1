"""V2 webhooks: create, list, read, update and delete (deliveries: webhook_triggers.py).

Box's rules kept here: one webhook per target per app (409), none on the root
folder, ``FOLDER.*`` and ``COLLABORATION.*`` triggers only on folders, a plain
user only on items they own, an HTTPS address, and at most
``WebhookOptions.limit_per_user`` (Box: 1000) webhooks per app per user. Loopback
``http://`` addresses are accepted so a local stack can register its own endpoint.

Box documents the 1000 limit but not its answer; the fake answers 403
``access_denied_insufficient_permissions`` with a message naming the limit.
Deleting a webhook through the API sends no ``WEBHOOK.DELETED`` (the app did it).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from .access import Call
from .paging import paginate
from .routes_items import find_file, find_folder
from .tenant import File, Folder, Webhook
from .web import ApiError, Response, bad_request, forbidden, json_response, not_found

TRIGGERS = frozenset(
    {
        "FILE.UPLOADED",
        "FILE.PREVIEWED",
        "FILE.DOWNLOADED",
        "FILE.TRASHED",
        "FILE.DELETED",
        "FILE.RESTORED",
        "FILE.COPIED",
        "FILE.MOVED",
        "FILE.LOCKED",
        "FILE.UNLOCKED",
        "FILE.RENAMED",
        "COMMENT.CREATED",
        "COMMENT.UPDATED",
        "COMMENT.DELETED",
        "TASK_ASSIGNMENT.CREATED",
        "TASK_ASSIGNMENT.UPDATED",
        "METADATA_INSTANCE.CREATED",
        "METADATA_INSTANCE.UPDATED",
        "METADATA_INSTANCE.DELETED",
        "FOLDER.CREATED",
        "FOLDER.RENAMED",
        "FOLDER.DOWNLOADED",
        "FOLDER.RESTORED",
        "FOLDER.DELETED",
        "FOLDER.COPIED",
        "FOLDER.MOVED",
        "FOLDER.TRASHED",
        "WEBHOOK.DELETED",
        "COLLABORATION.CREATED",
        "COLLABORATION.ACCEPTED",
        "COLLABORATION.REJECTED",
        "COLLABORATION.REMOVED",
        "COLLABORATION.UPDATED",
        "SHARED_LINK.DELETED",
        "SHARED_LINK.CREATED",
        "SHARED_LINK.UPDATED",
        "SIGN_REQUEST.COMPLETED",
        "SIGN_REQUEST.DECLINED",
        "SIGN_REQUEST.EXPIRED",
        "SIGN_REQUEST.SIGNER_EMAIL_BOUNCED",
        "SIGN_REQUEST.SIGN_SIGNER_SIGNED",
        "SIGN_REQUEST.SIGN_DOCUMENT_CREATED",
        "SIGN_REQUEST.SIGN_ERROR_FINALIZING",
    }
)
_FOLDER_ONLY = ("FOLDER.", "COLLABORATION.")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def create_webhook(call: Call, _match: re.Match[str]) -> Response:
    body = _body(call)
    target_type, target_id = _target(body.get("target"))
    address = _address(body.get("address"))
    triggers = _triggers(body.get("triggers"), target_type)
    target = _target_item(call, target_type, target_id)
    _check_no_other_on(call, target_type, target_id)
    limit = call.webhook_options.limit_per_user
    mine = sum(
        1
        for existing in call.tenant.webhooks.values()
        if existing.client_id == call.client_id and existing.created_by_id == call.user.id
    )
    if mine >= limit:
        raise forbidden(f"Maximum number of webhooks ({limit}) reached for this application and user")
    webhook = call.tenant.add_webhook(
        target, address, triggers, created_by=call.user, client_id=call.client_id
    )
    return json_response(201, call.renderer.webhook(webhook))


def update_webhook(call: Call, match: re.Match[str]) -> Response:
    """PUT: any of ``target``, ``address`` and ``triggers``; the rules of creation apply to the result."""
    webhook = _find(call, match["id"])
    body = _body(call)
    target_type, target_id = webhook.target_type, webhook.target_id
    if "target" in body:
        target_type, target_id = _target(body["target"])
    address = _address(body["address"]) if "address" in body else webhook.address
    triggers = _triggers(body.get("triggers", webhook.triggers), target_type)
    _target_item(call, target_type, target_id)
    if (target_type, target_id) != (webhook.target_type, webhook.target_id):
        _check_no_other_on(call, target_type, target_id)
        webhook.target_type, webhook.target_id = target_type, target_id
    webhook.address = address
    webhook.triggers = triggers
    return json_response(200, call.renderer.webhook(webhook))


def list_webhooks(call: Call, _match: re.Match[str]) -> Response:
    visible = (webhook for webhook in call.tenant.webhooks.values() if _visible(call, webhook))
    webhooks = sorted(visible, key=lambda webhook: int(webhook.id))
    page = paginate(webhooks, call.request.query, marker_only=True)
    entries = [call.renderer.webhook(webhook, mini=True) for webhook in page.entries]
    return json_response(200, {**page.envelope, "entries": entries})


def get_webhook(call: Call, match: re.Match[str]) -> Response:
    return json_response(200, call.renderer.webhook(_find(call, match["id"])))


def delete_webhook(call: Call, match: re.Match[str]) -> Response:
    del call.tenant.webhooks[_find(call, match["id"]).id]
    return Response(204)


def _body(call: Call) -> dict[str, Any]:
    body = call.request.json()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body


def _target_item(call: Call, target_type: Literal["file", "folder"], target_id: str) -> File | Folder:
    """The target, if the acting user may put a webhook on it."""
    if target_type == "folder" and target_id == "0":
        raise bad_request("Webhooks cannot be created on the root folder")
    target: File | Folder = (
        find_folder(call, target_id) if target_type == "folder" else find_file(call, target_id)
    )
    if call.user.role == "user" and target.owner_id != call.user.id:
        raise forbidden()
    return target


def _check_no_other_on(call: Call, target_type: str, target_id: str) -> None:
    for existing in call.tenant.webhooks.values():
        same_target = (existing.target_type, existing.target_id) == (target_type, target_id)
        if existing.client_id == call.client_id and same_target:
            raise ApiError(409, "conflict", f"Webhook:{existing.id} already exists on the specified target.")


def _find(call: Call, webhook_id: str) -> Webhook:
    webhook = call.tenant.webhooks.get(webhook_id)
    if webhook is None or not _visible(call, webhook):
        raise not_found("webhook", webhook_id)
    return webhook


def _visible(call: Call, webhook: Webhook) -> bool:
    """Box lists an app's webhooks on items the acting user can reach."""
    target = call.tenant.find_item(webhook.target_type, webhook.target_id)
    if webhook.client_id != call.client_id or target is None:
        return False
    return call.tenant.can_see(call.user, target)


def _target(raw: Any) -> tuple[Literal["file", "folder"], str]:
    valid = isinstance(raw, dict) and raw.get("type") in ("file", "folder") and isinstance(raw.get("id"), str)
    if not valid:
        raise bad_request("'target' must be an object with a string 'id' and a 'type' of file or folder")
    return raw["type"], raw["id"]


def _address(raw: Any) -> str:
    parts = urlsplit(raw) if isinstance(raw, str) else None
    if parts is None or not parts.netloc:
        raise bad_request("'address' must be an absolute URL")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise bad_request("'address' must use HTTPS")
    return str(raw)


def _triggers(raw: Any, target_type: str) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(t, str) and t in TRIGGERS for t in raw):
        raise bad_request("'triggers' must be a non-empty list of webhook trigger names")
    if target_type == "file" and any(t.startswith(_FOLDER_ONLY) for t in raw):
        raise bad_request("FOLDER and COLLABORATION triggers can only be set on folders")
    return list(raw)


ROUTES = [
    ("POST", r"/2\.0/webhooks", create_webhook),
    ("GET", r"/2\.0/webhooks", list_webhooks),
    ("GET", r"/2\.0/webhooks/(?P<id>[^/]+)", get_webhook),
    ("PUT", r"/2\.0/webhooks/(?P<id>[^/]+)", update_webhook),
    ("DELETE", r"/2\.0/webhooks/(?P<id>[^/]+)", delete_webhook),
]
