"""PDF: the text of each page, in order, with pypdf (pure Python, BSD).

The file is read through an open handle, not loaded whole (pypdf reads a path into memory). A page
pypdf cannot read is skipped so the rest still reaches the detectors; the outcome then says how many
were lost. Encryption: the empty user password opens most "protected" PDFs (they restrict printing
or copying, not opening); anything else is recorded as `encrypted`.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from boxcasb.inspect.extract.limits import ExtractLimits
from boxcasb.inspect.extract.outcome import ExtractionFailed, Failure
from boxcasb.inspect.extract.output import Pieces

# pypdf decrypts AES with the `cryptography` package; the layer may not have it.
_AES_UNAVAILABLE = "AES encryption needs the cryptography package, which is not installed"


def _reader(file: BinaryIO) -> PdfReader:
    try:
        reader = PdfReader(file)
    except PyPdfError as exc:
        raise ExtractionFailed(Failure.MALFORMED, f"not a readable PDF ({type(exc).__name__})") from exc
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except DependencyError as exc:
            raise ExtractionFailed(Failure.ENCRYPTED, _AES_UNAVAILABLE) from exc
        if opened == PasswordType.NOT_DECRYPTED:
            raise ExtractionFailed(Failure.ENCRYPTED, "a password is needed to open it")
    return reader


def pdf_pieces(path: Path, limits: ExtractLimits) -> Pieces:
    with path.open("rb") as file:
        reader = _reader(file)
        try:
            pages = len(reader.pages)
        except PyPdfError as exc:
            raise ExtractionFailed(
                Failure.MALFORMED, f"no readable page tree ({type(exc).__name__})"
            ) from exc
        lost: list[str] = []
        for number in range(pages):
            try:
                text = reader.pages[number].extract_text()
            except DependencyError as exc:
                raise ExtractionFailed(Failure.ENCRYPTED, _AES_UNAVAILABLE) from exc
            except MemoryError:
                raise
            except Exception as exc:  # one broken page must not hide the others
                lost.append(type(exc).__name__)
                continue
            if text:
                yield text + "\n"
        if lost:
            raise ExtractionFailed(
                Failure.MALFORMED, f"{len(lost)} of {pages} pages could not be read ({lost[0]})"
            )
