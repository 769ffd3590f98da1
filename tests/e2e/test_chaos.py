"""The chaos suite at its small size: the seeded tenant, faults in Box and in our functions.

It runs in its own process (`python -m devstack.chaos`): a chaos run starts its own fake Box
and local stack, and a stack owns the process's environment and boto3 session, which the
shared test stack holds here. The large size, and more seeds: `bench/chaos.py`.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from devstack.chaos import clean_environment, run_command

ROOT = Path(__file__).resolve().parents[2]
# A run takes about a minute; work that met a Box outage several times in a row waits out
# growing delays (up to minutes) before it is retried, so the drain is given room.
DRAIN_SECONDS = 900


def test_every_invariant_holds_under_faults() -> None:
    run = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        run_command(1, "--timeout", str(DRAIN_SECONDS)),
        cwd=ROOT,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = run.communicate(timeout=DRAIN_SECONDS + 300)
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGUSR1)  # every thread's stack into stderr, then stop it
        run.kill()
        out, err = run.communicate()
    assert out.strip(), f"the run ended without a report (exit {run.returncode}):\n{err[-20000:]}"
    report = json.loads(out)
    failed = [i for i in report["invariants"] if not i["held"]]
    assert failed == [], "\n" + err[-2500:]
    faults = report["faults_injected"]
    # The run did inject each kind: a quiet run would prove nothing.
    assert sum(n for name, n in faults.items() if name.startswith("Box ")) >= 5
    assert sum(n for name, n in faults.items() if "killed after a write" in name) >= 1
    assert sum(n for name, n in faults.items() if "redelivered" in name) >= 1
    assert len(report["invariants"]) == 17
