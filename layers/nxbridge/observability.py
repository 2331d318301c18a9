"""The one Logger, Metrics and Tracer of the package, with a formatter that redacts PII before output."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

# The package imports its Tracer module anyway; that module loads the X-Ray SDK only when a Tracer is built.
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord

from nxbridge.redact import redact

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "nxbridge")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "NXBridge")
# Powertools' spellings of true for POWERTOOLS_TRACE_DISABLED.
_TRUE = frozenset({"1", "y", "yes", "t", "true", "on"})

F = TypeVar("F", bound=Callable[..., Any])


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools JSON formatter that masks PII and secrets in every log line, message and extras alike."""

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        return super().serialize(redact(dict(log)))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def tracing_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether Powertools' Tracer would trace here: in Lambda (``LAMBDA_TASK_ROOT``), not under ``sam local`` or
    Chalice, and not switched off by ``POWERTOOLS_TRACE_DISABLED`` (the tests and the local stack set it)."""
    source = os.environ if env is None else env
    if source.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUE:
        return False
    return (
        bool(source.get("LAMBDA_TASK_ROOT"))
        and not source.get("AWS_SAM_LOCAL")
        and not source.get("AWS_CHALICE_CLI_MODE")
    )


class _NoSubsegment:
    """What ``in_subsegment`` yields when nothing is traced: annotations and metadata go nowhere."""

    def put_annotation(self, key: str, value: Any) -> None:
        """Nothing to annotate."""

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        """Nothing to record."""


class _NoProvider:
    """The part of the X-Ray recorder the package uses, doing nothing."""

    @contextlib.contextmanager
    def in_subsegment(self, name: str, **kwargs: Any) -> Iterator[_NoSubsegment]:
        """A subsegment that is never sent."""
        yield _NoSubsegment()


class DisabledTracer:
    """The Tracer's surface when tracing is off: unlike a disabled Powertools Tracer, it never imports the X-Ray SDK
    (about a tenth of a drain's cold start) only to switch it off."""

    provider = _NoProvider()

    def capture_lambda_handler(self, lambda_handler: Callable[..., Any]) -> Callable[..., Any]:
        """The handler itself: there is no segment to open (typed as Powertools' decorator is)."""
        return lambda_handler

    def capture_method(self, method: F) -> F:
        """The method itself."""
        return method

    def put_annotation(self, key: str, value: Any) -> None:
        """Nothing to annotate."""

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        """Nothing to record."""


_tracer: Tracer | DisabledTracer | None = None


def __getattr__(name: str) -> Tracer | DisabledTracer:
    """Build ``tracer`` on first use: a Powertools Tracer (which imports and patches the X-Ray SDK) when
    :func:`tracing_enabled`, else a :class:`DisabledTracer`. ``from nxbridge.observability import tracer`` works."""
    global _tracer  # noqa: PLW0603
    if name != "tracer":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _tracer is None:
        _tracer = Tracer(service=SERVICE) if tracing_enabled() else DisabledTracer()
    return _tracer
