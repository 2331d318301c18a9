"""nxbridge.observability builds Powertools' Tracer only where it traces: a disabled one never loads the X-Ray SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nxbridge.observability import DisabledTracer, tracing_enabled

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
