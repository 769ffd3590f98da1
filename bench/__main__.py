"""`python -m bench` (or `make bench`): every benchmark, one JSON document on stdout."""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime

from bench import api_test_calls, emit, import_time


def main() -> dict[str, object]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.system()}",
        "cold_import": import_time.run(),
        "test_api_box_calls": api_test_calls.run(),
    }


if __name__ == "__main__":
    emit(main)
