"""Text extraction, format by format, on real files: the known text comes out, in and out of isolation."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boxcasb.inspect.extract import ExtractionOutcome, ExtractLimits, Failure, Kind, extract_text, kind_of
from boxcasb.inspect.extract.archive import READ_BYTES
from boxcasb.inspect.extract.json_text import MAX_STRING_PART, JsonTokens
from boxcasb.inspect.extract.output import CHUNK_CHARS
from boxcasb.inspect.extract.plain import BLOCK_BYTES
from tests.support.documents import CARD, SENTENCE, make_docx, make_pdf, make_pptx, make_xlsx, make_zip

Extracted = tuple[str, ExtractionOutcome]


@pytest.fixture(params=[True, False], ids=["isolated", "in-process"])
def extract(request: pytest.FixtureRequest) -> Callable[..., Extracted]:
    def run(path: Path, kind: Kind, limits: ExtractLimits | None = None) -> Extracted:
        chunks: list[str] = []
        outcome = extract_text(path, kind, chunks.append, limits or ExtractLimits(), isolated=request.param)
        assert outcome.chars == sum(map(len, chunks))
        assert all(0 < len(chunk) <= CHUNK_CHARS for chunk in chunks)
        return "".join(chunks), outcome

    return run


@pytest.mark.parametrize(
    ("name", "mime", "kind"),
    [
        ("Q3 report.DOCX", None, Kind.DOCX),
        ("budget.xlsm", None, Kind.XLSX),
        ("deck.pptx", "application/octet-stream", Kind.PPTX),
        ("scan.pdf", None, Kind.PDF),
        ("notes.md", None, Kind.MARKDOWN),
        ("export.csv", None, Kind.CSV),
        ("events.jsonl", None, Kind.JSON),
        ("page.htm", None, Kind.HTML),
        ("id_rsa.pem", None, Kind.TEXT),
        (".env", None, Kind.TEXT),
        ("README", "text/plain; charset=utf-8", Kind.TEXT),
        ("README", "text/x-python", Kind.TEXT),
        ("download", "application/pdf", Kind.PDF),
        ("data.bin", "application/json", Kind.JSON),
        ("photo.jpg", "image/jpeg", None),
        ("archive.zip", None, None),
        ("noextension", None, None),
        ("legacy.doc", None, None),
    ],
)
def test_kind_comes_from_the_extension_then_the_mime_type(
    name: str, mime: str | None, kind: Kind | None
) -> None:
    assert kind_of(name, mime) == kind


def test_docx_body_table_and_header(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    path = make_docx(
        tmp_path / "a.docx",
        [f"Card {CARD} on file.", SENTENCE],
        header="Internal only",
        table=[["Name", "IBAN"], ["Eve", "DE89 3704 0044 0532 0130 00"]],
    )
    text, outcome = extract(path, Kind.DOCX)
    assert outcome.complete
    lines = text.splitlines()
    assert lines[:2] == [f"Card {CARD} on file.", SENTENCE]
    assert "DE89 3704 0044 0532 0130 00" in lines
    assert lines[-1] == "Internal only"  # headers follow the body


def test_docx_comments_tracked_deletions_breaks_and_tabs(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    from docx import Document

    document = Document()
    paragraph = document.add_paragraph("Before")
    run = paragraph.add_run()
    run.add_break()
    run.add_tab()
    paragraph.add_run("after")
    document.add_comment(paragraph.runs, text=f"Use card {CARD}", author="Eve")
    document.save(str(tmp_path / "c.docx"))
    text, outcome = extract(tmp_path / "c.docx", Kind.DOCX)
    assert outcome.complete
    assert "Before\n\tafter\n" in text
    assert f"Use card {CARD}" in text


def test_xlsx_sheets_in_order_with_strings_and_numbers(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    path = make_xlsx(
        tmp_path / "a.xlsx",
        {
            "People": [["Name", "Card"], ["Bob", CARD], ["Total", 1234.5]],
            "Notes": [[SENTENCE]],
        },
    )
    text, outcome = extract(path, Kind.XLSX)
    assert outcome.complete
    assert text == f"Name\tCard\t\nBob\t{CARD}\t\nTotal\t1234.5\t\n{SENTENCE}\t\n"


def test_xlsx_inline_strings_and_shared_strings_no_cell_shows(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    path = make_zip(
        tmp_path / "hand.xlsx",
        {
            "xl/workbook.xml": f"<workbook {ns}/>".encode(),
            "xl/sharedStrings.xml": (
                f"<sst {ns}><si><t>shown</t></si><si><r><t>left </t></r><r><t>over {CARD}</t></r></si></sst>"
            ).encode(),
            "xl/worksheets/sheet1.xml": (
                f'<worksheet {ns}><sheetData><row><c t="s"><v>0</v></c><c t="s"><v>99</v></c>'
                '<c t="inlineStr"><is><t>inline</t></is></c><c t="str"><f>A1</f><v>cached</v></c></row>'
                "</sheetData></worksheet>"
            ).encode(),
        },
    )
    text, outcome = extract(path, Kind.XLSX)
    assert outcome.complete
    assert text == f"shown\t\tinline\tcached\t\nleft over {CARD}\n"


def test_xlsx_large_shared_strings_table_is_read_across_blocks(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    strings = [f"string {n:06d} {SENTENCE}" for n in range(3 * READ_BYTES // 50)]
    # Rich text: two runs a string, so some string has its runs in different blocks.
    table = "".join(f"<si><r><t>{text[:13]}</t></r><r><t>{text[13:]}</t></r></si>" for text in strings)
    path = make_zip(
        tmp_path / "strings.xlsx",
        {
            "xl/workbook.xml": f"<workbook {ns}/>".encode(),
            "xl/sharedStrings.xml": f"<sst {ns}>{table}</sst>".encode(),
        },
    )
    text, outcome = extract(path, Kind.XLSX)
    assert outcome.complete
    assert text.splitlines() == strings


def test_pptx_slides_in_order_then_notes(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    slides = [(f"Slide {n}", f"Body {n}", "") for n in range(1, 12)]
    slides[1] = ("Slide 2", f"Card {CARD}", SENTENCE)
    path = make_pptx(tmp_path / "a.pptx", slides)
    text, outcome = extract(path, Kind.PPTX)
    assert outcome.complete
    titles = [line for line in text.splitlines() if line.startswith("Slide ")]
    assert titles == [f"Slide {n}" for n in range(1, 12)]  # slide10 after slide9, not after slide1
    assert f"Card {CARD}" in text
    assert text.rstrip().endswith(SENTENCE)


def test_pdf_pages(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    path = make_pdf(tmp_path / "a.pdf", [f"Card {CARD}", SENTENCE])
    text, outcome = extract(path, Kind.PDF)
    assert outcome.complete
    assert text.splitlines() == [f"Card {CARD}", SENTENCE]


def test_pdf_protected_only_against_changes_opens_with_the_empty_password(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    path = make_pdf(tmp_path / "owner.pdf", [SENTENCE], owner_password="owner")
    text, outcome = extract(path, Kind.PDF)
    assert outcome.complete
    assert SENTENCE in text


def test_pdf_with_a_user_password_is_recorded_as_encrypted(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    path = make_pdf(tmp_path / "locked.pdf", [SENTENCE], user_password="user", owner_password="owner")
    text, outcome = extract(path, Kind.PDF)
    assert (text, outcome.failure) == ("", Failure.ENCRYPTED)


def test_pdf_aes_without_the_cryptography_package_is_recorded_as_encrypted(
    tmp_path: Path, extract: Callable[..., Extracted], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in a layer without `cryptography`: pypdf's fallback cannot decrypt AES."""
    from pypdf import _encryption
    from pypdf._crypt_providers import _fallback

    for name in ("CryptAES", "aes_cbc_decrypt", "aes_ecb_decrypt"):
        monkeypatch.setattr(_encryption, name, getattr(_fallback, name))
    path = make_pdf(tmp_path / "aes.pdf", [SENTENCE], owner_password="owner", aes=True)
    text, outcome = extract(path, Kind.PDF)
    assert text == ""
    assert outcome.error == "encrypted: AES encryption needs the cryptography package, which is not installed"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (f"Café {CARD}\n".encode(), f"Café {CARD}\n"),
        (f"\ufeffCafé {CARD}\n".encode(), f"Café {CARD}\n"),
        (f"\ufeffCafé {CARD}\n".encode("utf-16-le"), f"Café {CARD}\n"),
        (f"\ufeffCafé {CARD}\n".encode("utf-16-be"), f"Café {CARD}\n"),
        (f"\ufeffCafé {CARD}\n".encode("utf-32-le"), f"Café {CARD}\n"),
        (f"Müller {CARD}\n".encode("latin-1"), f"Müller {CARD}\n"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-32-le-bom", "latin-1"],
)
def test_text_encodings(
    tmp_path: Path, extract: Callable[..., Extracted], data: bytes, expected: str
) -> None:
    (tmp_path / "a.txt").write_bytes(data)
    text, outcome = extract(tmp_path / "a.txt", Kind.TEXT)
    assert (text, outcome.complete) == (expected, True)


def test_text_streams_large_files_and_replaces_a_late_invalid_byte(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    line = f"{SENTENCE} {CARD} é\n"
    body = line * (3 * BLOCK_BYTES // len(line))
    (tmp_path / "big.csv").write_bytes(body.encode() + b"\xff tail\n")
    text, outcome = extract(tmp_path / "big.csv", Kind.CSV)
    assert outcome.complete
    assert text == body + "\ufffd tail\n"


def test_markdown_is_text_as_written(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    (tmp_path / "a.md").write_text(f"# Keys\n\n- `AKIAIOSFODNN7EXAMPLE`\n- {CARD}\n")
    text, _ = extract(tmp_path / "a.md", Kind.MARKDOWN)
    assert text == f"# Keys\n\n- `AKIAIOSFODNN7EXAMPLE`\n- {CARD}\n"


def test_json_keys_strings_and_numbers(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    document = {
        "card": 4111111111111111,
        "note": f"{SENTENCE}\nline two \u00e9",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
        "nested": [{"amount": -12.5e3, "ok": True, "none": None}],
    }
    (tmp_path / "a.json").write_text(json.dumps(document, ensure_ascii=True))
    text, outcome = extract(tmp_path / "a.json", Kind.JSON)
    assert outcome.complete
    assert text.split("\n")[:4] == ["card", "4111111111111111", "note", SENTENCE]
    assert "-----BEGIN PRIVATE KEY-----\nMIIE\n" in text  # escapes decoded: a PEM detector sees lines
    assert "amount\n-12500.0\nok\nnone\n" in text


def test_json_lines_malformed_json_and_lone_surrogates(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    (tmp_path / "a.jsonl").write_text('{"a": "x"}\n{"b": [1, 2\n{"c": "\\ud800 \\q", "d": "cut off')
    text, outcome = extract(tmp_path / "a.jsonl", Kind.JSON)
    assert outcome.complete
    assert text == "a\nx\nb\n1\n2\nc\n\\ud800 \\q\nd\ncut off\n"
    (tmp_path / "b.json").write_text('["\\ud800 alone"]')
    text, _ = extract(tmp_path / "b.json", Kind.JSON)
    assert text == "? alone\n"


def test_json_giant_string_comes_out_in_parts(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    value = ("x" * 99 + "\\n") * (3 * MAX_STRING_PART // 100)
    (tmp_path / "big.json").write_text(f'{{"blob": "{value}", "after": 1}}')
    text, outcome = extract(tmp_path / "big.json", Kind.JSON)
    assert outcome.complete
    assert text.replace("\n", "") == "blob" + value.replace("\\n", "") + "after1"


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _leaves(value: object) -> list[str]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in [key, *_leaves(item)]]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, str | float) or (isinstance(value, int) and not isinstance(value, bool)):
        return [str(value)]
    return []


@settings(max_examples=200, deadline=None)
@given(value=_JSON_VALUES, ascii_only=st.booleans(), cuts=st.lists(st.integers(min_value=0), max_size=6))
def test_json_tokens_do_not_depend_on_where_blocks_end(
    value: object, ascii_only: bool, cuts: list[int]
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    bounds = sorted({cut % (len(text) + 1) for cut in cuts} | {0, len(text)})
    tokens = JsonTokens()
    found = [token for start, end in itertools.pairwise(bounds) for token in tokens.feed(text[start:end])]
    assert found + tokens.finish() == _leaves(value)


def test_html_visible_text_without_scripts_and_styles(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    (tmp_path / "a.html").write_text(
        "<!DOCTYPE html><html><head><title>Payroll</title><style>td { color: red }</style>"
        '<script>var token = "not text";</script></head><body>'
        f"<p>{SENTENCE} &amp; more</p><table><tr><td>4111</td><td>1111</td></tr></table>"
        '<img alt="scan of passport" src="data:image/png;base64,AAAA"><input value="AKIAIOSFODNN7EXAMPLE">'
        "<!-- a comment --></body></html>"
    )
    text, outcome = extract(tmp_path / "a.html", Kind.HTML)
    assert outcome.complete
    words = text.split()
    assert "Payroll" in words
    assert f"{SENTENCE} & more" in text
    assert "4111\n" in text
    assert "scan of passport" in text
    assert "AKIAIOSFODNN7EXAMPLE" in words
    assert not any(hidden in text for hidden in ("color", "token", "comment", "base64"))


def test_html_meta_charset_is_honoured(tmp_path: Path, extract: Callable[..., Extracted]) -> None:
    (tmp_path / "a.html").write_bytes(
        '<html><head><meta charset="windows-1252"></head><body>Price: 5 € – Müller</body></html>'.encode(
            "cp1252"
        )
    )
    text, _ = extract(tmp_path / "a.html", Kind.HTML)
    assert text == "Price: 5 € – Müller"


def test_html_unclosed_construct_still_yields_the_text_before_it(
    tmp_path: Path, extract: Callable[..., Extracted]
) -> None:
    (tmp_path / "a.html").write_text(f"<p>{SENTENCE}</p><a title='" + "x" * (3 * BLOCK_BYTES))
    text, outcome = extract(tmp_path / "a.html", Kind.HTML)
    assert outcome.error is None
    assert text.startswith(f"\n{SENTENCE}\n")
