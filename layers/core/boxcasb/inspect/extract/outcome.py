"""What an extraction ends with: how much text went to the sink and, when it stopped early, why.

Errors are recorded, never raised: a file that defeats a parser is a fact about the file. Messages
name parts, sizes and exception types, never text from the file, since outcomes get stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from boxcasb.inspect.extract.kinds import Kind


class Failure(StrEnum):
    TOO_LARGE = "too_large"  # over max_input_bytes: not opened
    UNREADABLE = "unreadable"  # the local file could not be read
    ZIP_BOMB = "zip_bomb"  # an Office file expands beyond the limits
    ENCRYPTED = "encrypted"  # a PDF that needs a password (or a crypto package we lack)
    UNSUPPORTED = "unsupported"  # a container we do not open (a legacy or password-protected Office file)
    MALFORMED = "malformed"  # not a valid file of its kind
    PARSER_ERROR = "parser_error"  # a parser failed in a way it does not document
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASHED = "crashed"  # the isolated child died without a word (a signal, an exit) or never started


class ExtractionFailed(Exception):
    """Raised inside extractors for a failure they recognise; ends as the outcome's error."""

    def __init__(self, failure: Failure, message: str) -> None:
        super().__init__(f"{failure}: {message}")
        self.failure = failure


def error_of(exc: BaseException) -> str:
    """The outcome's error for an exception out of a parser."""
    if isinstance(exc, ExtractionFailed):
        return str(exc)
    if isinstance(exc, MemoryError):
        return f"{Failure.MEMORY}: a parser ran out of memory"
    if isinstance(exc, RecursionError):
        return f"{Failure.MALFORMED}: structure nested too deep"
    if isinstance(exc, OSError):
        return f"{Failure.UNREADABLE}: {exc.strerror or type(exc).__name__}"
    # Any other exception's message may quote the file; its type is enough to reproduce.
    return f"{Failure.PARSER_ERROR}: {type(exc).__module__}.{type(exc).__qualname__}"


@dataclass(frozen=True)
class ExtractionOutcome:
    kind: Kind
    chars: int
    """Characters handed to the sink (all of them, also when an error stopped the extraction)."""
    truncated: bool
    """max_output_chars was reached: the sink got the file's first characters only."""
    error: str | None
    """`<failure>: <message>`, e.g. "zip_bomb: word/document.xml declares 1000x its compressed size"."""
    seconds: float

    @property
    def failure(self) -> Failure | None:
        return None if self.error is None else Failure(self.error.partition(":")[0])

    @property
    def complete(self) -> bool:
        """Every character of the file reached the sink."""
        return self.error is None and not self.truncated
