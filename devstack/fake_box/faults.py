"""Fault injection: make the next matching requests slow, or fail the way Box fails.

A fault matches on a path regex (searched in the path, without the query) and
optionally a method, and applies to its next ``times`` matching requests
(``None``: until cleared), after letting ``skip`` matching requests through.
The first matching fault wins. It may delay the answer, replace it with an
error status, or both, or drop the connection without an answer. A 429 always
carries ``Retry-After`` (1 s unless given) and Box's ``rate_limit_exceeded`` body.
A ``rate`` below 1 applies the fault to that share of the matching requests only,
drawn from the fake's seeded generator, so a chaos run can be replayed.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Any

from .web import ApiError, error_for_status


class ConnectionDropped(Exception):
    """The fault says: close the client's connection without writing an answer."""


@dataclass
class Fault:
    path_regex: re.Pattern[str]
    status: int | None
    retry_after: int | None
    delay_seconds: float
    times: int | None  # uses left; None: until cleared
    method: str | None
    skip: int = 0  # matching requests still to let through before the fault applies
    rate: float = 1.0  # the share of matching requests it applies to
    drop: bool = False  # close the connection instead of answering

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
            "rate": self.rate,
            "drop": self.drop,
        }


class Faults:
    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._random = random.Random(seed)
        self._applied: dict[str, int] = {}  # what each kind of fault did, for a chaos run's table

    def seed(self, seed: int) -> None:
        with self._lock:
            self._random.seed(seed)

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
        rate: float = 1.0,
        drop: bool = False,
    ) -> Fault:
        if skip < 0:
            raise ValueError("skip must not be negative")
        if not 0.0 < rate <= 1.0:
            raise ValueError("rate must be above 0 and at most 1")
        if drop and status is not None:
            raise ValueError("a dropped connection has no status")
        if status is None and delay_seconds <= 0 and not drop:
            raise ValueError("a fault needs a status, a delay, a drop, or a mix")
        if status is not None and not 400 <= status <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for every request")
        if status == 429 and retry_after is None:
            retry_after = 1
        method = method.upper() if method else None
        fault = Fault(
            re.compile(path_regex), status, retry_after, delay_seconds, times, method, skip, rate, drop
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> int:
        with self._lock:
            cleared = len(self._faults)
            self._faults.clear()
            return cleared

    def applied(self) -> dict[str, int]:
        """How many requests each kind of fault hit: ``429``, ``503``, ``drop``, ``delay``."""
        with self._lock:
            return dict(self._applied)

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
                    if fault.rate < 1.0 and self._random.random() >= fault.rate:
                        continue  # spared this time; a later fault may still match
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    kind = "drop" if fault.drop else str(fault.status) if fault.status else "delay"
                    self._applied[kind] = self._applied.get(kind, 0) + 1
                    return fault
        return None
