"""`python -m bench` (or `make bench`): every benchmark, one JSON document on stdout."""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime

from bench import (
    activity_ingest,
    api_test_calls,
    chaos,
    detectors,
    emit,
    extraction,
    import_time,
    poller_rate,
    scan_generation,
    webhook_burst,
    webhook_intake,
)


def main() -> dict[str, object]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.system()}",
        "cold_import": import_time.run(),
        "test_api_box_calls": api_test_calls.run(),
        # 100,000 events (and 10,000), not the 1,000,000 of `python -m bench.activity_ingest`.
        "activity_ingestion": activity_ingest.run(events=activity_ingest.MAKE_BENCH_EVENTS),
        "webhook_intake": webhook_intake.run(),
        # 1,000 deliveries, not the 10,000 of `python -m bench.webhook_burst`.
        "webhook_burst": webhook_burst.run(deliveries=webhook_burst.MAKE_BENCH_DELIVERIES),
        # A 10-second stream, not the 60 seconds of `python -m bench.poller_rate`.
        "event_poller_rate": poller_rate.run(seconds=poller_rate.MAKE_BENCH_SECONDS),
        # 10,000 files, not the 100,000 of `python -m bench.scan_generation`.
        "scan_generations": scan_generation.run(files=scan_generation.MAKE_BENCH_FILES),
        "scan_generations_reading_every_file": scan_generation.run(
            files=scan_generation.MAKE_BENCH_INSPECT_FILES, policies="inspect-all"
        ),
        "text_extraction": extraction.run(),
        # 20 MB, not the 100 MB of `python -m bench.detectors`.
        "content_detectors": detectors.run(megabytes=detectors.MAKE_BENCH_MB),
        # 2,000 files and two seeds, not the 5,000 and three of `python -m bench.chaos`.
        "chaos": chaos.run(files=chaos.MAKE_BENCH_FILES, seeds=2),
    }


if __name__ == "__main__":
    emit(main)
