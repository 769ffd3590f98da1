"""One file's text through the detectors: download to /tmp, extract in isolation, scan in one pass.

The download is bounded by the extraction's input limit whatever size the listing claimed, and
the temporary file is gone when `read` returns. A file whose text can't be read gets a summary
with the reason (too large, a zip bomb, a parser timeout): a scan result, never a crash.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Protocol

from boxcasb.errors import ContentTooLarge
from boxcasb.inspect.detect import DetectorSet
from boxcasb.inspect.extract import ExtractLimits, extract_text, kind_of
from boxcasb.scan.model import ContentSummary, ListedFile

# Bumped when a built-in detector changes what it finds: stored summaries are then stale.
DETECTORS_REVISION = "1"


class Downloads(Protocol):
    def download(self, file_id: str, as_user: str | None, into: IO[bytes], max_bytes: int) -> int: ...


def detectors_version(custom: Mapping[str, str]) -> str:
    canonical = "\n".join(f"{name}={pattern}" for name, pattern in sorted(custom.items()))
    return "d" + hashlib.sha256(f"{DETECTORS_REVISION}\n{canonical}".encode()).hexdigest()[:12]


class ContentReader:
    def __init__(self, limits: ExtractLimits, workdir: Path | None = None) -> None:
        self._limits = limits
        self._workdir = workdir
        self._lock = threading.Lock()
        self._detectors: dict[str, DetectorSet] = {}

    def detectors(self, custom: Mapping[str, str]) -> tuple[str, DetectorSet]:
        """Compiled once per pattern set and kept: compiling is the expensive part of a scan's setup."""
        version = detectors_version(custom)
        with self._lock:
            detectors = self._detectors.get(version)
            if detectors is None:
                detectors = self._detectors[version] = DetectorSet.build(custom=dict(custom))
        return version, detectors

    def read(
        self, box: Downloads, file: ListedFile, as_user: str | None, custom: Mapping[str, str]
    ) -> ContentSummary:
        version, detectors = self.detectors(custom)
        kind = kind_of(file.name)
        if kind is None:
            return ContentSummary(sha1=file.sha1, detectors=version, source="none")
        max_bytes = self._limits.max_input_bytes
        if file.size > max_bytes:
            return self._unread(file, version, f"too_large: {file.size} bytes, the limit is {max_bytes}")
        suffix = f".{kind.value}"
        with tempfile.NamedTemporaryFile(dir=self._workdir, prefix="boxcasb-", suffix=suffix) as tmp:
            try:
                box.download(file.id, as_user, tmp, max_bytes)
            except ContentTooLarge:
                return self._unread(file, version, f"too_large: over {max_bytes} bytes")
            tmp.flush()
            scanner = detectors.scanner()
            outcome = extract_text(Path(tmp.name), kind, scanner.feed, self._limits)
            found = scanner.finish()
        return ContentSummary(
            sha1=file.sha1,
            detectors=version,
            counts={name: count for name, count in found.counts.items() if count},
            samples={name: list(samples) for name, samples in found.samples.items() if samples},
            chars=outcome.chars,
            truncated=outcome.truncated,
            error=outcome.error,
        )

    @staticmethod
    def _unread(file: ListedFile, version: str, reason: str) -> ContentSummary:
        return ContentSummary(sha1=file.sha1, detectors=version, error=reason)
