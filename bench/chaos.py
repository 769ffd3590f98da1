"""The chaos suite at its large size: a synthetic tenant, several seeds, the table of each run.

`python -m bench.chaos [--files N] [--seeds K]` (the test command runs the small size, the
seeded tenant: tests/e2e/test_chaos.py). Each run is its own process, like the test's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import emit
from devstack.chaos import clean_environment, run_command

ROOT = Path(__file__).resolve().parents[1]
MAKE_BENCH_FILES = 2_000


def run(files: int = 5_000, users: int = 50, seeds: int = 3, live_events: int = 2_000) -> dict[str, Any]:
    runs = []
    for seed in range(1, seeds + 1):
        done = subprocess.run(
            run_command(
                seed,
                "--files",
                str(files),
                "--users",
                str(users),
                "--live-events",
                str(live_events),
                "--timeout",
                "1800",
            ),
            cwd=ROOT,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        report = json.loads(done.stdout) if done.stdout.strip() else {"error": done.stderr[-2000:]}
        print(done.stderr[done.stderr.find("fault injected") :], file=sys.stderr)
        runs.append(report)
    return {
        "files": files,
        "users": users,
        "live_events": live_events,
        "runs": runs,
        "all_held": all(r.get("all_held") for r in runs),
    }


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=5_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--live-events", type=int, default=2_000)
    args = parser.parse_args()
    return run(args.files, args.users, args.seeds, args.live_events)


if __name__ == "__main__":
    emit(main)
