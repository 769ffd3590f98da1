"""A policy's own patterns as detectors, refused with a reason when they can't be run safely.

The pattern language is what hyperscan and Python's re both accept (PCRE-like, without
backreferences or lookarounds), matched over UTF-8 text: `.` and negated classes take one
character, `\\d`, `\\w` and `\\s` are ASCII, `^` and `$` are the text's edges (`(?m)` for lines),
`(?i)` ignores case. Every repetition needs an upper bound, so that a match that crosses a block
boundary is still seen whole; hyperscan matches in linear time, so no pattern can be a ReDoS.
Python's own parser gives the bounds: hyperscan's expression info isn't in its Python binding.
"""

from __future__ import annotations

import importlib
import re
import warnings

from boxcasb.inspect.detect import masking
from boxcasb.inspect.detect.model import Detector, Expression, InvalidPattern
from boxcasb.inspect.detect.patterns import BUILTIN_DETECTORS

MAX_CHARS = 1024  # the longest match a custom pattern may have, in characters
_UTF8_BYTES_PER_CHAR = 4
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_sre_parser = importlib.import_module("re._parser")


def custom_detector(name: str, pattern: str) -> Detector:
    if not _NAME.fullmatch(name):
        raise InvalidPattern(name, "a name is 1-64 letters, digits, '_', '.' or '-', starting with a letter")
    if name in BUILTIN_DETECTORS:
        raise InvalidPattern(name, "that name belongs to a built-in detector")
    shortest, longest = _width(name, pattern)
    if shortest == 0:
        raise InvalidPattern(name, "it can match the empty string")
    if longest > MAX_CHARS:
        unbounded = longest >= _sre_parser.MAXREPEAT
        raise InvalidPattern(
            name,
            "a repetition has no upper bound (*, + or {n,}): give each one, e.g. {1,64}"
            if unbounded
            else f"it can match {longest} characters; the limit is {MAX_CHARS}",
        )
    return Detector(
        name,
        (Expression(pattern, longest * _UTF8_BYTES_PER_CHAR, utf8=True),),
        masking.length_only,
    )


def _width(name: str, pattern: str) -> tuple[int, int]:
    with warnings.catch_warnings():
        # Python warns on "[[:alpha:]]" (a POSIX class to PCRE, a nested set to Python): the two
        # engines would read the pattern differently, so that is an error too.
        warnings.simplefilter("error")
        try:
            re.compile(pattern)
            low, high = _sre_parser.parse(pattern).getwidth()
        except (re.error, FutureWarning, DeprecationWarning) as error:
            raise InvalidPattern(name, f"not a valid regular expression: {error}") from None
    return int(low), int(high)
