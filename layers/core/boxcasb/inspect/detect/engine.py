"""Hyperscan: every pattern of a detector set in one database, so one pass over a block finds them all."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

import hyperscan

from boxcasb.inspect.detect.model import Expression

# (expression index, start, end) of one match, in bytes of the scanned block.
Hit = tuple[int, int, int]


class MatchEngine(Protocol):
    def scan(self, data: bytes) -> list[Hit]: ...


class HyperscanEngine:
    """Compiled once; safe to share between threads (each thread gets its own scratch space).

    Block mode over overlapping blocks, not stream mode: a candidate is checked on bytes around it
    (boundaries, context for its sample) that stream mode would already have dropped, so the
    scanner keeps a bounded tail anyway, and block mode lets it rescan that tail instead.
    """

    def __init__(self, expressions: Sequence[Expression]) -> None:
        self._database: hyperscan.Database | None = None
        if expressions:
            database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            database.compile(
                expressions=[e.pattern().encode() for e in expressions],
                ids=list(range(len(expressions))),
                elements=len(expressions),
                flags=[_flags(e) for e in expressions],
            )
            self._database = database
        self._local = threading.local()

    def scan(self, data: bytes) -> list[Hit]:
        hits: list[Hit] = []
        if self._database is None or not data:
            return hits
        found = hits.append

        def on_match(expression: int, start: int, end: int, flags: int, context: object) -> None:
            found((expression, start, end))

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch(self._database))
        return hits

    def _scratch(self, database: hyperscan.Database) -> hyperscan.Scratch:
        scratch: hyperscan.Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(database)
        return scratch


def _flags(expression: Expression) -> int:
    return hyperscan.HS_FLAG_SOM_LEFTMOST | (hyperscan.HS_FLAG_UTF8 if expression.utf8 else 0)
