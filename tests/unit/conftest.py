"""Fixtures shared by the unit tests."""

from tests.support.log_tap import log_tap

__all__ = ["log_tap"]
