"""The one Logger, Metrics and Tracer of the package, with a formatter that redacts PII before output."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

# The package imports its Tracer module anyway; that module loads the X-Ray SDK only when a Tracer is built.
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.constants import MAX_METRIC_NAME_LENGTH, MAX_METRICS

from nxbridge.redact import redact_fields

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "nxbridge")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "NXBridge")
# Powertools' spellings of true for POWERTOOLS_TRACE_DISABLED.
_TRUE = frozenset({"1", "y", "yes", "t", "true", "on"})

F = TypeVar("F", bound=Callable[..., Any])

# Powertools checks the record's attributes against a 24-item tuple, once per attribute of every record.
_RESERVED = frozenset(RESERVED_LOG_ATTRS)
# The default keys' templates, filled here from the record without building the dict ``%`` formatting needs.
_DEFAULT_KEYS = {"level": "%(levelname)s", "location": "%(funcName)s:%(lineno)d", "timestamp": "%(asctime)s"}
# The first characters that can open a JSON document for json.loads (after JSON whitespace).
_JSON_STARTS = frozenset('"{[-0123456789ntfNI')
_JSON_WHITESPACE = " \t\n\r"


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools JSON formatter that masks PII and secrets in every log line, message and extras alike.

    Each line the drain writes cost ~75 µs in Powertools' formatter, as much as the drain's own work on 15 records.
    The overrides below give the same keys, values and order, cheaper: the default keys filled straight from the
    record, the timestamp's second formatted once per second, no JSON decoding tried on a message that cannot be
    JSON, one encoder instead of one per line. Any other configuration (custom keys with record templates, a date
    format, thread-safe keys, a custom deserializer) goes through Powertools' own code.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if "json_serializer" not in kwargs:
            # ``json.dumps`` with options builds a new JSONEncoder on every call; this is the one it would build.
            self.json_serializer = json.JSONEncoder(
                default=self.json_default, separators=(",", ":"), indent=self.json_indent, ensure_ascii=False
            ).encode
        head, _, tail = self.default_time_format.partition(self.custom_ms_time_directive)
        self._time_parts = (head, tail)
        self._second: tuple[int, str, str] | None = None

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        return super().serialize(redact_fields(log))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt or self.datefmt or self.use_rfc3339_iso8601 or self.use_datetime_directive:
            return super().formatTime(record, datefmt)
        # The default format, ``2021-05-03 10:20:19,650+0200``: everything but the milliseconds changes once a second.
        second = int(record.created)
        cached = self._second
        if cached is None or cached[0] != second:
            stamp = self.converter(record.created)
            head, tail = self._time_parts
            cached = self._second = (second, time.strftime(head, stamp), time.strftime(tail, stamp))
        return cached[1] + "%03d" % record.msecs + cached[2]  # noqa: UP031 - Powertools' own rendering of msecs

    def _extract_log_message(self, log_record: logging.LogRecord) -> Any:
        message = log_record.msg
        if (
            type(message) is str
            and not log_record.args
            and self.json_deserializer is json.loads
            and message.lstrip(_JSON_WHITESPACE)[:1] not in _JSON_STARTS
        ):
            # json.loads would raise at the first character: the message is the text itself, as Powertools returns.
            return message
        return super()._extract_log_message(log_record)

    def _extract_log_keys(self, log_record: logging.LogRecord) -> dict[str, Any]:
        if self.thread_safe_get_current_keys():
            return super()._extract_log_keys(log_record)
        formatted_log: dict[str, Any] = {}
        for key, value in self.log_format.items():
            if value and key in _RESERVED:
                if value != _DEFAULT_KEYS.get(key):
                    return super()._extract_log_keys(log_record)
                if key == "level":
                    formatted_log[key] = log_record.levelname
                elif key == "location":
                    formatted_log[key] = f"{log_record.funcName}:{log_record.lineno:d}"
                else:
                    formatted_log[key] = self.formatTime(log_record)
            else:
                formatted_log[key] = value
        formatted_log.update({key: value for key, value in log_record.__dict__.items() if key not in _RESERVED})
        return formatted_log


# CloudWatch's standard resolution, Powertools' default (MetricResolution.Standard).
_STANDARD_RESOLUTION = 60


class LeanMetrics(Metrics):
    """Powertools Metrics whose ``add_metric`` writes the common new metric straight into the metric set.

    The drain adds ten metrics to every batch, and Powertools' add_metric checks the unit against lists of every
    MetricUnit and formats a debug message holding the metric on each call: five times what the entry costs to
    write. A metric not yet in the set, with a MetricUnit, the standard resolution, an int or float value and a
    valid name gets the entry Powertools would write (unit, resolution, the value as a float); any other call,
    and one that would fill the set (Powertools then flushes it), goes through Powertools' own add_metric.
    """

    def add_metric(
        self, name: str, unit: MetricUnit | str, value: float, resolution: MetricResolution | int = 60
    ) -> None:
        """Add ``value`` to metric ``name``, as Powertools does."""
        metric_set = self.metric_set
        if (
            type(unit) is MetricUnit
            and type(resolution) is int
            and resolution == _STANDARD_RESOLUTION
            and type(value) in (int, float)
            and name not in metric_set
            and len(metric_set) < MAX_METRICS - 1
            and 0 < len(name) <= MAX_METRIC_NAME_LENGTH
            and name == name.strip()
        ):
            metric: defaultdict[str, Any] = defaultdict(list)
            metric["Unit"] = unit.value
            metric["StorageResolution"] = _STANDARD_RESOLUTION
            metric["Value"].append(float(value))
            metric_set[name] = metric
            return
        super().add_metric(name=name, unit=unit, value=value, resolution=resolution)


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
metrics = LeanMetrics(namespace=NAMESPACE, service=SERVICE)


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


class _NoSegmentContext:
    """``with`` of a subsegment that is never sent: a class rather than a generator, which costs several times more
    to enter and leave (the drain opens one per NXCloud call)."""

    def __enter__(self) -> _NoSubsegment:
        return _NoSubsegment()

    def __exit__(self, *exc_info: object) -> None:
        return None


class _NoProvider:
    """The part of the X-Ray recorder the package uses, doing nothing."""

    def in_subsegment(self, name: str, **kwargs: Any) -> contextlib.AbstractContextManager[_NoSubsegment]:
        """A subsegment that is never sent."""
        return _NoSegmentContext()


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
# What the bridge calls: AWS through botocore, NXCloud through requests. Powertools' default (X-Ray's patch_all) also
# imports X-Ray's extension for every other library it supports (sqlite3, pynamodb, mysql, ...) and looks each
# one up, a tenth of the drain's import time, to trace calls the bridge never makes.
TRACED_MODULES = ("botocore", "requests")


def __getattr__(name: str) -> Tracer | DisabledTracer:
    """Build ``tracer`` on first use: a Powertools Tracer (which imports and patches the X-Ray SDK) when
    :func:`tracing_enabled`, else a :class:`DisabledTracer`. ``from nxbridge.observability import tracer`` works."""
    global _tracer  # noqa: PLW0603
    if name != "tracer":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _tracer is None:
        _tracer = Tracer(service=SERVICE, patch_modules=TRACED_MODULES) if tracing_enabled() else DisabledTracer()
    return _tracer
