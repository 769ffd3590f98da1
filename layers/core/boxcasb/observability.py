"""Powertools objects, created once for the whole package."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="boxcasb")
metrics = Metrics(namespace="BoxCasb", service="boxcasb")
