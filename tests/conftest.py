"""Shared fixtures: one fake Box and one local stack (moto server + handlers) per test session.

Tests stay independent by creating their own connections; fake Box faults are cleared after
each test. The stack sets process-wide environment (AWS_ENDPOINT_URL and the template's
variables), so the package's per-container caches are reset once it is up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"


def reset_package_caches() -> None:
    from boxcasb import aws_clients, settings, wiring

    aws_clients.reset()
    settings.get_settings.cache_clear()
    wiring.reset()


@pytest.fixture(scope="session")
def fake_box() -> Iterator[Any]:
    from devstack.fake_box import FakeBox

    box = FakeBox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, port=0)
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def stack(fake_box: Any) -> Iterator[Any]:
    from devstack.stack import LocalStack

    # Background workers (SQS pollers, async invokes) share this process's stdout with the CLI
    # under test: keep their logs to warnings and their metrics off. Tests that inspect logs
    # raise the level themselves.
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"

    local = LocalStack(
        template=str(ROOT / "template.yaml"),
        box_base_url=fake_box.url,
        box_client_id=CLIENT_ID,
        box_client_secret=CLIENT_SECRET,
        # Four 15-day windows instead of sixty: the same code paths, a fraction of the local work.
        parameter_overrides={
            "LogLevel": "WARNING",
            "BackfillSettleSeconds": "0",
            "BackfillWindowHours": "360",
            # Connecting is what most tests do; the scan tests turn the first scan back on.
            "ScanAfterApiTest": "false",
        },
    )
    local.start()
    reset_package_caches()
    yield local
    local.stop()


@pytest.fixture(autouse=True)
def _clear_box_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "fake_box" in request.fixturenames:
        request.getfixturevalue("fake_box").faults.clear()


@pytest.fixture
def activity_settings(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Change backfill settings for one test: the handlers read them on their next invocation."""

    def apply(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), str(value))
        reset_package_caches()

    yield apply
    monkeypatch.undo()
    reset_package_caches()


@pytest.fixture
def table(stack: Any) -> Any:
    return boto3.resource("dynamodb").Table(stack.env["TABLE_NAME"])
