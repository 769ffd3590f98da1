"""Which extractor a file gets, from its name and (when known) its MIME type."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    CSV = "csv"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
    DOCX = "docx"
    XLSX = "xlsx"
    PPTX = "pptx"
    PDF = "pdf"


# Plain text covers the files where secrets and personal data sit in clear: notes, logs, exports,
# configuration, keys and source code. The macro-enabled and template Office variants are the same
# zip layout as the documents, so they share the document's extractor.
# fmt: off
_TEXT_EXTENSIONS = (
    "txt", "text", "log", "tsv", "tab", "yaml", "yml", "toml", "ini", "cfg", "conf", "env",
    "properties", "xml", "sql", "pem", "key", "crt", "cer", "asc", "sh", "ps1", "bat", "py", "js",
    "ts", "java", "cs", "go", "rb", "php", "tf", "tfvars",
)
# fmt: on
_EXTENSIONS: dict[str, Kind] = {
    **dict.fromkeys(_TEXT_EXTENSIONS, Kind.TEXT),
    "csv": Kind.CSV,
    **dict.fromkeys(("json", "jsonl", "ndjson", "geojson"), Kind.JSON),
    **dict.fromkeys(("md", "markdown"), Kind.MARKDOWN),
    **dict.fromkeys(("html", "htm", "xhtml"), Kind.HTML),
    **dict.fromkeys(("docx", "docm", "dotx", "dotm"), Kind.DOCX),
    **dict.fromkeys(("xlsx", "xlsm", "xltx", "xltm"), Kind.XLSX),
    **dict.fromkeys(("pptx", "pptm", "potx", "potm", "ppsx", "ppsm"), Kind.PPTX),
    "pdf": Kind.PDF,
}

_OOXML = "application/vnd.openxmlformats-officedocument."
_MIME_TYPES: dict[str, Kind] = {
    "text/csv": Kind.CSV,
    "application/json": Kind.JSON,
    "text/markdown": Kind.MARKDOWN,
    "text/html": Kind.HTML,
    "application/xhtml+xml": Kind.HTML,
    _OOXML + "wordprocessingml.document": Kind.DOCX,
    _OOXML + "spreadsheetml.sheet": Kind.XLSX,
    _OOXML + "presentationml.presentation": Kind.PPTX,
    "application/pdf": Kind.PDF,
}


def kind_of(name: str, mime_type: str | None = None) -> Kind | None:
    """The extractor for a file, or None when its text is not extractable (images, archives, ...).

    The extension decides when it is known: Box reports the name, and a MIME type guessed by an
    uploader is the weaker hint. A file that lies about its kind ends as a recorded parse error.
    """
    _, dot, extension = name.rpartition(".")
    if dot:  # ".env" has an empty stem and is still an "env" file
        kind = _EXTENSIONS.get(extension.lower())
        if kind is not None:
            return kind
    if mime_type is None:
        return None
    essence = mime_type.partition(";")[0].strip().lower()
    kind = _MIME_TYPES.get(essence)
    if kind is None and essence.startswith("text/"):
        return Kind.TEXT
    return kind
