"""Real documents with known text, made by the libraries people write them with, and hostile zips.

The Office and PDF libraries are test dependencies only: they are imported where used.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

CARD = "4111 1111 1111 1111"
SENTENCE = "The merger stays confidential until Friday."
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def make_docx(
    path: Path, paragraphs: Sequence[str], header: str = "", table: Sequence[Sequence[str]] = ()
) -> Path:
    from docx import Document

    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if header:
        document.sections[0].header.paragraphs[0].text = header
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    document.save(str(path))
    return path


def make_xlsx(path: Path, sheets: Mapping[str, Sequence[Sequence[object]]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    workbook.save(path)
    return path


def make_pptx(path: Path, slides: Sequence[tuple[str, str, str]]) -> Path:
    """One slide per (title, body, speaker notes)."""
    from pptx import Presentation

    presentation = Presentation()
    for title, body, notes in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    presentation.save(str(path))
    return path


def make_pdf(
    path: Path,
    pages: Sequence[str],
    user_password: str | None = None,
    owner_password: str | None = None,
    aes: bool = False,
) -> Path:
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    for text in pages:
        pdf.add_page()
        pdf.set_font("helvetica", size=11)
        pdf.multi_cell(w=0, text=text)
    if owner_password is not None:
        method = EncryptionMethod.AES_128 if aes else EncryptionMethod.RC4
        pdf.set_encryption(
            owner_password=owner_password, user_password=user_password, encryption_method=method
        )
    pdf.output(str(path))
    return path


def make_raw_pdf(path: Path, page_streams: Sequence[bytes]) -> Path:
    """A PDF written by hand, one page per content stream (Helvetica as /F1), for broken pages
    no PDF library would write."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for content in page_streams:
        kids.append(len(objects) + 1)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % (len(objects) + 2)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def make_zip(path: Path, parts: Mapping[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return path


def replace_part(source: Path, target: Path, name: str, data: bytes) -> Path:
    """A copy of an Office file with one part's bytes replaced."""
    with zipfile.ZipFile(source) as original:
        parts = {info.filename: original.read(info) for info in original.infolist()}
    parts[name] = data
    return make_zip(target, parts)


def word_document(body_xml: str, prolog: str = "") -> bytes:
    """word/document.xml around some body XML (a DTD, for hostile cases, goes in `prolog`)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}'
        f'<w:document xmlns:w="{W_NS}"><w:body>{body_xml}</w:body></w:document>'
    ).encode()


def billion_laughs() -> bytes:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    return word_document("<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>", prolog=f"<!DOCTYPE lolz [{entities}]>")


def rewrite_sizes(
    path: Path, member: str, *, compress_size: int | None = None, file_size: int | None = None
) -> None:
    """Make a zip lie: change the sizes its central directory (and local header) declare for a member."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_length] == name:
            break
        central = data.find(b"PK\x01\x02", central + 4)
    assert central != -1, f"{member} not in {path}"
    local = struct.unpack_from("<I", data, central + 42)[0]
    for offset, value in ((20, compress_size), (24, file_size)):
        if value is not None:
            struct.pack_into("<I", data, central + offset, value)
            struct.pack_into("<I", data, local + offset - 2, value)
    path.write_bytes(bytes(data))
