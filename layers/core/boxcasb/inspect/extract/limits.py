"""How far one extraction may go. The defaults sit well above the reference product's 30 MB per
file and 1 million characters, and still keep a hostile file within a Lambda's means."""

from __future__ import annotations

from dataclasses import dataclass, fields

_MiB = 1024 * 1024
_GiB = 1024 * _MiB


@dataclass(frozen=True)
class ExtractLimits:
    max_input_bytes: int = 256 * _MiB
    """A larger file is not opened at all (`too_large`)."""
    max_output_chars: int = 50_000_000
    """Past this the text stops and the outcome says `truncated`: not an error."""
    timeout_seconds: float = 120.0
    """Wall clock for the whole extraction, the sink's time included. Isolated, the child is killed
    when it runs out; in process, the check happens between pieces of text."""
    max_uncompressed_bytes: int = _GiB
    """Office files: bytes the parts we read may expand to, declared and actually read."""
    max_compression_ratio: float = 200.0
    """Office files: a part (declared) or all parts read (actual, against the file's size on disk)
    expanding more than this is a zip bomb. Real documents stay below about 100."""
    max_archive_members: int = 10_000
    """Office files: more zip entries than this is refused before any is read."""
    max_memory_bytes: int = _GiB
    """Isolated only: address space the child may add to what it inherits from the fork."""

    def __post_init__(self) -> None:
        for field in fields(self):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"ExtractLimits.{field.name} must be positive")


DEFAULT_LIMITS = ExtractLimits()
