"""Layers built by a Makefile (data, not Python), laid out as Lambda would unpack them under /opt.

`sam build` runs `make build-<LogicalId>` with ARTIFACTS_DIR set; so does the local stack, into a
temporary directory. An environment variable that names a path under /opt is then pointed at the
built layer that has that path: the handlers read the same files the deployed functions would.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from devstack.template_model import Layer

OPT = PurePosixPath("/opt")
MAKE = shutil.which("make") or "/usr/bin/make"


class DataLayerError(RuntimeError):
    pass


def build(layers: Iterable[Layer], into: Path) -> list[Path]:
    """Each makefile layer built into its own directory (the /opt it would be); in template order."""
    built = []
    for layer in layers:
        if layer.build_method != "makefile":
            continue
        artifacts = into / layer.logical_id
        artifacts.mkdir(parents=True)
        result = subprocess.run(  # noqa: S603  (fixed argv: make and the template's target)
            [
                MAKE,
                "-s",
                "-C",
                str(layer.content_dir),
                f"build-{layer.logical_id}",
                f"ARTIFACTS_DIR={artifacts}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DataLayerError(f"{layer.logical_id}: make failed: {result.stderr.strip()[:500]}")
        built.append(artifacts)
    return built


def opt_paths(environment: Mapping[str, str], opt_dirs: Iterable[Path]) -> dict[str, str]:
    """The variables whose value is a path under /opt that a built layer provides, pointed at it."""
    found = {}
    dirs = list(opt_dirs)
    for name, value in environment.items():
        path = PurePosixPath(value)
        if not value.startswith("/opt/") or OPT not in path.parents:
            continue
        relative = path.relative_to(OPT)
        for opt in dirs:
            if (opt / relative).exists():
                found[name] = str(opt / relative)
                break
    return found
