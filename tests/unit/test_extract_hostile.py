"""Malformed and hostile files end in a recorded error (and whatever text came before), never a crash."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from boxcasb.inspect.extract import ExtractionOutcome, ExtractLimits, Failure, Kind, extract_text
from boxcasb.inspect.extract.archive import GRACE_BYTES
from tests.support.documents import (
    CARD,
    SENTENCE,
    billion_laughs,
    make_docx,
    make_pdf,
    make_raw_pdf,
    make_zip,
    replace_part,
    rewrite_sizes,
    word_document,
)

Extracted = tuple[str, ExtractionOutcome]
BOMB_BYTES = 20 * 1024 * 1024


@pytest.fixture(params=[True, False], ids=["isolated", "in-process"])
def extract(request: pytest.FixtureRequest) -> Callable[..., Extracted]:
    def run(path: Path, kind: Kind, limits: ExtractLimits | None = None) -> Extracted:
        chunks: list[str] = []
        outcome = extract_text(path, kind, chunks.append, limits or ExtractLimits(), isolated=request.param)
        assert outcome.chars == sum(map(len, chunks))
        return "".join(chunks), outcome

    return run


def spaces_document(size: int) -> bytes:
    """Valid word/document.xml of about `size` bytes that deflate shrinks about 1000 times."""
    return word_document(f"<w:p><w:r><w:t>{SENTENCE}</w:t></w:r></w:p>" + " " * size)


def test_zip_bomb_is_refused_from_its_declared_ratio(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    path = make_zip(tmp_path / "bomb.docx", {"word/document.xml": b"\0" * BOMB_BYTES})
    assert path.stat().st_size < BOMB_BYTES / 500
    text, outcome = extract(path, Kind.DOCX)
    assert text == ""
    assert outcome.failure is Failure.ZIP_BOMB
    assert outcome.error is not None
    assert outcome.error.startswith("zip_bomb: word/document.xml declares ")
    assert outcome.error.endswith("x its compressed size (limit 200x)")


def test_zip_that_understates_a_size_stops_there_and_fails_its_crc(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    path = make_zip(tmp_path / "liar.docx", {"word/document.xml": spaces_document(BOMB_BYTES)})
    rewrite_sizes(path, "word/document.xml", file_size=100)
    text, outcome = extract(path, Kind.DOCX)
    assert text == ""
    assert outcome.error == "malformed: word/document.xml: Bad CRC-32 for file 'word/document.xml'"


def test_zip_that_overstates_a_compressed_size_is_refused(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    path = make_zip(tmp_path / "liar.docx", {"word/document.xml": spaces_document(BOMB_BYTES)})
    rewrite_sizes(path, "word/document.xml", compress_size=BOMB_BYTES)  # declared ratio: about 1
    text, outcome = extract(path, Kind.DOCX)
    assert text == ""
    assert outcome.error == (
        "malformed: word/document.xml: Overlapped entries: 'word/document.xml' (possible zip bomb)"
    )


def test_small_parts_that_add_up_to_a_bomb_are_stopped_by_the_bytes_read(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    headers = {f"word/header{n}.xml": spaces_document(GRACE_BYTES // 2) for n in range(1, 41)}
    path = make_zip(tmp_path / "many.docx", {"word/document.xml": word_document("")} | headers)
    text, outcome = extract(path, Kind.DOCX)
    assert outcome.error is not None
    assert outcome.error.startswith("zip_bomb: the parts read expand to ")
    assert outcome.error.endswith("x the file's size (limit 200x)")
    assert 0 < text.count(SENTENCE) < 20  # stopped at 200x the file's size, long before the 40th part


def test_zip_within_the_ratio_but_over_the_uncompressed_limit(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    path = make_docx(tmp_path / "a.docx", [SENTENCE])
    text, outcome = extract(path, Kind.DOCX, ExtractLimits(max_uncompressed_bytes=100))
    assert text == ""
    assert outcome.error is not None
    assert outcome.error.startswith("zip_bomb: the parts to read declare ")


def test_zip_with_too_many_entries(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    parts = {"word/document.xml": word_document("")} | {f"junk/{n}": b"" for n in range(20)}
    _, outcome = extract(
        make_zip(tmp_path / "many.docx", parts), Kind.DOCX, ExtractLimits(max_archive_members=20)
    )
    assert outcome.error == "zip_bomb: 21 zip entries, over the limit of 20"


def test_zip_part_with_a_compression_office_does_not_write(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    path = make_zip(tmp_path / "bz.docx", {"word/document.xml": word_document("")}, method=zipfile.ZIP_BZIP2)
    _, outcome = extract(path, Kind.DOCX)
    assert (
        outcome.error
        == "unsupported: word/document.xml uses zip compression method 12, which Office does not write"
    )


def test_billion_laughs_docx_is_refused_without_expanding(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    path = replace_part(
        make_docx(tmp_path / "a.docx", [SENTENCE]),
        tmp_path / "lol.docx",
        "word/document.xml",
        billion_laughs(),
    )
    text, outcome = extract(path, Kind.DOCX)
    assert text == ""
    assert outcome.error == "malformed: word/document.xml: declares a DTD or entities, refused"


def test_external_entity_docx_is_refused(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    xxe = word_document(
        "<w:p><w:r><w:t>&x;</w:t></w:r></w:p>",
        prolog='<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    )
    _, outcome = extract(make_zip(tmp_path / "xxe.docx", {"word/document.xml": xxe}), Kind.DOCX)
    assert outcome.error == "malformed: word/document.xml: declares a DTD or entities, refused"


def test_broken_xml_keeps_the_text_before_the_break(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    broken = word_document(f"<w:p><w:r><w:t>{CARD}</w:t></w:r></w:p>")[:-30]
    text, outcome = extract(make_zip(tmp_path / "cut.docx", {"word/document.xml": broken}), Kind.DOCX)
    assert text == CARD
    assert outcome.error is not None
    assert outcome.error.startswith("malformed: word/document.xml: not well-formed XML (line 1")


@pytest.mark.parametrize(
    ("data", "kind", "error"),
    [
        (b"just some text", Kind.DOCX, "malformed: not a zip file (File is not a zip file)"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
            Kind.XLSX,
            "unsupported: an OLE compound file: a password-protected or a legacy (97-2003) Office file",
        ),
        (None, Kind.PPTX, "malformed: not a PPTX: no ppt/presentation.xml"),
        (None, Kind.XLSX, "malformed: not a XLSX: no xl/workbook.xml"),
        (b"%PDF-1.7 nothing more", Kind.PDF, "malformed: not a readable PDF (PdfStreamError)"),
        (b"<html>not a pdf</html>", Kind.PDF, "malformed: not a readable PDF (PdfStreamError)"),
        (b"", Kind.PDF, "malformed: not a readable PDF (EmptyFileError)"),
    ],
    ids=[
        "text-as-docx",
        "ole-as-xlsx",
        "docx-as-pptx",
        "empty-zip-as-xlsx",
        "pdf-header-only",
        "html-as-pdf",
        "empty-pdf",
    ],
)
def test_file_that_is_not_what_its_name_says(
    tmp_path: Path, extract: Callable[..., Extracted], data: bytes | None, kind: Kind, error: str
) -> None:
    path = tmp_path / f"file.{kind}"
    if data is None:
        make_zip(path, {"word/document.xml": word_document("")})
    else:
        path.write_bytes(data)
    assert extract(path, kind)[1].error == error


def test_truncated_pdf(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    whole = make_pdf(tmp_path / "whole.pdf", [f"{SENTENCE} {CARD} " * 20] * 5).read_bytes()
    (tmp_path / "cut.pdf").write_bytes(whole[: len(whole) * 9 // 10])
    _, outcome = extract(tmp_path / "cut.pdf", Kind.PDF)
    assert outcome.failure is Failure.MALFORMED


def test_pdf_page_that_breaks_the_parser_is_skipped_and_counted(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    def page(text: str) -> bytes:
        return f"BT /F1 10 Tf 30 800 Td ({text}) Tj ET".encode()

    nested = b"BT /F1 10 Tf " + b"[" * 5000 + b"(deep)" + b"]" * 5000 + b" TJ ET"
    path = make_raw_pdf(tmp_path / "broken.pdf", [page(CARD), nested, page(SENTENCE)])
    text, outcome = extract(path, Kind.PDF)
    assert text == f"{CARD}\n{SENTENCE}\n"
    assert outcome.error == "malformed: 1 of 3 pages could not be read (RecursionError)"


def test_file_over_the_size_limit_is_not_opened(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * 1001)
    text, outcome = extract(tmp_path / "big.txt", Kind.TEXT, ExtractLimits(max_input_bytes=1000))
    assert (text, outcome.error) == ("", "too_large: 1001 bytes (limit 1000)")


def test_missing_file(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    _, outcome = extract(tmp_path / "gone.pdf", Kind.PDF)
    assert outcome.error == "unreadable: No such file or directory"


@pytest.mark.parametrize("kind", [Kind.TEXT, Kind.DOCX])
def test_output_stops_at_the_char_limit_and_says_truncated(
    tmp_path: Path, extract: Callable[..., Extracted], kind: Kind
) -> None:
    lines = [f"{n:06d} {SENTENCE * 20}" for n in range(400)]
    path = tmp_path / f"long.{kind}"
    if kind is Kind.DOCX:
        make_docx(path, lines)
    else:
        path.write_text("\n".join(lines) + "\n")
    text, outcome = extract(path, kind, ExtractLimits(max_output_chars=300_001))
    assert (len(text), outcome.truncated, outcome.error, outcome.complete) == (300_001, True, None, False)
    assert text == ("\n".join(lines) + "\n")[:300_001]


def test_exactly_the_char_limit_is_not_truncated(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    (tmp_path / "a.txt").write_text("x" * 500)
    text, outcome = extract(tmp_path / "a.txt", Kind.TEXT, ExtractLimits(max_output_chars=500))
    assert (len(text), outcome.truncated) == (500, False)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout_seconds must be positive"):
        ExtractLimits(timeout_seconds=0)
