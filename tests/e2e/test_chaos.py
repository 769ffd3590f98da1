"""The chaos suite at its small size: the seeded tenant, faults in Box and in our functions.

It runs in its own process (`python -m devstack.chaos`): a chaos run starts its own fake Box
and local stack, and a stack owns the process's environment and boto3 session, which the
shared test stack holds here. The large size is `bench/chaos.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Not this process's environment: the shared stack has put its endpoints and tables there.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "PYTHONPATH")}


@pytest.mark.parametrize("seed", [1, 2])
def test_every_invariant_holds_under_faults(seed: int) -> None:
    done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "devstack.chaos", "--seed", str(seed), "--timeout", "420"],
        cwd=ROOT,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads(done.stdout)
    failed = [i for i in report["invariants"] if not i["held"]]
    assert failed == [], "\n" + done.stderr[-2500:]
    faults = report["faults_injected"]
    # The run did inject each kind: a quiet run would prove nothing.
    assert sum(n for name, n in faults.items() if name.startswith("Box ")) >= 5
    assert sum(n for name, n in faults.items() if "killed after a write" in name) >= 1
    assert sum(n for name, n in faults.items() if "redelivered" in name) >= 1
    assert len(report["invariants"]) == 16
