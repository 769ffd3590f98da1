"""Folders, files, their listings, content and collaborations."""

from __future__ import annotations

import re

from .access import Call
from .paging import paginate
from .render import ITEMS_ORDER, listing_order
from .tenant import File, Folder
from .web import Response, json_response, not_found, redirect


def find_folder(call: Call, folder_id: str) -> Folder:
    """Folder "0" is the acting user's root; other users' content is invisible, not forbidden."""
    if folder_id == "0":
        return call.tenant.root_of(call.user)
    folder = call.tenant.folders.get(folder_id)
    # Roots are only ever reachable as "0"; their real ids stay internal.
    if folder is None or folder.is_root or not call.tenant.can_see(call.user, folder):
        raise not_found("folder", folder_id)
    return folder


def find_file(call: Call, file_id: str) -> File:
    file = call.tenant.files.get(file_id)
    if file is None or not call.tenant.can_see(call.user, file):
        raise not_found("file", file_id)
    return file


def get_folder(call: Call, match: re.Match[str]) -> Response:
    folder = find_folder(call, match["id"])
    return json_response(200, call.renderer.item(folder, call.fields()))


def get_folder_items(call: Call, match: re.Match[str]) -> Response:
    folder = find_folder(call, match["id"])
    items = listing_order(call.tenant.listing(call.user, folder))
    page = paginate(items, call.request.query)
    fields = call.fields()
    entries = [call.renderer.item(item, fields, mini=True) for item in page.entries]
    body = {**page.envelope, "entries": entries}
    if "offset" in page.envelope:
        body["order"] = ITEMS_ORDER
    return json_response(200, body)


def get_file(call: Call, match: re.Match[str]) -> Response:
    return json_response(200, call.renderer.item(find_file(call, match["id"]), call.fields()))


def get_file_content(call: Call, match: re.Match[str]) -> Response:
    return redirect(call.downloads.issue(find_file(call, match["id"]).id))


def get_collaborations(call: Call, match: re.Match[str]) -> Response:
    item = find_file(call, match["id"]) if match["kind"] == "files" else find_folder(call, match["id"])
    collaborations = sorted(call.tenant.collaborations_on(item), key=lambda c: int(c.id))
    page = paginate(collaborations, call.request.query, marker_only=True)
    entries = [call.renderer.collaboration(collaboration) for collaboration in page.entries]
    return json_response(200, {**page.envelope, "entries": entries})


ROUTES = [
    ("GET", r"/2\.0/folders/(?P<id>[^/]+)", get_folder),
    ("GET", r"/2\.0/folders/(?P<id>[^/]+)/items", get_folder_items),
    ("GET", r"/2\.0/files/(?P<id>[^/]+)", get_file),
    ("GET", r"/2\.0/files/(?P<id>[^/]+)/content", get_file_content),
    ("GET", r"/2\.0/(?P<kind>files|folders)/(?P<id>[^/]+)/collaborations", get_collaborations),
]
