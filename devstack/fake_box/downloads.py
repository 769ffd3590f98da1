"""Short-lived download URLs, like the dl.boxcloud.com links ``/files/{id}/content`` redirects to.

The URL itself is the credential (no bearer token needed), so it lives
``LINK_TTL_SECONDS`` and its token is redacted from the request log.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable

from .tenant import Tenant
from .web import ApiError, Request, Response

LINK_TTL_SECONDS = 900.0
CONTENT_PREFIX = "/_content/"


class DownloadLinks:
    def __init__(
        self, base_url: Callable[[], str], tenant: Callable[[], Tenant], clock: Callable[[], float]
    ) -> None:
        self._base_url = base_url
        self._tenant = tenant
        self._clock = clock
        self._lock = threading.Lock()
        self._links: dict[str, tuple[str, float]] = {}  # token -> (file id, expiry)

    def issue(self, file_id: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._links[token] = (file_id, self._clock() + LINK_TTL_SECONDS)
        return f"{self._base_url()}{CONTENT_PREFIX}{token}"

    def serve(self, _request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            file_id, expires_at = self._links.get(match["token"], ("", 0.0))
        tenant = self._tenant()
        with tenant.lock:
            file = tenant.files.get(file_id)
            content = None if file is None or self._clock() >= expires_at else file.content
        if content is None:
            raise ApiError(404, "not_found", "Not Found")
        return Response(200, content, [("Content-Type", "application/octet-stream")])
