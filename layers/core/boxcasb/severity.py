"""How bad a finding is: one scale for file policies, activity rules and the alerts they raise."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


def highest(severities: Iterable[Severity | None]) -> Severity | None:
    known = [s for s in severities if s is not None]
    return max(known, key=RANK.__getitem__) if known else None
