"""Benchmarks: `python -m bench` runs them all and prints one JSON document. Not tests."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from typing import Any


def emit(measure: Callable[[], Any]) -> None:
    """Run `measure` with everything it prints (handler logs, EMF metrics) sent to stderr; JSON to stdout."""
    with contextlib.redirect_stdout(sys.stderr):
        result = measure()
    print(json.dumps(result, indent=2))
