"""HTML: the text a reader sees, plus the attributes that carry text, without scripts and styles.

The standard library's parser, fed block by block: HTML5-tolerant, no dependency. Its one weak spot
is a construct that never ends (an unclosed tag or comment over megabytes): it keeps the rest of the
input and scans it again on every feed. Feeding it at least as much as it holds makes the work per
character constant again, at the price of holding that construct in memory (bounded by the child's
memory cap).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from boxcasb.inspect.extract.limits import ExtractLimits
from boxcasb.inspect.extract.output import Pieces
from boxcasb.inspect.extract.plain import decoded_blocks

_HIDDEN = frozenset({"script", "style"})
# Elements that separate words visually: a line break keeps "<td>4111</td><td>1111</td>" apart.
# fmt: off
_BREAKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
    "figcaption", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
    "nav", "ol", "option", "p", "pre", "section", "table", "td", "th", "title", "tr", "ul",
})
# fmt: on
# Attributes people put data in: form values, image descriptions, tooltips, meta content, links
# (which may hold tokens in their query). Inline data: URLs are images, not text.
_TEXT_ATTRIBUTES = frozenset({"alt", "title", "value", "placeholder", "content", "href"})
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_CHARSET_WINDOW = 4096


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden = tag
        elif tag in _BREAKS:
            self.parts.append("\n")
        for name, value in attrs:
            if value and name in _TEXT_ATTRIBUTES and not value.startswith("data:"):
                self.parts.append(f" {value}\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._hidden:
            self._hidden = None
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._hidden is None:
            self.parts.append(data)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def declared_charset(path: Path) -> str | None:
    with path.open("rb") as file:
        found = _META_CHARSET.search(file.read(_CHARSET_WINDOW))
    if found is None:
        return None
    charset = found.group(1).decode("ascii").lower()
    # A meta tag readable as ASCII is not UTF-16 or UTF-32, whatever it says (as browsers rule).
    return None if charset.startswith(("utf-16", "utf-32")) else charset


def html_pieces(path: Path, limits: ExtractLimits) -> Pieces:
    parser = _TextParser()
    pending: list[str] = []
    pending_chars = 0
    for block in decoded_blocks(path, declared_charset(path)):
        pending.append(block)
        pending_chars += len(block)
        if pending_chars < len(parser.rawdata):
            continue
        parser.feed("".join(pending))
        pending.clear()
        pending_chars = 0
        text = parser.take()
        if text:
            yield text
    parser.feed("".join(pending))
    parser.close()
    text = parser.take()
    if text:
        yield text
