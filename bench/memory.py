"""Figure 5: peak RSS of the drain handling a 100-record batch, in a fresh interpreter of the clean venv.

bench/memory_child.py imports functions/drain/app.py, wires the Drainer as production does (real boto3 clients
answered by botocore's Stubber, the real NXCloud client over a canned session), drains one batch of 100 records
with 5 failItems (so the DLQ path runs too), then ten more, and reports ``ru_maxrss`` after each stage.
"""

from __future__ import annotations

import json
import subprocess

from bench.coldstart import ensure_venv, lambda_environment
from bench.common import ROOT, Figure, table
from bench.fakes import DLQ_URL
from bench.memory_child import RESULT_PREFIX

TARGET_MB = 100.0
LAMBDA_MB = 128
BATCHES = 11
COMMAND = "python -m bench --only memory"


def _child(python: str, *args: str, code: str | None = None) -> str:
    env = {
        **lambda_environment("drain"),
        "NXCLOUD_BASE_URL": "https://nxcloud.invalid",
        "NXCLOUD_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:nxcloud-AbCdEf",
        "NXCLOUD_TENANT_ID": "7",
        "NXCLOUD_APP_KEY": "bench-app",
        "DLQ_URL": DLQ_URL,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        # The Tracer is active as in Lambda: a trace header and a daemon address (UDP, nothing listens).
        "_X_AMZN_TRACE_ID": "Root=1-68400000-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    }
    command = [python, "-c", code] if code is not None else [python, "-m", "bench.memory_child", *args]
    completed = subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return completed.stdout


def run() -> Figure:
    """Peak RSS after importing the drain, building its clients, one batch, and eleven batches."""
    python = str(ensure_venv())
    output = _child(python, str(BATCHES))
    line = next(line for line in output.splitlines() if line.startswith(RESULT_PREFIX))
    result = json.loads(line.removeprefix(RESULT_PREFIX))
    if result["failures"]:
        raise AssertionError(f"the drain reported batchItemFailures: {result}")
    boto3_only = json.loads(
        _child(python, code="import boto3, json\nfrom bench.memory_child import rss_mb\nprint(json.dumps(rss_mb()))")
    )
    stages: dict[str, list[float]] = result["stages"]
    peak = max(hwm for hwm, _ in stages.values())
    rows = [["python + `import boto3` alone (for comparison)", f"{boto3_only[0]:.1f} MB", f"{boto3_only[1]:.1f} MB"]]
    rows += [[stage, f"{hwm:.1f} MB", f"{maxrss:.1f} MB"] for stage, (hwm, maxrss) in stages.items()]
    details = [
        f"Fresh interpreter of the clean venv; batches of 100 records ({result['body_bytes']:,}-byte request body) "
        "with 5 failItems each; peak RSS after each stage.",
        "",
        *table(["stage", "peak RSS (VmHWM)", "ru_maxrss"], rows),
        "",
        "The figure is VmHWM: Linux carries `ru_maxrss` across fork and exec, so in a child of the benchmark "
        "process it starts at the parent's size (the right column); VmHWM counts this program's address space only.",
        "",
        f"Lambda's memory limit counts the whole process: {LAMBDA_MB} MB would leave "
        f"{LAMBDA_MB - peak:.0f} MB of headroom (template.yaml gives the drain 512 MB for CPU, not memory).",
    ]
    return Figure(
        number=5,
        name="memory",
        title="Drain memory",
        value=f"{peak:.1f} MB peak RSS after {BATCHES} batches of 100",
        target=f"<= {TARGET_MB:g} MB (fits {LAMBDA_MB} MB with margin)",
        passed=peak <= TARGET_MB,
        command=COMMAND,
        details=details,
        data={"peak_mb": peak},
    )
