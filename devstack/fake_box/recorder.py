"""The request log: what reached the fake, for tests and benchmarks to count.

Secrets never enter it: the Authorization header keeps only its scheme,
token-like query parameters and download-link tokens are replaced, and
request bodies (where OAuth sends its secrets) are not kept at all.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .downloads import CONTENT_PREFIX
from .web import Request

REDACTED = "[redacted]"
_SECRET_PARAMS = frozenset({"access_token", "refresh_token", "client_secret", "code", "token"})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    as_user: str | None
    status: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def redacted_path(path: str) -> str:
    """The path with a download link's token (the link's only credential) replaced."""
    return CONTENT_PREFIX + REDACTED if path.startswith(CONTENT_PREFIX) else path


def _redacted_headers(headers: Mapping[str, str]) -> dict[str, str]:
    clean = dict(headers)
    if "authorization" in clean:
        scheme = clean["authorization"].partition(" ")[0]
        clean["authorization"] = f"{scheme} {REDACTED}"
    return clean


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []

    def record(self, request: Request, status: int) -> None:
        entry = RecordedRequest(
            method=request.method,
            path=redacted_path(request.path),
            query={k: REDACTED if k in _SECRET_PARAMS else v for k, v in request.query.items()},
            headers=_redacted_headers(request.headers),
            as_user=request.header("as-user"),
            status=status,
        )
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def count(
        self, method: str | None = None, path_regex: str | None = None, status: int | None = None
    ) -> int:
        pattern = None if path_regex is None else re.compile(path_regex)
        return sum(
            1
            for entry in self.entries()
            if (method is None or entry.method == method.upper())
            and (pattern is None or pattern.search(entry.path))
            and (status is None or entry.status == status)
        )
