"""nxbridge.observability builds Powertools' Tracer only where it traces: a disabled one never loads the X-Ray SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.metrics.exceptions import MetricValueError
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.exceptions import MetricNameError, MetricUnitError

from nxbridge.observability import DisabledTracer, LeanMetrics, tracing_enabled

ROOT = Path(__file__).resolve().parents[2]
IN_LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task"}


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),
        (IN_LAMBDA, True),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": " True "}, False),
        ({**IN_LAMBDA, "AWS_SAM_LOCAL": "true"}, False),
        ({**IN_LAMBDA, "AWS_CHALICE_CLI_MODE": "true"}, False),
    ],
)
def test_tracing_is_on_in_lambda_unless_switched_off(env: dict[str, str], enabled: bool) -> None:
    assert tracing_enabled(env) is enabled


def test_the_disabled_tracer_passes_the_handler_through_and_records_nothing() -> None:
    tracer = DisabledTracer()

    def handler(event: object, context: object) -> str:
        return "answer"

    assert tracer.capture_lambda_handler(handler) is handler
    assert tracer.capture_method(handler) is handler
    with tracer.provider.in_subsegment("## nxcloud.batch_create") as subsegment:
        subsegment.put_annotation("records", "3")
        subsegment.put_metadata("body", {"n": 1})
    tracer.put_annotation("k", "v")


def _drain_import(trace_disabled: str) -> list[object]:
    """Import the drain's handler in a fresh interpreter with Lambda's environment; what tracer it got."""
    code = (
        "import json, sys\n"
        "import nxbridge.handlers.drain\n"
        "from nxbridge import observability\n"
        "print(json.dumps(['aws_xray_sdk' in sys.modules, type(observability.tracer).__name__]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "layers"), env.get("PYTHONPATH", "")]),
        LAMBDA_TASK_ROOT=str(ROOT / "functions" / "drain"),
        AWS_LAMBDA_FUNCTION_NAME="nxbridge-drain",
        AWS_REGION="us-east-1",
        POWERTOOLS_TRACE_DISABLED=trace_disabled,
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    result: list[object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def test_a_disabled_tracer_keeps_the_xray_sdk_out_of_the_cold_start() -> None:
    assert _drain_import("true") == [False, "DisabledTracer"]


def test_tracing_in_lambda_builds_the_powertools_tracer() -> None:
    assert _drain_import("false") == [True, "Tracer"]


# Calls the lean path takes, and calls it leaves to Powertools: a second value, a string unit, high resolution,
# a bool, a name with spaces round it.
METRIC_CALLS: list[tuple[str, Any, Any, Any]] = [
    ("BatchSize", MetricUnit.Count, 100, 60),
    ("NXCloudLatency", MetricUnit.Milliseconds, 12.5, 60),
    ("CustomersSynced", MetricUnit.Count, 0, 60),
    ("BatchSize", MetricUnit.Count, 7, 60),
    ("Strings", "Count", 1, 60),
    ("HighResolution", MetricUnit.Count, 1, MetricResolution.High),
    ("Standard", MetricUnit.Count, 1, MetricResolution.Standard),
    ("Flag", MetricUnit.Count, True, 60),
    ("  Padded ", MetricUnit.Seconds, 2, 60),
]


def _emitted(build: Callable[[], Metrics], calls: list[tuple[str, Any, Any, Any]]) -> str:
    metrics = build()
    metrics.clear_metrics()
    try:
        for name, unit, value, resolution in calls:
            metrics.add_metric(name=name, unit=unit, value=value, resolution=resolution)
        blob = metrics.serialize_metric_set()
    finally:
        metrics.clear_metrics()
    blob["_aws"]["Timestamp"] = 0
    # As printed: 100 and 100.0 are equal in Python but not in the EMF line.
    return json.dumps(blob)


def test_lean_metrics_write_what_powertools_writes() -> None:
    lean = _emitted(lambda: LeanMetrics(namespace="NXBridge", service="nxbridge"), METRIC_CALLS)
    powertools = _emitted(lambda: Metrics(namespace="NXBridge", service="nxbridge"), METRIC_CALLS)

    assert lean == powertools
    assert '"BatchSize": [100.0, 7.0]' in lean
    assert '"Padded": [2.0]' in lean
    assert '{"Name": "NXCloudLatency", "Unit": "Milliseconds"}' in lean


@pytest.mark.parametrize(
    ("name", "unit", "value", "error"),
    [
        ("", MetricUnit.Count, 1, MetricNameError),
        ("x" * 256, MetricUnit.Count, 1, MetricNameError),
        ("Bad", "Parsecs", 1, MetricUnitError),
        ("Bad", MetricUnit.Count, "1", MetricValueError),
    ],
)
def test_lean_metrics_refuse_what_powertools_refuses(name: str, unit: Any, value: Any, error: type[Exception]) -> None:
    metrics = LeanMetrics(namespace="NXBridge", service="nxbridge")
    with pytest.raises(error):
        metrics.add_metric(name=name, unit=unit, value=value)
    metrics.clear_metrics()


def test_lean_metrics_flush_a_full_set_as_powertools_does(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = LeanMetrics(namespace="NXBridge", service="nxbridge")
    metrics.clear_metrics()
    for n in range(101):
        metrics.add_metric(name=f"M{n}", unit=MetricUnit.Count, value=n)

    flushed = json.loads(capsys.readouterr().out)
    assert len(flushed["_aws"]["CloudWatchMetrics"][0]["Metrics"]) == 100
    assert list(metrics.metric_set) == ["M100"]
    metrics.clear_metrics()
