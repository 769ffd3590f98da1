"""Fault injection: make the next matching requests slow, or fail the way Box fails.

A fault matches on a path regex (searched in the path, without the query) and
optionally a method, and applies to its next ``times`` matching requests
(``None``: until cleared), after letting ``skip`` matching requests through.
The first matching fault wins. It may delay the answer, replace it with an
error status, or both. A 429 always carries ``Retry-After`` (1 s unless given)
and Box's ``rate_limit_exceeded`` body.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from .web import ApiError, error_for_status


@dataclass
class Fault:
    path_regex: re.Pattern[str]
    status: int | None
    retry_after: int | None
    delay_seconds: float
    times: int | None  # uses left; None: until cleared
    method: str | None
    skip: int = 0  # matching requests still to let through before the fault applies

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and self.path_regex.search(path) is not None

    def error(self) -> ApiError | None:
        if self.status is None:
            return None
        headers = [] if self.retry_after is None else [("Retry-After", str(self.retry_after))]
        return error_for_status(self.status, headers)

    def to_json(self) -> dict[str, Any]:
        return {
            "path_regex": self.path_regex.pattern,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay_seconds": self.delay_seconds,
            "times": self.times,
            "method": self.method,
            "skip": self.skip,
        }


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        path_regex: str,
        status: int | None = None,
        *,
        retry_after: int | None = None,
        times: int | None = 1,
        method: str | None = None,
        delay_seconds: float = 0.0,
        skip: int = 0,
    ) -> Fault:
        if skip < 0:
            raise ValueError("skip must not be negative")
        if status is None and delay_seconds <= 0:
            raise ValueError("a fault needs a status, a delay, or both")
        if status is not None and not 400 <= status <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for every request")
        if status == 429 and retry_after is None:
            retry_after = 1
        method = method.upper() if method else None
        fault = Fault(re.compile(path_regex), status, retry_after, delay_seconds, times, method, skip)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> int:
        with self._lock:
            cleared = len(self._faults)
            self._faults.clear()
            return cleared

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, spending one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None
