"""The Box groups of a file's owner, for the `owner_groups` filter of file policies.

Read as the connected admin from `/users/{id}/memberships` (every page) and kept per connection
and user for a while: a scan judges many files per owner, and group changes may take that long to
show in verdicts. A user whose memberships Box will not show (403, e.g. to a co-admin without
"Manage groups"; 404: gone, or outside the enterprise) is in no group, remembered the same way,
so a scan does not ask again for each of their files.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

from boxcasb.errors import BoxAccessDenied, BoxRequestFailed
from boxcasb.observability import logger

CACHE_SECONDS = 15 * 60.0
MAX_ENTRIES = 10_000
PAGE_LIMIT = 1000  # the most Box returns per page of memberships
MAX_OFFSET = 10_000  # Box answers 400 to a memberships offset above this


class JsonReads(Protocol):
    """What of `BoxGateway` (or the scan's `RawGet`) this adapter uses."""

    def get_json(self, path: str, params: dict[str, str], user_id: str | None = None) -> dict[str, Any]: ...


class BoxOwnerGroups:
    """`OwnerGroups` over Box: a user's group names (lower-cased) and group ids."""

    def __init__(
        self,
        reads_for: Callable[[str], JsonReads],
        *,
        ttl_seconds: float = CACHE_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`reads_for(connection_id)`: Box as that connection's admin, asked only on a cache miss.
        `clock`: monotonic seconds. Past `max_entries`, the entries read longest ago go first."""
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._reads_for = reads_for
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[float, frozenset[str]]] = OrderedDict()

    def groups_of(self, connection_id: str, user_id: str) -> frozenset[str]:
        key = (connection_id, user_id)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        # Read outside the lock: one slow owner must not hold up every other worker thread. Two
        # threads missing the same key both read it, and the later answer stays.
        groups = self._read(connection_id, user_id)
        with self._lock:
            self._cache[key] = (now, groups)
            self._cache.move_to_end(key)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return groups

    def _read(self, connection_id: str, user_id: str) -> frozenset[str]:
        box = self._reads_for(connection_id)
        # The id comes from a listing: quoted, it stays one path segment whatever it holds.
        path = f"/users/{quote(user_id, safe='')}/memberships"
        groups: set[str] = set()
        offset = 0
        while True:
            try:
                page = box.get_json(path, {"limit": str(PAGE_LIMIT), "offset": str(offset)})
            except BoxAccessDenied:
                return _unreadable(connection_id, user_id, 403)
            except BoxRequestFailed as exc:
                if exc.status != 404:
                    raise
                return _unreadable(connection_id, user_id, 404)
            entries = [e for e in page.get("entries") or [] if isinstance(e, dict)]
            groups.update(_group_keys(entries))
            offset += len(entries)
            total = page.get("total_count")
            done = offset >= total if isinstance(total, int) else len(entries) < PAGE_LIMIT
            if not entries or done:
                return frozenset(groups)
            if offset > MAX_OFFSET:
                logger.warning(
                    "Box group memberships past its offset limit were not read",
                    extra={"connection_id": connection_id, "user_id": user_id, "read": offset},
                )
                return frozenset(groups)


def _group_keys(entries: list[dict[str, Any]]) -> set[str]:
    keys: set[str] = set()
    for entry in entries:
        group = entry.get("group")
        if not isinstance(group, dict):
            continue
        if group.get("id") is not None:
            keys.add(str(group["id"]))
        if isinstance(group.get("name"), str) and group["name"]:
            keys.add(group["name"].lower())
    return keys


def _unreadable(connection_id: str, user_id: str, status: int) -> frozenset[str]:
    logger.warning(
        "Box did not show a user's group memberships: treated as in no group",
        extra={"connection_id": connection_id, "user_id": user_id, "status": status},
    )
    return frozenset()
