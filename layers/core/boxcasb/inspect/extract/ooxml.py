"""DOCX, XLSX and PPTX: the text of their XML parts, parsed as a stream.

No python-docx, openpyxl or python-pptx: they load whole documents into object trees. Here an
expat parser with a target keeps no tree at all, only the text on its way out (and, for a workbook,
its table of shared strings). defusedxml refuses any DTD, hence entity expansion: Office files never
carry one. Elements are matched by local name, so strict OOXML namespaces work as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from boxcasb.inspect.extract.archive import GuardedZip
from boxcasb.inspect.extract.limits import ExtractLimits
from boxcasb.inspect.extract.outcome import ExtractionFailed, Failure
from boxcasb.inspect.extract.output import Pieces


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class _Target(Protocol):
    """An ElementTree parser target that also hands over the text gathered so far."""

    def start(self, tag: str, attrib: dict[str, str]) -> None: ...
    def end(self, tag: str) -> None: ...
    def data(self, data: str) -> None: ...
    def close(self) -> None: ...
    def take(self) -> str: ...


class _Gathered:
    def __init__(self) -> None:
        self._parts: list[str] = []

    def close(self) -> None:
        return None

    def take(self) -> str:
        text = "".join(self._parts)
        self._parts.clear()
        return text


class _Text(_Gathered):
    """Character data inside the `text` elements; a line break after each `lines` element."""

    def __init__(
        self,
        text: frozenset[str],
        lines: frozenset[str],
        breaks: frozenset[str] = frozenset(),
        tabs: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__()
        self._text, self._lines, self._breaks, self._tabs = text, lines, breaks, tabs
        self._inside = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = _local(tag)
        if name in self._text:
            self._inside += 1
        elif name in self._breaks:
            self._parts.append("\n")
        elif name in self._tabs:
            self._parts.append("\t")

    def end(self, tag: str) -> None:
        name = _local(tag)
        if name in self._text:
            self._inside -= 1
        elif name in self._lines:
            self._parts.append("\n")

    def data(self, data: str) -> None:
        if self._inside:
            self._parts.append(data)


class _SharedStrings(_Text):
    """xl/sharedStrings.xml: the workbook's strings, which cells refer to by index. It hands out no
    text of its own; the cells do."""

    def __init__(self) -> None:
        super().__init__(text=frozenset({"t"}), lines=frozenset())
        self.strings: list[str] = []

    def end(self, tag: str) -> None:
        super().end(tag)
        if _local(tag) == "si":
            self.strings.append(super().take())

    def take(self) -> str:
        return ""


class _Cells(_Gathered):
    """A worksheet: cell values in row order, tab between cells, a line per row. Formulas are skipped:
    their cached value is in the cell."""

    def __init__(self, shared: list[str], shown: bytearray) -> None:
        super().__init__()
        self._shared = shared
        self._shown = shown
        self._shared_cell = False
        self._value: list[str] = []
        self._in_value = False

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = _local(tag)
        if name == "c":
            self._shared_cell = attrib.get("t") == "s"
        elif name in ("v", "t"):
            self._in_value = True

    def end(self, tag: str) -> None:
        name = _local(tag)
        if name in ("v", "t"):
            self._in_value = False
            value = "".join(self._value)
            self._value.clear()
            self._parts.append(self._lookup(value) if self._shared_cell and name == "v" else value)
        elif name == "c":
            self._parts.append("\t")
        elif name == "row":
            self._parts.append("\n")

    def data(self, data: str) -> None:
        if self._in_value:
            self._value.append(data)

    def _lookup(self, index: str) -> str:
        try:
            position = int(index)
            text = self._shared[position]
        except (ValueError, IndexError):  # a dangling reference shows nothing, as in Excel
            return ""
        self._shown[position] = 1
        return text


def _parse(archive: GuardedZip, part: str, target: _Target) -> Iterator[str]:
    """The part's text as it is parsed; on an XML error, the text before it, then the error."""
    parser = DefusedXMLParser(target=target, forbid_dtd=True)
    failure: ExtractionFailed | None = None
    try:
        for block in archive.blocks(part):
            parser.feed(block)
            text = target.take()
            if text:
                yield text
        parser.close()
    except ParseError as exc:
        line, column = exc.position
        failure = ExtractionFailed(
            Failure.MALFORMED, f"{part}: not well-formed XML (line {line}, column {column})"
        )
    except DefusedXmlException:
        failure = ExtractionFailed(Failure.MALFORMED, f"{part}: declares a DTD or entities, refused")
    text = target.take()
    if text:
        yield text
    if failure is not None:
        raise failure


def _natural(name: str) -> tuple[str, list[int]]:
    """slide2 before slide10."""
    return re.sub(r"\d+", "#", name), [int(number) for number in re.findall(r"\d+", name)]


def _parts(names: list[str], pattern: str, order: tuple[str, ...] = ()) -> list[str]:
    """The names matching `pattern`: grouped by the first prefix in `order` they start with (the
    rest last), in natural order within a group."""

    def key(name: str) -> tuple[int, tuple[str, list[int]]]:
        group = next((i for i, prefix in enumerate(order) if name.startswith(prefix)), len(order))
        return group, _natural(name)

    found = re.compile(pattern)
    return sorted((name for name in names if found.fullmatch(name)), key=key)


def _require(names: list[str], part: str, kind: str) -> None:
    if part not in names:
        raise ExtractionFailed(Failure.MALFORMED, f"not a {kind}: no {part}")


_WORD_PARTS = r"word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml"
_WORD_ORDER = ("word/document", "word/header", "word/footer", "word/footnotes", "word/endnotes")


def docx_pieces(path: Path, limits: ExtractLimits) -> Pieces:
    """The body, then headers, footers, foot- and endnotes, comments. Deleted text (tracked changes)
    counts: it is still in the file."""
    with GuardedZip(path, limits) as archive:
        names = archive.names()
        _require(names, "word/document.xml", "DOCX")
        parts = _parts(names, _WORD_PARTS, _WORD_ORDER)
        archive.plan(parts)
        for part in parts:
            target = _Text(
                text=frozenset({"t", "delText"}),
                lines=frozenset({"p"}),
                breaks=frozenset({"br", "cr"}),
                tabs=frozenset({"tab"}),
            )
            yield from _parse(archive, part, target)


def xlsx_pieces(path: Path, limits: ExtractLimits) -> Pieces:
    """Every sheet's cells, then comments, then shared strings no cell shows (left over from
    deleted cells, still in the file)."""
    with GuardedZip(path, limits) as archive:
        names = archive.names()
        _require(names, "xl/workbook.xml", "XLSX")
        sheets = _parts(names, r"xl/worksheets/[^/]+\.xml")
        comments = _parts(names, r"xl/comments[^/]*\.xml")
        shared_part = _parts(names, r"xl/sharedStrings\.xml")
        archive.plan(shared_part + sheets + comments)
        table = _SharedStrings()
        for part in shared_part:
            for _ in _parse(archive, part, table):
                pass  # the table fills up; it yields nothing
        shown = bytearray(len(table.strings))
        for part in sheets:
            yield from _parse(archive, part, _Cells(table.strings, shown))
        for part in comments:
            yield from _parse(archive, part, _Text(text=frozenset({"t"}), lines=frozenset({"comment"})))
        unseen = [text for text, seen in zip(table.strings, shown, strict=True) if not seen and text]
        if unseen:
            yield "\n".join(unseen) + "\n"


_SLIDE_PARTS = r"ppt/(slides/slide|notesSlides/notesSlide)\d+\.xml|ppt/comments/[^/]+\.xml"
_SLIDE_ORDER = ("ppt/slides/", "ppt/notesSlides/")


def pptx_pieces(path: Path, limits: ExtractLimits) -> Pieces:
    """Slides in order, then speaker notes, then comments."""
    with GuardedZip(path, limits) as archive:
        names = archive.names()
        _require(names, "ppt/presentation.xml", "PPTX")
        parts = _parts(names, _SLIDE_PARTS, _SLIDE_ORDER)
        archive.plan(parts)
        for part in parts:
            target = _Text(
                text=frozenset({"t", "text"}), lines=frozenset({"p", "cm"}), breaks=frozenset({"br"})
            )
            yield from _parse(archive, part, target)
