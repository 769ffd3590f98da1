"""Box's text of a file, its ``extracted_text`` representation: the description and the content.

``GET /2.0/files/{id}?fields=representations`` (with ``x-rep-hints: [extracted_text]``) lists it
with the URLs that lead here (render.py). Like every API call these need a bearer token and see
what the acting user (As-User) sees. Only the file's current version has text here.
"""

from __future__ import annotations

import re

from .access import Call
from .render import TEXT_REPRESENTATION
from .routes_items import find_file
from .tenant import File
from .web import ApiError, Response, forbidden, json_response

_BASE = r"/2\.0/internal_files/(?P<id>[^/]+)/versions/(?P<version>[^/]+)/representations/(?P<rep>[^/]+)"


def _missing() -> ApiError:
    return ApiError(404, "not_found", "Not Found")


def _text_file(call: Call, match: re.Match[str]) -> File:
    file = find_file(call, match["id"])
    if match["rep"] != TEXT_REPRESENTATION or match["version"] != file.version_id:
        raise _missing()
    # Representations are what previews are made of: an uploader, who may not preview, gets none.
    if call.tenant.access_role(call.user, file) == "uploader":
        raise forbidden()
    return file


def get_representation(call: Call, match: re.Match[str]) -> Response:
    """The representation's entry, as ``representations`` lists it (the spec: "the entries object")."""
    return json_response(200, call.renderer.text_representation(_text_file(call, match)))


def get_representation_content(call: Call, match: re.Match[str]) -> Response:
    """The text, UTF-8. Not made yet (state ``none`` or ``pending``): 404, an answer Box does not
    document. Text is not paged, so its only asset path is the empty one."""
    file = _text_file(call, match)
    if match["asset"] or file.extracted_text is None:
        raise _missing()
    return Response(200, file.extracted_text.encode(), [("Content-Type", "text/plain; charset=utf-8")])


ROUTES = [
    ("GET", _BASE, get_representation),
    ("GET", _BASE + r"/content/(?P<asset>.*)", get_representation_content),
]
