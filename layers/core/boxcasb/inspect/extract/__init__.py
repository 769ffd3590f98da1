"""Text extraction from files downloaded from Box, for the detectors: bounded, isolated, streamed."""

from boxcasb.inspect.extract.dispatch import extract_text
from boxcasb.inspect.extract.kinds import Kind, kind_of
from boxcasb.inspect.extract.limits import DEFAULT_LIMITS, ExtractLimits
from boxcasb.inspect.extract.outcome import ExtractionOutcome, Failure

__all__ = [
    "DEFAULT_LIMITS",
    "ExtractLimits",
    "ExtractionOutcome",
    "Failure",
    "Kind",
    "extract_text",
    "kind_of",
]
