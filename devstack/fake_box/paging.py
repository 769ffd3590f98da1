"""Box's two ways of paging a collection: offset/limit and marker.

Markers are opaque to clients; ours encode the index of the next entry.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .web import bad_request


@dataclass
class Page[T]:
    entries: list[T]
    envelope: dict[str, Any]  # the paging keys of the answer, without "entries"


def query_int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"Invalid value '{raw}' for query parameter '{name}'") from None


def page_size(query: Mapping[str, str], *, default: int, maximum: int) -> int:
    """The requested limit; Box quietly caps it at the endpoint's maximum."""
    limit = query_int(query, "limit", default)
    if limit < 1:
        raise bad_request(f"Invalid value '{limit}' for query parameter 'limit'")
    return min(limit, maximum)


def uses_marker(query: Mapping[str, str]) -> bool:
    # boxsdk sends Python's str(True), "True"; curl users send "true".
    return query.get("usemarker", "").lower() == "true"


def encode_marker(index: int) -> str:
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode().rstrip("=")


def decode_marker(marker: str) -> int:
    try:
        text = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
        prefix, _, number = text.partition(":")
        index = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request("Invalid marker") from None
    if prefix != "idx" or index < 0:
        raise bad_request("Invalid marker")
    return index


def paginate[T](
    items: Sequence[T],
    query: Mapping[str, str],
    *,
    default_limit: int = 100,
    max_limit: int = 1000,
    max_offset: int | None = None,
    marker_only: bool = False,
) -> Page[T]:
    limit = page_size(query, default=default_limit, maximum=max_limit)
    if marker_only or uses_marker(query):
        marker = query.get("marker")
        start = decode_marker(marker) if marker else 0
        end = min(start + limit, len(items))
        next_marker = encode_marker(end) if end < len(items) else None
        return Page(list(items[start:end]), {"limit": limit, "next_marker": next_marker})
    offset = query_int(query, "offset", 0)
    if offset < 0 or (max_offset is not None and offset > max_offset):
        raise bad_request(f"Invalid value '{offset}' for query parameter 'offset'")
    envelope = {"total_count": len(items), "offset": offset, "limit": limit}
    return Page(list(items[offset : offset + limit]), envelope)
