"""Content inspection: text extraction and detectors."""
