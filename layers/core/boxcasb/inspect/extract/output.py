"""From an extractor's pieces of text to the sink's chunks: batched, cut at the output limit, and
stopped at the deadline. The same loop runs in process and in the isolated child."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator

from boxcasb.inspect.extract.outcome import ExtractionFailed, Failure, error_of

# A sink call costs the same for 10 characters as for 100,000; and the child's pipe frames too.
CHUNK_CHARS = 128 * 1024

type Pieces = Generator[str]
"""An extractor's text, in pieces of any size; closing it releases the file."""


class Chunker:
    def __init__(self, max_chars: int, deadline: float, chunk_chars: int = CHUNK_CHARS) -> None:
        self._room = max_chars
        self._deadline = deadline
        self._chunk_chars = chunk_chars
        self.truncated = False

    def chunks(self, pieces: Iterator[str]) -> Iterator[str]:
        """Chunks of exactly `chunk_chars`, but the last."""
        parts: list[str] = []
        size = 0
        try:
            for piece in pieces:
                if time.monotonic() > self._deadline:
                    raise ExtractionFailed(Failure.TIMEOUT, "the time limit ran out")
                part = piece
                if len(part) > self._room:
                    part = part[: self._room]
                    self.truncated = True
                self._room -= len(part)
                parts.append(part)
                size += len(part)
                if self.truncated:
                    break
                if size >= self._chunk_chars:
                    text = "".join(parts)
                    whole = size - size % self._chunk_chars
                    yield from self._slices(text[:whole])
                    parts = [text[whole:]]
                    size -= whole
        except Exception:
            yield from self._slices("".join(parts))  # the text before a failure still counts
            raise
        yield from self._slices("".join(parts))

    def _slices(self, text: str) -> Iterator[str]:
        for start in range(0, len(text), self._chunk_chars):
            yield _encodable(text[start : start + self._chunk_chars])


def _encodable(text: str) -> str:
    """Lone surrogates (from JSON escapes, broken PDF font maps) become "?", so every sink and the
    child's pipe can encode the text as UTF-8."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode()
    return text


def drive(
    produce: Callable[[], Pieces], emit: Callable[[str], None], max_chars: int, deadline: float
) -> tuple[bool, str | None]:
    """Run an extractor to its end, its failure, the output limit or the deadline: (truncated, error).

    Only the extractor's exceptions become errors: one from `emit` (the sink) is the caller's and
    propagates.
    """
    chunker = Chunker(max_chars, deadline)
    pieces = produce()
    try:
        chunks = chunker.chunks(pieces)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return chunker.truncated, None
            except Exception as exc:  # a parser's failure on a hostile file is an outcome
                return chunker.truncated, error_of(exc)
            emit(chunk)
    finally:
        pieces.close()
