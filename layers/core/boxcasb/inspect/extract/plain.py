"""Text files (plain, CSV, Markdown, and the decoding under JSON and HTML), read in blocks.

The encoding: a byte order mark says it; without one, UTF-8 if the file's first block is valid
UTF-8 (a later bad byte becomes U+FFFD), else Latin-1, which decodes any byte: digits and ASCII
letters, what detectors look for, come out right either way.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from boxcasb.inspect.extract.limits import ExtractLimits
from boxcasb.inspect.extract.output import Pieces

BLOCK_BYTES = 256 * 1024

# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def sniff(head: bytes, declared: str | None = None) -> tuple[str, int]:
    """(encoding, length of its byte order mark) for a file starting with `head`.

    `declared` (an HTML meta charset) is taken when there is no mark and Python knows the codec.
    """
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    if declared is not None:
        try:
            return codecs.lookup(declared).name, 0
        except LookupError:
            pass
    try:
        # Not final: the block may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "latin-1", 0
    return "utf-8", 0


def decoded_blocks(path: Path, declared: str | None = None) -> Iterator[str]:
    """The file's text, one decoded block at a time; the file is never read whole."""
    with path.open("rb") as file:
        head = file.read(BLOCK_BYTES)
        encoding, bom = sniff(head, declared)
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        block = head[bom:]
        while block:
            text = decoder.decode(block)
            if text:
                yield text
            block = file.read(BLOCK_BYTES)
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail


def text_pieces(path: Path, limits: ExtractLimits) -> Pieces:
    """Plain text, CSV and Markdown: the text as it is. Detectors read CSV rows and Markdown as well
    as prose, and any reshaping would cost a copy of every character."""
    yield from decoded_blocks(path)
