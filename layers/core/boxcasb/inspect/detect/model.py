"""What a detector is: its patterns, how a match becomes a value, and how that value is shown masked."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from boxcasb.errors import InvalidRequest

Span = tuple[int, int]
# (buffer, match start, match end without its boundary bytes) -> the value's span in the buffer, or
# None when the candidate is not a finding. It reads nothing before the match's end minus the
# expression's reach and LOOKAROUND, nor past the match's end plus LOOKAROUND: the scanner keeps
# that much around every match it decides.
FindValue = Callable[[bytes, int, int], Span | None]
Mask = Callable[[bytes], str]

LOOKAROUND = 48


class InvalidPattern(InvalidRequest, ValueError):
    """A policy's custom pattern can't be used as a detector: the reason says what to change."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"custom pattern {name!r}: {reason}")
        self.name = name
        self.reason = reason


class UnknownDetector(InvalidRequest, ValueError):
    """A policy enables a built-in detector that doesn't exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no built-in detector is called {name!r}")
        self.name = name


def whole_match(buffer: bytes, start: int, end: int) -> Span:
    return start, end


@dataclass(frozen=True)
class Expression:
    """One pattern, in the syntax hyperscan and Python's re both read.

    `max_len` bounds the value in UTF-8 bytes: longer candidates are rejected, which is what lets
    the scanner overlap its blocks by a fixed amount and still decide every match on whole data.

    `not_before` / `not_after` are character classes (without brackets) the value may not be glued
    to. Each is folded into the pattern as one boundary byte (or the edge of the text), so that
    hyperscan reports one match per run instead of one per possible start and end; the core's
    first and last bytes must belong to the classes.

    A core with an unbounded repeat (hyperscan tracks starts through those much faster than
    through large bounded ones) sets `fold_before=False`: a folded class that matches almost any
    byte would make hyperscan track a possible start at every byte, 50 times slower. The byte
    before is then checked here instead, which also keeps the start hyperscan reports the same
    in one block or many: a later start inside the same run is always glued to it.
    """

    core: str
    max_len: int
    find_value: FindValue = whole_match
    not_before: str = ""
    not_after: str = ""
    fold_before: bool = True
    utf8: bool = False

    def pattern(self, end_of_text: str = r"\z") -> str:
        before = f"(?:^|[^{self.not_before}])" if self.not_before and self.fold_before else ""
        after = f"(?:[^{self.not_after}]|{end_of_text})" if self.not_after else ""
        return f"{before}(?:{self.core}){after}" if before or after else self.core

    def unwrap(self, buffer: bytes, start: int, end: int) -> Span | None:
        """The core's bytes in a hyperscan match: without the folded boundary bytes (absent at
        the edges of the text), or None when the unfolded byte before glues it to a longer run."""
        if self.not_before:
            if not self.fold_before:
                if start and buffer[start - 1] in self.before_bytes:
                    return None
            elif buffer[start] not in self.before_bytes:
                start += 1
        if self.not_after and buffer[end - 1] not in self.after_bytes:
            end -= 1
        return start, end

    @property
    def reach(self) -> int:
        """The longest hyperscan match: the value and its boundary bytes."""
        return self.max_len + bool(self.not_before and self.fold_before) + bool(self.not_after)

    @cached_property
    def before_bytes(self) -> frozenset[int]:
        return char_class(self.not_before)

    @cached_property
    def after_bytes(self) -> frozenset[int]:
        return char_class(self.not_after)


@dataclass(frozen=True)
class Detector:
    """A named kind of sensitive value: the patterns that find it and how a finding is masked."""

    name: str
    expressions: tuple[Expression, ...]
    mask: Mask
    # A private key's sample stops at its header: what follows is the key.
    context_after: bool = True

    @property
    def reach(self) -> int:
        return max(expression.reach for expression in self.expressions)


def char_class(body: str) -> frozenset[int]:
    if not body:
        return frozenset()
    member = re.compile(f"[{body}]".encode())
    return frozenset(b for b in range(256) if member.fullmatch(bytes((b,))))
