"""Samples a reviewer can read without learning the value: the masked match and a few words around it.

The context is cut to whole words near the match. Words that are (part of) another finding, of
any detector, and words that could carry a value of their own (a digit, an '@', a long mixed-case
token) are shown as '…': a neighbouring card number, secret or password never leaks through
another match's sample.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from boxcasb.inspect.detect.model import Span

# Bytes of text on each side the scanner keeps for a sample. Only whole words within CONTEXT_BUDGET
# are shown; the window is longer, so a word cut by the window's edge never fits.
CONTEXT_WINDOW = 32
CONTEXT_BUDGET = 24
HIDDEN = "…"

_SEPARATORS = rb"""\s"'`,;:()\[\]{}<>|="""
_TOKENS = re.compile(rb"[" + _SEPARATORS + rb"]+|[^" + _SEPARATORS + rb"]+")
_SEPARATOR_BYTES = frozenset(b for b in range(256) if re.fullmatch(rb"[" + _SEPARATORS + rb"]", bytes((b,))))
_DIGITS = frozenset(b"0123456789")
_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_LOWER = frozenset(b"abcdefghijklmnopqrstuvwxyz")
_UPPER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_AT = b"@"[0]
_OTHER = b"\x00"  # stands in for another finding's bytes: never a separator, always hidden
_OTHER_BYTE = _OTHER[0]
_HIDDEN_RUN = re.compile(r"…(?:[\s,;:|-]*…)+")  # "… … …" reads as one "…"
_TOKEN_LIKE = 16  # a mixed-case word this long may be a key: random tokens are, prose words rarely


def sample(
    window: bytes, start: int, end: int, masked: str, context_after: bool, others: Sequence[Span] = ()
) -> str:
    """The masked value of window[start:end] between the words around it, on one line; `others`
    are the spans of other findings in the window."""
    if others:
        hidden = bytearray(window)
        for other_start, other_end in others:
            low, high = max(0, other_start), min(len(window), other_end)
            hidden[low:high] = _OTHER * max(0, high - low)
        window = bytes(hidden)
    before = _TOKENS.findall(window[max(0, start - CONTEXT_WINDOW) : start])
    after = _TOKENS.findall(window[end : end + CONTEXT_WINDOW]) if context_after else []
    left = "".join(reversed(_nearest(reversed(before))))
    right = "".join(_nearest(after))
    return " ".join(f"{_HIDDEN_RUN.sub(HIDDEN, left)}{masked}{_HIDDEN_RUN.sub(HIDDEN, right)}".split())


def _nearest(tokens: Iterable[bytes]) -> list[str]:
    """Tokens outward from the value while they fit the budget, each shown or hidden."""
    shown: list[str] = []
    used = 0
    for token in tokens:
        used += len(token)
        if used > CONTEXT_BUDGET:
            break
        shown.append(_show(token))
    return shown


def _show(token: bytes) -> str:
    if token[0] in _SEPARATOR_BYTES:  # punctuation and spaces (collapsed by `sample`)
        return token.decode("ascii")
    if _may_hold_a_value(token):
        return HIDDEN
    return token.decode("utf-8", "replace")


def _may_hold_a_value(word: bytes) -> bool:
    chars = set(word)
    if chars & _DIGITS or _AT in chars or _OTHER_BYTE in chars:
        return True
    return len(word) >= _TOKEN_LIKE and bool(chars & _LOWER) and bool(chars & _UPPER)


# --- the masked values ----------------------------------------------------------------------------


def keep_tail(value: bytes, keep: int, head: int = 0) -> str:
    """Letters and digits as '*' except the first `head` and the last `keep`; separators stay."""
    positions = [i for i, byte in enumerate(value) if byte in _ALNUM]
    shown = set(positions[:head]) | set(positions[-keep:] if keep else ())
    return "".join(chr(byte) if i in shown or byte not in _ALNUM else "*" for i, byte in enumerate(value))


def card(value: bytes) -> str:
    return keep_tail(value, 4)


def ssn(value: bytes) -> str:
    return keep_tail(value, 4)


def iban(value: bytes) -> str:
    return keep_tail(value, 4, head=2)


def phone(value: bytes) -> str:
    return keep_tail(value, 2)


def email(value: bytes) -> str:
    local, _, domain = value.decode("ascii").partition("@")
    return f"{local[0]}***@{domain}"


def secret(*prefixes: bytes) -> Callable[[bytes], str]:
    """The token's kind (the fixed, public prefix it starts with) and its length; none of its body."""

    def masked(value: bytes) -> str:
        prefix = next((p for p in prefixes if value.startswith(p)), b"")
        return f"{prefix.decode('ascii')}{HIDDEN}({len(value)} chars)"

    return masked


def length_only(value: bytes) -> str:
    return f"{HIDDEN}({len(value.decode('utf-8', 'replace'))} chars)"


def header_line(value: bytes) -> str:
    return value.decode("ascii")
