"""Sensitive content detectors: all patterns in one hyperscan pass, checked and masked in Python."""

from boxcasb.inspect.detect.detector_set import DetectorSet
from boxcasb.inspect.detect.model import InvalidPattern, UnknownDetector
from boxcasb.inspect.detect.patterns import BUILTIN_DETECTORS
from boxcasb.inspect.detect.scanner import ContentScanner, Detections

__all__ = [
    "BUILTIN_DETECTORS",
    "ContentScanner",
    "Detections",
    "DetectorSet",
    "InvalidPattern",
    "UnknownDetector",
]
