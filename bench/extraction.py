"""Text extraction: input MB/s and characters/s per format, isolated (forked child) and in process.

The corpus is one file per format, from a fixed seed, of prose with card numbers and IBANs in it,
written to a temporary directory: `--mb` MB (default 4) of content before any compression, that is
of text for the text formats and the PDF, of XML for the Office files. Office files and the PDF are
written directly, with the structure their usual writers give them (Word's paragraphs of runs with
properties, Excel's shared strings and numeric cells, PowerPoint's shapes, a PDF's Flate-compressed
page streams with one font): python-docx and fpdf2 need minutes for files this size. Input MB/s
counts the file on disk, compressed for Office and PDF, so characters/s is the figure to compare
across formats.

Each format runs `--rounds` times in each mode, alternating so machine noise spreads evenly; the
best run is the figure. Per-file cost: a 1 KB text file and a one-page DOCX, extracted SMALL_RUNS
times in each mode, show what the fork adds to every file (median).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench import emit
from boxcasb.inspect.extract import ExtractLimits, Kind, extract_text

DEFAULT_MB = 4.0
ROUNDS = 3
SMALL_RUNS = 40
SEED = 20240611
# fmt: off
_WORDS = [
    "the", "quarterly", "report", "shows", "revenue", "growth", "across", "all", "regions", "while",
    "costs", "remain", "under", "control", "customer", "payment", "details", "must", "be", "handled",
    "according", "to", "policy", "and", "never", "shared", "outside", "finance", "team", "reviewed",
    "invoices", "contracts", "payroll", "records", "bank", "transfers", "for", "accuracy", "München",
    "Zürich", "São", "Paulo", "Kraków", "naïve", "café", "résumé",
]
# fmt: on
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
P = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'


class _Text:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def card(self) -> str:
        digits = [4] + [self._random.randrange(10) for _ in range(14)]
        total = sum(d if i % 2 else sum(divmod(d * 2, 10)) for i, d in enumerate(digits))
        digits.append((10 - total % 10) % 10)
        return " ".join("".join(map(str, digits[i : i + 4])) for i in range(0, 16, 4))

    def sentence(self) -> str:
        words = self._random.choices(_WORDS, k=self._random.randint(8, 18))
        if self._random.random() < 0.05:
            words.append(f"card {self.card()}")
        if self._random.random() < 0.03:
            words.append("IBAN DE89 3704 0044 0532 0130 00")
        return " ".join(words).capitalize() + "."

    def number(self) -> str:
        return f"{self._random.uniform(-1e6, 1e6):.2f}"


def _lines(size: int, line: Callable[[], str]) -> list[str]:
    """Lines from `line` until they add up to `size` characters."""
    lines, total = [], 0
    while total < size:
        lines.append(line())
        total += len(lines[-1]) + 1
    return lines


def _zip(path: Path, parts: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + xml)


def _docx(path: Path, text: _Text, size: int) -> None:
    def paragraph() -> str:
        runs = "".join(
            f'<w:r><w:rPr><w:rFonts w:ascii="Calibri"/><w:sz w:val="22"/>{"<w:b/>" if i == 1 else ""}</w:rPr>'
            f'<w:t xml:space="preserve">{escape(text.sentence())} </w:t></w:r>'
            for i in range(3)
        )
        return f'<w:p><w:pPr><w:pStyle w:val="Normal"/><w:spacing w:after="120"/></w:pPr>{runs}</w:p>'

    body = "".join(_lines(size, paragraph))
    _zip(path, {"word/document.xml": f"<w:document {W}><w:body>{body}</w:body></w:document>"})


def _xlsx(path: Path, text: _Text, size: int) -> None:
    strings: list[str] = []

    def row() -> str:
        n = len(strings)
        strings.append(text.sentence())
        return (
            f'<row r="{n + 1}"><c r="A{n + 1}" t="s"><v>{n}</v></c><c r="B{n + 1}"><v>{text.number()}</v></c>'
            f'<c r="C{n + 1}"><v>{text.number()}</v></c><c r="D{n + 1}" t="s"><v>{n}</v></c></row>'
        )

    rows = "".join(_lines(size // 2, row))
    table = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    _zip(
        path,
        {
            "xl/workbook.xml": f"<workbook {S}/>",
            "xl/sharedStrings.xml": f'<sst {S} count="{len(strings)}">{table}</sst>',
            "xl/worksheets/sheet1.xml": f"<worksheet {S}><sheetData>{rows}</sheetData></worksheet>",
        },
    )


def _pptx(path: Path, text: _Text, size: int) -> None:
    def shape() -> str:
        paragraphs = "".join(
            f'<a:p><a:r><a:rPr lang="en-US" dirty="0"/><a:t>{escape(text.sentence())}</a:t></a:r></a:p>'
            for _ in range(4)
        )
        return (
            '<p:sp><p:nvSpPr><p:cNvPr id="2" name="Content"/><p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr/>'
            f"<p:txBody><a:bodyPr/><a:lstStyle/>{paragraphs}</p:txBody></p:sp>"
        )

    shapes = _lines(size, shape)
    parts = {"ppt/presentation.xml": f"<p:presentation {P}/>"}
    for n in range(0, len(shapes), 6):
        tree = "".join(shapes[n : n + 6])
        parts[f"ppt/slides/slide{n // 6 + 1}.xml"] = (
            f"<p:sld {A} {P}><p:cSld><p:spTree>{tree}</p:spTree></p:cSld></p:sld>"
        )
    _zip(path, parts)


def _pdf_string(line: str) -> bytes:
    escaped = line.encode("cp1252", "replace")
    for special in (b"\\", b"(", b")"):
        escaped = escaped.replace(special, b"\\" + special)
    return escaped


def _pdf(path: Path, text: _Text, size: int) -> None:
    """A PDF as a simple writer makes one: a page per 60 lines, a Flate stream per page, Helvetica."""
    lines = _lines(size, text.sentence)
    pages = [lines[n : n + 60] for n in range(0, len(lines), 60)]
    count = len(pages)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
        + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for number, page in enumerate(pages):
        shown = b"".join(b"(%s) Tj T*\n" % _pdf_string(line) for line in page)
        stream = zlib.compress(b"BT /F1 8 Tf 11 TL 30 810 Td\n" + shown + b"ET")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * number)
        )
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"
        )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    path.write_bytes(out.getvalue())


def corpus(directory: Path, megabytes: float) -> dict[Kind, Path]:
    size = int(megabytes * 1_000_000)
    text = _Text(SEED)
    files: dict[Kind, Path] = {}

    def write(kind: Kind, name: str, content: str) -> None:
        files[kind] = directory / name
        files[kind].write_text(content, encoding="utf-8")

    write(Kind.TEXT, "notes.txt", "\n".join(_lines(size, text.sentence)) + "\n")
    write(
        Kind.CSV,
        "export.csv",
        "id,name,note,amount\n"
        + "\n".join(
            _lines(size, lambda: f'{text.number()},"{text.sentence()}",{text.card()},{text.number()}')
        ),
    )
    write(
        Kind.MARKDOWN,
        "notes.md",
        "\n".join(_lines(size, lambda: f"## {text.sentence()}\n\n- {text.sentence()}\n")),
    )
    write(
        Kind.JSON,
        "records.json",
        "[\n"
        + ",\n".join(
            _lines(
                size,
                lambda: (
                    f'{{"id": {text.number()}, "note": "{text.sentence()}", '
                    f'"card": "{text.card()}", "tags": ["a", "b"]}}'
                ),
            )
        )
        + "\n]\n",
    )
    write(
        Kind.HTML,
        "page.html",
        "<html><head><style>td { padding: 2px }</style><script>var x = 1 < 2;</script></head><body><table>"
        + "".join(
            _lines(
                size,
                lambda: f"<tr><td>{escape(text.sentence())}</td><td><b>{text.number()}</b></td></tr>\n",
            )
        )
        + "</table></body></html>",
    )
    for kind, name, make in (
        (Kind.DOCX, "report.docx", _docx),
        (Kind.XLSX, "ledger.xlsx", _xlsx),
        (Kind.PPTX, "deck.pptx", _pptx),
        (Kind.PDF, "scan.pdf", _pdf),
    ):
        files[kind] = directory / name
        make(files[kind], text, size)
    return files


def _extract(path: Path, kind: Kind, isolated: bool) -> tuple[float, int]:
    sizes: list[int] = []
    started = time.perf_counter()
    outcome = extract_text(
        path, kind, lambda chunk: sizes.append(len(chunk)), ExtractLimits(), isolated=isolated
    )
    elapsed = time.perf_counter() - started
    if not outcome.complete:
        raise RuntimeError(f"{path.name}: {outcome.error or 'truncated'}")
    return elapsed, outcome.chars


def _per_file_ms(path: Path, kind: Kind) -> dict[str, float]:
    samples: dict[str, list[float]] = {"in_process": [], "isolated": []}
    for _ in range(SMALL_RUNS):
        for mode, isolated in (("in_process", False), ("isolated", True)):
            samples[mode].append(_extract(path, kind, isolated)[0] * 1000)
    medians = {mode: round(statistics.median(values), 2) for mode, values in samples.items()}
    return {**medians, "fork_overhead_ms": round(medians["isolated"] - medians["in_process"], 2)}


def run(megabytes: float = DEFAULT_MB, rounds: int = ROUNDS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as scratch:
        directory = Path(scratch)
        built = time.perf_counter()
        files = corpus(directory, megabytes)
        build_seconds = time.perf_counter() - built
        formats: dict[str, Any] = {}
        for kind, path in files.items():
            seconds: dict[str, list[float]] = {"in_process": [], "isolated": []}
            chars = 0
            for _ in range(rounds):
                for mode, isolated in (("in_process", False), ("isolated", True)):
                    elapsed, chars = _extract(path, kind, isolated)
                    seconds[mode].append(elapsed)
            mb = path.stat().st_size / 1_000_000
            best = {mode: min(values) for mode, values in seconds.items()}
            formats[str(kind)] = {
                "file_mb": round(mb, 2),
                "chars": chars,
                "seconds": {mode: [round(s, 3) for s in values] for mode, values in seconds.items()},
                "input_mb_per_s": {mode: round(mb / s, 2) for mode, s in best.items()},
                "million_chars_per_s": {mode: round(chars / s / 1e6, 2) for mode, s in best.items()},
                "isolation_overhead_pct": round((best["isolated"] / best["in_process"] - 1) * 100, 1),
            }
        (directory / "small.txt").write_text(_Text(SEED).sentence() * 8)
        _docx(directory / "small.docx", _Text(SEED), 3_000)
        per_file = {
            "text_1kb": _per_file_ms(directory / "small.txt", Kind.TEXT),
            "docx_1_page": _per_file_ms(directory / "small.docx", Kind.DOCX),
        }
    return {
        "corpus": {
            "mb_of_text_per_format": megabytes,
            "seed": SEED,
            "build_seconds": round(build_seconds, 1),
        },
        "rounds": rounds,
        "cores_on_machine": len(os.sched_getaffinity(0)),
        "formats": formats,
        "per_file_ms_median": per_file,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.extraction", description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=DEFAULT_MB, help="MB of text per format")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="runs of each format in each mode")
    args = parser.parse_args(argv)
    return run(args.mb, args.rounds)


if __name__ == "__main__":
    emit(main)
