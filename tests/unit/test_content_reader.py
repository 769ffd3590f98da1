"""ContentReader over a fake Box: Box's own text for PDF and Office files when it has it, the file
itself otherwise and for text files, the limits either way, and masked samples only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from boxcasb.errors import ContentTooLarge
from boxcasb.inspect.content import ContentReader
from boxcasb.inspect.extract import ExtractLimits
from boxcasb.scan.model import ListedFile
from tests.support.documents import CARD, make_pdf

AS_USER = "20000003"
OTHER_CARD = "5555 5555 5555 4444"


@dataclass
class Box:
    """Files by id; Box's text of some of them. Writes what fits before refusing, as a stream does."""

    files: dict[str, bytes] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)

    def download(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> int:
        self.calls.append(("download", file_id, as_user))
        return _write(self.files[file_id], into, max_bytes)

    def extracted_text(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> bool:
        self.calls.append(("extracted_text", file_id, as_user))
        text = self.texts.get(file_id)
        if text is None:
            return False
        _write(text.encode(), into, max_bytes)
        return True


def _write(data: bytes, into: IO[bytes], max_bytes: int) -> int:
    into.write(data[:max_bytes])
    if len(data) > max_bytes:
        raise ContentTooLarge(f"over {max_bytes} bytes")
    return len(data)


def listed(name: str, size: int, file_id: str = "7") -> ListedFile:
    return ListedFile(id=file_id, name=name, parent_id="5", path="/Docs", size=size, sha1="a" * 40)


def read(box: Box, file: ListedFile, limits: ExtractLimits | None = None, tmp: Path | None = None) -> Any:
    return ContentReader(limits or ExtractLimits(), workdir=tmp).read(box, file, AS_USER, {})


@pytest.fixture
def pdf(tmp_path: Path) -> bytes:
    return make_pdf(tmp_path / "cards.pdf", [f"Paid by card {CARD}."]).read_bytes()


@pytest.mark.parametrize("name", ["scan.pdf", "Q3 report.docx", "deck.pptx", "budget.xlsx", "BUDGET.XLSM"])
def test_documents_are_read_from_box_text_when_box_has_it(name: str) -> None:
    text = f"Order 1: {CARD}\nOrder 2: {OTHER_CARD}\n"
    box = Box(files={"7": b"never downloaded"}, texts={"7": text})
    summary = read(box, listed(name, 10_000))
    assert box.calls == [("extracted_text", "7", AS_USER)]
    assert (summary.source, summary.counts, summary.chars) == (
        "extracted_text",
        {"credit_card": 2},
        len(text),
    )
    assert (summary.error, summary.truncated, summary.sha1) == (None, False, "a" * 40)


def test_without_box_text_the_document_is_downloaded_and_parsed(pdf: bytes) -> None:
    box = Box(files={"7": pdf})
    summary = read(box, listed("cards.pdf", len(pdf)))
    assert box.calls == [("extracted_text", "7", AS_USER), ("download", "7", AS_USER)]
    assert (summary.source, summary.counts, summary.error) == ("content", {"credit_card": 1}, None)


@pytest.mark.parametrize(
    "name", ["notes.txt", "export.csv", "events.json", "README.md", "page.html", ".env", "id_rsa.pem"]
)
def test_text_files_are_downloaded_without_asking_for_box_text(name: str) -> None:
    content = json.dumps({"card": CARD})  # text to every one of these kinds, JSON included
    box = Box(files={"7": content.encode()}, texts={"7": "Box's text is never asked for"})
    summary = read(box, listed(name, len(content)))
    assert box.calls == [("download", "7", AS_USER)]
    assert (summary.source, summary.counts) == ("content", {"credit_card": 1})


def test_box_text_over_the_limit_falls_back_to_the_file(pdf: bytes, tmp_path: Path) -> None:
    limits = ExtractLimits(max_input_bytes=len(pdf) + 100)
    # The first bytes of Box's text reach the temporary file before the limit stops it: they must
    # not end up in front of the downloaded PDF.
    box = Box(files={"7": pdf}, texts={"7": f"{OTHER_CARD} " * (len(pdf) // 10)})
    workdir = tmp_path / "work"
    workdir.mkdir()
    summary = read(box, listed("cards.pdf", len(pdf)), limits, workdir)
    assert box.calls == [("extracted_text", "7", AS_USER), ("download", "7", AS_USER)]
    assert (summary.source, summary.counts, summary.error) == ("content", {"credit_card": 1}, None)
    assert list(workdir.iterdir()) == []  # the temporary file is gone


def test_a_file_listed_over_the_limit_is_not_fetched_at_all() -> None:
    box = Box(texts={"7": CARD})
    summary = read(box, listed("scan.pdf", 2_000), ExtractLimits(max_input_bytes=1_000))
    assert box.calls == []
    assert summary.error == "too_large: 2000 bytes, the limit is 1000"


def test_a_download_over_the_limit_is_too_large_whatever_the_listing_said() -> None:
    box = Box(files={"7": b"x" * 2_000})  # the listing claims 10 bytes
    summary = read(box, listed("scan.pdf", 10), ExtractLimits(max_input_bytes=1_000))
    assert box.calls == [("extracted_text", "7", AS_USER), ("download", "7", AS_USER)]
    assert (summary.error, summary.counts) == ("too_large: over 1000 bytes", {})


def test_box_text_keeps_the_output_limit() -> None:
    text = f"{CARD}\n" + "word " * 1_000 + f"\n{OTHER_CARD}\n"
    box = Box(texts={"7": text})
    summary = read(box, listed("scan.pdf", 10_000), ExtractLimits(max_output_chars=100))
    assert (summary.source, summary.chars, summary.truncated) == ("extracted_text", 100, True)
    assert summary.counts == {"credit_card": 1}  # the second card is past the limit


def test_only_masked_samples_are_kept() -> None:
    raw = (CARD, OTHER_CARD)
    box = Box(texts={"7": f"first {raw[0]} then {raw[1]}"})
    summary = read(box, listed("scan.pdf", 10_000))
    stored = json.dumps(summary.model_dump())
    assert summary.samples["credit_card"]
    for value in raw:
        assert value not in stored
        assert value.replace(" ", "") not in stored
    assert all("1111" in s or "4444" in s for s in summary.samples["credit_card"])


def test_a_kind_without_text_is_neither_fetched_nor_asked_for() -> None:
    box = Box(texts={"7": CARD})
    summary = read(box, listed("logo.png", 100))
    assert (box.calls, summary.source, summary.counts) == ([], "none", {})
