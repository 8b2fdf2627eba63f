"""The one Logger / Metrics / Tracer of this service (Powertools reads POWERTOOLS_* variables)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "testgenie")
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TestGenie")

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
