"""Chaos runs of the local stack: faults in Box and in our functions, and the invariants after."""

from __future__ import annotations

import os
import sys


def run_command(seed: int, *options: str) -> list[str]:
    """The command of one chaos run in its own process (a stack owns its process's environment)."""
    return [sys.executable, "-m", "devstack.chaos", "--seed", str(seed), *options]


def clean_environment() -> dict[str, str]:
    """The environment for that process: not the caller's, where a running stack has put its
    endpoints, tables and credentials."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "PYTHONPATH")}
