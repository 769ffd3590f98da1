"""`extract_text`: one file's text to a sink, whatever the file does to its parser."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

from boxcasb.inspect.extract.isolation import run_in_process, run_isolated
from boxcasb.inspect.extract.json_text import json_pieces
from boxcasb.inspect.extract.kinds import Kind
from boxcasb.inspect.extract.limits import DEFAULT_LIMITS, ExtractLimits
from boxcasb.inspect.extract.markup import html_pieces
from boxcasb.inspect.extract.ooxml import docx_pieces, pptx_pieces, xlsx_pieces
from boxcasb.inspect.extract.outcome import ExtractionOutcome, Failure
from boxcasb.inspect.extract.output import Pieces
from boxcasb.inspect.extract.pdf import pdf_pieces
from boxcasb.inspect.extract.plain import text_pieces

# Every parser is imported here, before any fork: a child starts with them loaded.
EXTRACTORS: dict[Kind, Callable[[Path, ExtractLimits], Pieces]] = {
    Kind.TEXT: text_pieces,
    Kind.CSV: text_pieces,
    Kind.MARKDOWN: text_pieces,
    Kind.JSON: json_pieces,
    Kind.HTML: html_pieces,
    Kind.DOCX: docx_pieces,
    Kind.XLSX: xlsx_pieces,
    Kind.PPTX: pptx_pieces,
    Kind.PDF: pdf_pieces,
}


def extract_text(
    path: Path,
    kind: Kind,
    sink: Callable[[str], None],
    limits: ExtractLimits = DEFAULT_LIMITS,
    isolated: bool = True,
) -> ExtractionOutcome:
    """Send the text of the file at `path` to `sink`, in order, in chunks of CHUNK_CHARS (128 Ki)
    characters but the last.

    Never raises for anything the file does (size, format, bombs, timeouts, memory, parser crashes):
    that ends in the outcome's `error`, after the text that came before it (isolated, the text of a
    chunk not yet full when the child is killed or dies is lost with it). An exception from the
    sink itself propagates. `isolated=False` runs the parser in this process, without the memory
    cap and with the deadline checked only between pieces of text: for tests and trusted files.
    """
    started = time.monotonic()

    def outcome(chars: int, truncated: bool, error: str | None) -> ExtractionOutcome:
        return ExtractionOutcome(kind, chars, truncated, error, time.monotonic() - started)

    try:
        size = path.stat().st_size
    except OSError as exc:
        return outcome(0, False, f"{Failure.UNREADABLE}: {exc.strerror}")
    if size > limits.max_input_bytes:
        return outcome(0, False, f"{Failure.TOO_LARGE}: {size} bytes (limit {limits.max_input_bytes})")
    produce = functools.partial(EXTRACTORS[kind], path, limits)
    run = run_isolated if isolated else run_in_process
    result = run(produce, sink, limits)
    return outcome(result.chars, result.truncated, result.error)
