"""A view of the logs as production would keep them, for tests that check no secret is logged."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from boxcasb.observability import logger


class LogTap:
    """What production would keep: our logger rendered at DEBUG (the most the template's LogLevel
    allows), every other logger's records at INFO (Lambda's default application log level)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog
        self._rendered = io.StringIO()
        self._handler = logging.StreamHandler(self._rendered)
        self._handler.setFormatter(logger.registered_formatter)
        self._level = logger.log_level

    def attach(self) -> None:
        logging.getLogger(logger.name).addHandler(self._handler)
        logger.setLevel(logging.DEBUG)
        self._caplog.set_level(logging.INFO)
        logger.debug("log tap ready")
        assert "log tap ready" in self.text()  # the tap sees our logger at all
        self.clear()

    def detach(self) -> None:
        logging.getLogger(logger.name).removeHandler(self._handler)
        logger.setLevel(self._level)

    def text(self) -> str:
        return self._rendered.getvalue() + self._caplog.text

    def clear(self) -> None:
        self._rendered.seek(0)
        self._rendered.truncate()
        self._caplog.clear()


@pytest.fixture
def log_tap(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[LogTap]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    tap = LogTap(caplog)
    tap.attach()
    try:
        yield tap
    finally:
        tap.detach()
