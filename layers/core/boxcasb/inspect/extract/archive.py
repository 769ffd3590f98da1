"""The parts of an Office file (a zip) we read, with zip bombs refused before and while reading.

Before reading: the entry count, each part's compression method, declared size and ratio, and the
declared total. While reading: the bytes the parts actually produce, together, against the file's
size on disk; that catches many small parts, each under the grace, that add up to a bomb.
Lies about sizes are caught by `zipfile` itself: it cuts a part at its declared size (whose CRC
then fails) and refuses a compressed size reaching into the next entry ("overlapped entries").
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from boxcasb.inspect.extract.limits import ExtractLimits
from boxcasb.inspect.extract.outcome import ExtractionFailed, Failure

READ_BYTES = 256 * 1024
# Below this much output nothing is a bomb, whatever the ratio: tiny parts of empty documents
# compress far beyond any sane ratio.
GRACE_BYTES = 1024 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Office writes deflate (and stored) only; zipfile's bzip2 and lzma readers decompress a whole read
# at once, unbounded, so a part using them could expand past every check inside one call.
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


class GuardedZip:
    def __init__(self, path: Path, limits: ExtractLimits) -> None:
        self._limits = limits
        self._size_on_disk = max(path.stat().st_size, 1)
        self._expanded = 0
        try:
            self._zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            with path.open("rb") as file:
                if file.read(len(_OLE_MAGIC)) == _OLE_MAGIC:
                    raise ExtractionFailed(
                        Failure.UNSUPPORTED,
                        "an OLE compound file: a password-protected or a legacy (97-2003) Office file",
                    ) from exc
            raise ExtractionFailed(Failure.MALFORMED, f"not a zip file ({exc})") from exc
        entries = len(self._zip.infolist())
        if entries > limits.max_archive_members:
            self._zip.close()
            raise ExtractionFailed(
                Failure.ZIP_BOMB, f"{entries} zip entries, over the limit of {limits.max_archive_members}"
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._zip.close()

    def names(self) -> list[str]:
        return self._zip.namelist()

    def plan(self, names: Sequence[str]) -> None:
        """Check what the parts to read declare, before reading any."""
        limits = self._limits
        parts = [self._zip.getinfo(name) for name in names]
        for part in parts:
            if part.compress_type not in _METHODS:
                raise ExtractionFailed(
                    Failure.UNSUPPORTED,
                    f"{part.filename} uses zip compression method {part.compress_type}, "
                    "which Office does not write",
                )
            ratio = part.file_size / max(part.compress_size, 1)
            if part.file_size > GRACE_BYTES and ratio > limits.max_compression_ratio:
                raise ExtractionFailed(
                    Failure.ZIP_BOMB,
                    f"{part.filename} declares {ratio:.0f}x its compressed size "
                    f"(limit {limits.max_compression_ratio:g}x)",
                )
        declared = sum(part.file_size for part in parts)
        if declared > limits.max_uncompressed_bytes:
            raise ExtractionFailed(
                Failure.ZIP_BOMB,
                f"the parts to read declare {declared} bytes (limit {limits.max_uncompressed_bytes})",
            )

    def blocks(self, name: str) -> Iterator[bytes]:
        """A planned part's bytes, block by block, counted against the limits as they come."""
        try:
            with self._zip.open(name) as stream:
                while block := stream.read(READ_BYTES):
                    self._count(len(block))
                    yield block
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ExtractionFailed(Failure.MALFORMED, f"{name}: {exc}") from exc

    def _count(self, size: int) -> None:
        # Only the ratio needs counting: the total cannot pass the declared one, checked in `plan`.
        self._expanded += size
        ratio = self._expanded / self._size_on_disk
        if self._expanded > GRACE_BYTES and ratio > self._limits.max_compression_ratio:
            raise ExtractionFailed(
                Failure.ZIP_BOMB,
                f"the parts read expand to {ratio:.0f}x the file's size "
                f"(limit {self._limits.max_compression_ratio:g}x)",
            )
