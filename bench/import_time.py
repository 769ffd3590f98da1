"""Cold import time of each handler module, in fresh interpreters, as a Lambda cold start pays it.

Targets are measured round-robin (not one after another) so machine noise spreads evenly,
beside two references: `boto3` alone (every function pays it) and `box_sdk_gen` alone (what
the first Box call adds in a function that talks to Box; no handler imports it at load).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from bench import emit

ROOT = Path(__file__).resolve().parent.parent
_PROBE = (
    "import sys, time; t = time.perf_counter(); import {module}; "
    "d = time.perf_counter() - t; "
    "print(d, 'box_sdk_gen' in sys.modules, len(sys.modules))"
)
# What the template gives every function; values only need to pass settings validation.
_ENV = {
    "TABLE_NAME": "t",
    "TOKEN_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/k",
    "BOX_APP_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def targets() -> dict[str, tuple[Path, str]]:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    found = {
        name: (ROOT / r["Properties"]["CodeUri"], "app")
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }
    found["reference: boto3 alone"] = (ROOT, "boto3")
    found["reference: box_sdk_gen alone"] = (ROOT, "box_sdk_gen")
    return found


def _sample(code_dir: Path, module: str) -> tuple[float, bool, int]:
    env = {**_ENV, "PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{code_dir}:{ROOT / 'layers/core'}"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        cwd=code_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]) * 1000, out[1] == "True", int(out[2])


def run(runs: int = 9) -> dict[str, Any]:
    plan = targets()
    samples: dict[str, list[tuple[float, bool, int]]] = {name: [] for name in plan}
    for _ in range(runs):
        for name, (code_dir, module) in plan.items():
            samples[name].append(_sample(code_dir, module))
    boto3_median = statistics.median(s[0] for s in samples["reference: boto3 alone"])
    report: dict[str, Any] = {}
    for name, found in sorted(samples.items()):
        median = statistics.median(s[0] for s in found)
        report[name] = {
            "median_ms": round(median, 1),
            "min_ms": round(min(s[0] for s in found), 1),
            "x_boto3_alone": round(median / boto3_median, 2),
            "imports_boxsdk": found[-1][1],
            "modules_loaded": found[-1][2],
            "runs": runs,
        }
    return report


if __name__ == "__main__":
    emit(run)
