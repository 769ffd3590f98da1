"""Text in, counts and masked samples out: blocks of UTF-8 through one engine pass each.

Text arrives as str chunks of any size. It is cut into blocks of `block_chars` characters, each
encoded to UTF-8 once and scanned behind the last `overlap` bytes of the block before, so every
match (at most `reach` bytes long), the bytes its checks look at and the context of its sample
are inside one scanned buffer. A match is decided in the first buffer that holds LOOKAHEAD bytes
past its end, and only there, so it is counted exactly once however the text was chunked.

Offsets stay in bytes: checks run on the candidate's bytes and samples decode a few words around
it, so nothing maps byte offsets back to characters or builds a Python object per character.

Within a detector, candidates that overlap are one finding: the leftmost, then the longest
(hyperscan reports every end a pattern can have; `re.finditer` would return that same one).
A candidate is settled once no candidate starting before it can still appear. Its sample is
written once every finding that could overlap the sample's window is known, so that those are
hidden in its context: `others` for `masking.sample`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

from boxcasb.inspect.detect.engine import Hit, MatchEngine
from boxcasb.inspect.detect.masking import CONTEXT_WINDOW, sample
from boxcasb.inspect.detect.model import LOOKAROUND, Detector, Expression, Span

DEFAULT_BLOCK_CHARS = 1 << 20
# Bytes a block must hold past a match's end before it is decided, and before its start.
LOOKAHEAD = max(LOOKAROUND, CONTEXT_WINDOW) + 1
LOOKBEHIND = max(LOOKAROUND, CONTEXT_WINDOW)
_UTF8_ALIGNMENT = 3  # continuation bytes skipped so a buffer never starts inside a character

# A candidate waiting for its turn: value start and end (absolute bytes), its buffer and the
# buffer's absolute offset (for the sample's context).
_Candidate = tuple[int, int, bytes, int]


@dataclass(frozen=True)
class _Sampled:
    """A counted finding whose sample waits for its neighbours to be known (offsets absolute)."""

    detector: int
    start: int
    end: int
    window: bytes  # the value and CONTEXT_WINDOW bytes each side
    window_start: int
    window_end: int


@dataclass(frozen=True)
class Detections:
    counts: Mapping[str, int]  # every detector of the set, 0 when it found nothing
    samples: Mapping[str, tuple[str, ...]]  # masked, in text order
    chars: int


@dataclass(frozen=True)
class Plan:
    """The detectors in engine order: expression i of the engine belongs to routes[i]."""

    detectors: tuple[Detector, ...]
    samples: int

    @cached_property
    def routes(self) -> tuple[tuple[int, Expression], ...]:
        return tuple((i, e) for i, detector in enumerate(self.detectors) for e in detector.expressions)

    @property
    def expressions(self) -> tuple[Expression, ...]:
        return tuple(expression for _, expression in self.routes)

    @cached_property
    def reaches(self) -> tuple[int, ...]:
        return tuple(detector.reach for detector in self.detectors)

    @cached_property
    def overlap(self) -> int:
        longest = max(self.reaches, default=0)
        return LOOKBEHIND + longest + LOOKAHEAD + _UTF8_ALIGNMENT + 1


class ContentScanner:
    """One text's scan: `feed` its chunks in order, then `finish` once. Not shared between threads."""

    def __init__(self, plan: Plan, engine: MatchEngine, block_chars: int = DEFAULT_BLOCK_CHARS) -> None:
        if block_chars < 1:
            raise ValueError("block_chars must be at least 1")
        self._plan = plan
        self._engine = engine
        self._block_chars = block_chars
        self._waiting: list[str] = []
        self._waiting_chars = 0
        self._chars = 0
        self._carry = b""
        self._carry_base = 0
        self._decided = 0  # absolute offset: every hit ending at or before it is decided
        self._last: tuple[bytes, int, list[Hit]] | None = None
        self._pending: list[list[_Candidate]] = [[] for _ in plan.detectors]
        self._settled_end = [0] * len(plan.detectors)
        self._counts = [0] * len(plan.detectors)
        self._samples: list[list[str]] = [[] for _ in plan.detectors]
        self._sampling: list[_Sampled] = []
        self._found: list[Span] = []  # every checked value near the frontier, for hiding neighbours
        self._finished = False

    def feed(self, chunk: str) -> None:
        if self._finished:
            raise RuntimeError("this scan has finished; start another scanner")
        if not chunk:
            return
        self._chars += len(chunk)
        self._waiting.append(chunk)
        self._waiting_chars += len(chunk)
        if self._waiting_chars < self._block_chars:
            return
        text = "".join(self._waiting)
        whole = len(text) - len(text) % self._block_chars
        for at in range(0, whole, self._block_chars):
            self._scan(text[at : at + self._block_chars], final=False)
        rest = text[whole:]
        self._waiting = [rest] if rest else []
        self._waiting_chars = len(rest)

    def finish(self) -> Detections:
        if not self._finished:
            self._finished = True
            if self._waiting:
                self._scan("".join(self._waiting), final=True)
            elif self._last is not None:
                # The last block was the end of the text: its held-back hits are decided as they are.
                self._decide(*self._last, final=True)
            self._waiting, self._carry, self._last = [], b"", None
        names = [detector.name for detector in self._plan.detectors]
        return Detections(
            counts=MappingProxyType(dict(zip(names, self._counts, strict=True))),
            samples=MappingProxyType({n: tuple(s) for n, s in zip(names, self._samples, strict=True)}),
            chars=self._chars,
        )

    def _scan(self, text: str, final: bool) -> None:
        # "replace": a lone surrogate (undecodable input smuggled through str) becomes "?".
        data = text.encode("utf-8", "replace")
        buffer = self._carry + data if self._carry else data
        base = self._carry_base
        hits = self._engine.scan(buffer)
        self._decide(buffer, base, hits, final)
        if final:
            return
        cut = max(0, len(buffer) - self._plan.overlap)
        while cut < len(buffer) and buffer[cut] & 0xC0 == 0x80:
            cut += 1
        self._carry, self._carry_base = buffer[cut:], base + cut
        self._last = (buffer, base, hits)

    def _decide(self, buffer: bytes, base: int, hits: list[Hit], final: bool) -> None:
        limit = len(buffer) if final else len(buffer) - LOOKAHEAD
        floor = self._decided - base
        routes, pending = self._plan.routes, self._pending
        for index, start, end in hits:
            if not floor < end <= limit:
                continue
            detector, expression = routes[index]
            if end - start > expression.reach:
                continue
            bounds = expression.unwrap(buffer, start, end)
            if bounds is None:
                continue
            span = expression.find_value(buffer, *bounds)
            if span is not None and end - span[0] <= expression.reach:
                pending[detector].append((base + span[0], base + span[1], buffer, base))
                self._found.append((base + span[0], base + span[1]))
        self._decided = base + limit
        frontier = None if final else self._decided
        self._settle(frontier)
        self._write_samples(frontier)

    def _settle(self, frontier: int | None) -> None:
        """Count the candidates nothing can overlap from the left any more: leftmost, then longest."""
        for detector, candidates in enumerate(self._pending):
            if not candidates:
                continue
            if frontier is None:
                ready, waiting = candidates, []
            else:
                cutoff = frontier - self._plan.reaches[detector]
                ready = [c for c in candidates if c[0] <= cutoff]
                waiting = [c for c in candidates if c[0] > cutoff]
            ready.sort(key=lambda c: (c[0], -c[1]))
            for start, end, buffer, base in ready:
                if start < self._settled_end[detector]:
                    continue
                self._settled_end[detector] = end
                self._counts[detector] += 1
                if self._counts[detector] <= self._plan.samples:
                    window_start = max(base, start - CONTEXT_WINDOW)
                    window = buffer[window_start - base : end - base + CONTEXT_WINDOW]
                    self._sampling.append(
                        _Sampled(detector, start, end, window, window_start, window_start + len(window))
                    )
            self._pending[detector] = waiting

    def _write_samples(self, frontier: int | None) -> None:
        """Samples whose window no undecided finding can reach any more, with their neighbours hidden."""
        reach = max(self._plan.reaches, default=0)
        waiting: list[_Sampled] = []
        for item in self._sampling:
            if frontier is not None and item.window_end + reach > frontier:
                waiting.append(item)
                continue
            kind = self._plan.detectors[item.detector]
            value = item.window[item.start - item.window_start : item.end - item.window_start]
            others = [
                (start - item.window_start, end - item.window_start)
                for start, end in self._found
                if start < item.window_end
                and end > item.window_start
                and (start, end) != (item.start, item.end)
            ]
            self._samples[item.detector].append(
                sample(
                    item.window,
                    item.start - item.window_start,
                    item.end - item.window_start,
                    kind.mask(value),
                    kind.context_after,
                    others,
                )
            )
        self._sampling = waiting
        if frontier is not None:
            # Values a future window could still touch: after the oldest waiting window, and after
            # the earliest window of a finding not settled yet.
            floor = min([frontier - reach - CONTEXT_WINDOW, *(item.window_start for item in waiting)])
            self._found = [span for span in self._found if span[1] > floor]
