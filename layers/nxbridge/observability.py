"""The one Logger, Metrics and Tracer of the package, with a formatter that redacts PII before output."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord

from nxbridge.redact import redact

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "nxbridge")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "NXBridge")


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools JSON formatter that masks PII and secrets in every log line, message and extras alike."""

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        return super().serialize(redact(dict(log)))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_tracer: Tracer | None = None


def __getattr__(name: str) -> Tracer:
    """Build ``tracer`` on first use: constructing a Tracer imports the X-Ray SDK (~0.3 s), which a handler that
    never traces should not pay for at import time. ``from nxbridge.observability import tracer`` still works."""
    global _tracer  # noqa: PLW0603
    if name != "tracer":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _tracer is None:
        _tracer = Tracer(service=SERVICE)
    return _tracer
