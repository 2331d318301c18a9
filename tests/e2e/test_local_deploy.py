"""The local stack is the deployed template: it follows template.yaml and answers the AWS tools as a stack does."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from nxbridge_dev.local.demo import load_deliveries, post
from nxbridge_dev.local.stack import ROOT, LocalStack
from tests.fixtures.local import reject_tom_for_his_seat

pytestmark = pytest.mark.e2e

StartStack = Callable[..., LocalStack]


def _template_copy(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    copy = tmp_path / "template.yaml"
    copy.write_text(text, encoding="utf-8")
    return copy


def _banner_environment(stack: LocalStack) -> dict[str, str]:
    """The variables of the banner's ``export`` line, on top of this process's environment."""
    [line] = [line.strip() for line in stack.banner().splitlines() if line.strip().startswith("export ")]
    exported = dict(item.split("=", 1) for item in shlex.split(line)[1:])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **exported}


def test_a_value_changed_in_the_template_is_what_the_local_stack_runs_with(
    start_local_stack: StartStack, tmp_path: Path
) -> None:
    copy = _template_copy(
        tmp_path,
        ("            BatchSize: 100\n", "            BatchSize: 3\n"),
        # The largest sample (typeform) is under 3 KB.
        ('          MAX_BODY_BYTES: "1048576"\n', '          MAX_BODY_BYTES: "4096"\n'),
    )
    stack = start_local_stack(template_file=copy)
    assert stack.simulator is not None

    with requests.Session() as session:
        answers = [post(session, stack.base_url, d) for d in load_deliveries() if d.name.startswith("api/")]
    oversized = requests.post(stack.webhook_url("shopify"), data=b"{" + b" " * 5000 + b"}", timeout=10)
    status = stack.wait_settled(30)

    accepted = sum(a.body["accepted"] for a in answers)
    assert accepted == 8
    assert status["poller"]["received"] == accepted
    # Every batch_create call carried at most the template's (changed) batch size.
    counts = [call.customer_count for call in stack.simulator.calls]
    assert sum(c or 0 for c in counts) == accepted
    assert max(c or 0 for c in counts) <= 3
    assert oversized.status_code == 413


def test_with_the_stack_up_describe_stacks_and_nxbridge_dlq_stats_work_from_another_shell(
    start_local_stack: StartStack,
) -> None:
    stack = start_local_stack(nxcloud_strict_binding=True)
    reject_tom_for_his_seat(stack)
    env = _banner_environment(stack)
    describe = (
        "import boto3, json; [s] = boto3.client('cloudformation').describe_stacks(StackName='nxbridge')['Stacks'];"
        "outputs = {o['OutputKey']: o['OutputValue'] for o in s['Outputs']};"
        "print(json.dumps({'status': s['StackStatus'], 'outputs': outputs}))"
    )

    described = subprocess.run(
        [sys.executable, "-c", describe], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    stats = subprocess.run(
        [sys.executable, "-m", "nxbridge", "dlq", "stats", "--stack", "nxbridge", "--json", "--wait-seconds", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )

    assert described.returncode == 0, described.stderr
    stack_description = json.loads(described.stdout)
    deployment = stack.require_resources()
    assert stack_description["status"] == "CREATE_COMPLETE"
    assert stack_description["outputs"]["QueueUrl"] == deployment.outputs["QueueUrl"]
    assert stack_description["outputs"]["DlqUrl"] == deployment.outputs["DlqUrl"]
    assert stats.returncode == 0, stats.stdout + stats.stderr
    assert json.loads(stats.stdout)["by_error_code"] == {"12148": 1}


def test_a_template_that_does_not_deploy_stops_nxbridge_run_with_cloudformations_reason(tmp_path: Path) -> None:
    copy = _template_copy(tmp_path, ("      MessageRetentionPeriod: 1209600\n", "      MessageRetentionPeriod: ever\n"))
    env = {**os.environ, "PORT": "0", "TEMPLATE_FILE": str(copy), "PYTHONPATH": os.pathsep.join(sys.path)}

    result = subprocess.run(
        [sys.executable, "-m", "nxbridge", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "CREATE_FAILED: CustomersDLQ (AWS::SQS::Queue)" in output
    assert "ever" in output
    assert "Traceback" not in output


def test_a_template_that_does_not_transform_stops_nxbridge_run_with_the_translators_reason(tmp_path: Path) -> None:
    copy = _template_copy(
        tmp_path, ("      Description: Inspects, replays and erases", "      Descriptio: Inspects, replays and erases")
    )
    env = {**os.environ, "PORT": "0", "TEMPLATE_FILE": str(copy), "PYTHONPATH": os.pathsep.join(sys.path)}

    result = subprocess.run(
        [sys.executable, "-m", "nxbridge", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "does not transform" in output
    assert "ReplayFunction" in output
    assert "Traceback" not in output
