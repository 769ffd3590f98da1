"""A policy set's detectors, compiled once into one engine and shared by every scan that uses them."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import hyperscan

from boxcasb.inspect.detect.custom import custom_detector
from boxcasb.inspect.detect.engine import HyperscanEngine, MatchEngine
from boxcasb.inspect.detect.model import Detector, InvalidPattern, UnknownDetector
from boxcasb.inspect.detect.patterns import BUILTIN_DETECTORS, BUILTINS
from boxcasb.inspect.detect.scanner import DEFAULT_BLOCK_CHARS, ContentScanner, Detections, Plan

DEFAULT_SAMPLES = 3


@dataclass(frozen=True)
class DetectorSet:
    """Immutable and thread-safe: build it once per policy set, then `scanner()` per file."""

    plan: Plan
    engine: MatchEngine

    @classmethod
    def build(
        cls,
        custom: Mapping[str, str] | None = None,
        enabled: Collection[str] | None = None,
        samples: int = DEFAULT_SAMPLES,
    ) -> DetectorSet:
        """The built-ins named in `enabled` (all when None) and the policies' `custom` patterns.

        Raises UnknownDetector for a name in `enabled` that isn't built in, and InvalidPattern
        for a custom pattern that can't be used (with the reason).
        """
        if samples < 0:
            raise ValueError("samples can't be negative")
        chosen = BUILTIN_DETECTORS if enabled is None else tuple(enabled)
        for name in chosen:
            if name not in BUILTIN_DETECTORS:
                raise UnknownDetector(name)
        own = [custom_detector(name, pattern) for name, pattern in sorted((custom or {}).items())]
        plan = Plan((*(d for d in BUILTINS if d.name in chosen), *own), samples)
        try:
            engine = HyperscanEngine(plan.expressions)
        except hyperscan.error as error:
            raise _rejected(own, error) from None
        return cls(plan, engine)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(detector.name for detector in self.plan.detectors)

    def scanner(self, block_chars: int = DEFAULT_BLOCK_CHARS) -> ContentScanner:
        """`block_chars` trades memory for fewer engine calls; tests use tiny blocks."""
        return ContentScanner(self.plan, self.engine, block_chars)

    def scan(self, text: str) -> Detections:
        scanner = self.scanner()
        scanner.feed(text)
        return scanner.finish()


def _rejected(own: list[Detector], error: hyperscan.error) -> InvalidPattern:
    """Which custom pattern hyperscan refused: its compile error names no expression."""
    for detector in own:
        try:
            HyperscanEngine(detector.expressions)
        except hyperscan.error as alone:
            return InvalidPattern(detector.name, f"the matching engine can't run it: {_plain(alone)}")
    names = ", ".join(d.name for d in own) or "built-in detectors"
    return InvalidPattern(names, f"together the patterns are too large to compile: {_plain(error)}")


def _plain(error: hyperscan.error) -> str:
    message = str(error).rstrip(".")
    hints = {
        "Back-references": "backreferences such as \\1 are not supported",
        "Zero-width assertions": "lookahead and lookbehind are not supported",
        "too large": "use smaller repetition bounds",
    }
    hint = next((h for key, h in hints.items() if key in message), None)
    return f"{message} ({hint})" if hint else message
