"""JSON: its keys, string values and numbers, one per line, read block by block.

Not `json.loads`: that needs the whole file and all its objects in memory at once. Detectors need
the values, not the structure, so a tokenizer over the decoded blocks is enough. It keeps only an
unfinished token between blocks, and lets a giant string out in parts, so memory stays bounded on
any input; malformed JSON gives whatever strings and numbers it has (JSON Lines too).
"""

from __future__ import annotations

import re
from json import JSONDecoder
from pathlib import Path

from boxcasb.inspect.extract.limits import ExtractLimits
from boxcasb.inspect.extract.output import Pieces
from boxcasb.inspect.extract.plain import decoded_blocks

# The body of a string up to its closing quote, escapes included; it stops early only at a
# backslash that ends the text (the escaped character is in the next block).
_STRING_BODY = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_TOKEN_START = re.compile(r'"|-?[0-9]')
_NUMBER = re.compile(r"-?[0-9][0-9.eE+-]*")
MAX_STRING_PART = 1024 * 1024
_MAX_NUMBER = 1024  # longer digit runs are not numbers anyone wrote; they go out as they are


_STRINGS = JSONDecoder(strict=False)  # control characters inside strings are common in the wild


def _unescape(raw: str) -> str:
    if "\\" not in raw:
        return raw
    try:
        return str(_STRINGS.decode(f'"{raw}"'))
    except ValueError:  # an invalid escape, or a part that ends inside one: keep it as written
        return raw


class JsonTokens:
    def __init__(self) -> None:
        self._carry = ""  # what the last block ended with that the next one completes
        self._in_string = False
        self._string: list[str] = []
        self._string_len = 0

    def feed(self, block: str) -> list[str]:
        text, self._carry = self._carry + block, ""
        tokens: list[str] = []
        pos, end = 0, len(text)
        while pos < end:
            if self._in_string:
                body = _STRING_BODY.match(text, pos)
                assert body is not None  # it matches the empty string
                stop = body.end()
                self._string.append(text[pos:stop])
                self._string_len += stop - pos
                if stop < end and text[stop] == '"':
                    tokens.append(self._take_string())
                    self._in_string = False
                    pos = stop + 1
                    continue
                self._carry = text[stop:]  # "" or the lone backslash
                if self._string_len > MAX_STRING_PART:
                    tokens.append(self._take_string())
                break
            start = _TOKEN_START.search(text, pos)
            if start is None:
                if text.endswith("-"):
                    self._carry = "-"  # a sign whose digits are in the next block
                break
            if start.group() == '"':
                self._in_string = True
                pos = start.end()
                continue
            number = _NUMBER.match(text, start.start())
            assert number is not None  # _TOKEN_START found its first digit
            if number.end() == end and len(number.group()) < _MAX_NUMBER:
                self._carry = number.group()  # the number may go on in the next block
                break
            tokens.append(number.group())
            pos = number.end()
        return tokens

    def finish(self) -> list[str]:
        """The unfinished token at the end of the file (a cut-off string still has text)."""
        if self._in_string:
            self._string.append(self._carry)
            return [self._take_string()]
        return [self._carry] if self._carry else []

    def _take_string(self) -> str:
        text = _unescape("".join(self._string))
        self._string.clear()
        self._string_len = 0
        return text


def json_pieces(path: Path, limits: ExtractLimits) -> Pieces:
    tokens = JsonTokens()
    for block in decoded_blocks(path):
        found = tokens.feed(block)
        if found:
            yield "\n".join(found) + "\n"
    rest = tokens.finish()
    if rest:
        yield "\n".join(rest) + "\n"
