"""`python -m devstack.chaos [--files N] [--seed S]`: one chaos run; the table on stderr, JSON on stdout.

Exits 1 if an invariant did not hold.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import signal
import sys

from devstack.chaos.run import ChaosConfig, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.chaos", description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--files", type=int, default=0, help="a synthetic tenant of N files (0: the seeded one)"
    )
    parser.add_argument("--users", type=int, default=20, help="users of the synthetic tenant")
    parser.add_argument("--live-events", type=int, default=200)
    parser.add_argument("--box-fault-rate", type=float, default=0.03)
    parser.add_argument("--crash-rate", type=float, default=0.1)
    parser.add_argument("--redeliver-rate", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the work to drain")
    args = parser.parse_args(argv)
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>`: every thread's stack, for a run that hangs
    config = ChaosConfig(
        seed=args.seed,
        box_fault_rate=args.box_fault_rate,
        crash_rate=args.crash_rate,
        redeliver_rate=args.redeliver_rate,
        synthetic_files=args.files,
        synthetic_users=args.users,
        live_events=args.live_events,
        timeout_seconds=args.timeout,
    )
    report = run(config)
    print(report.table(), file=sys.stderr)
    print(json.dumps(report.to_json(), indent=2, default=str))
    return 0 if report.held else 1


if __name__ == "__main__":
    sys.exit(main())
