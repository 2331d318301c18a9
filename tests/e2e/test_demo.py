"""``nxbridge demo`` posts every sample over HTTP and exits 0 only when the outcome is exactly the expected one."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nxbridge_dev.local.demo import EVENTS_DIR, run_demo
from nxbridge_dev.local.stack import ROOT

pytestmark = pytest.mark.e2e


def test_make_demo_reports_every_outcome_and_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nxbridge", "demo", "--batch-window", "1", "--timeout", "60"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        check=False,
    )

    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "202  api/shopify.json" in out
    assert "401  demo/shopify-bad-signature.json  unauthorized" in out
    assert "200  demo/shopify-duplicate.json      duplicate delivery" in out
    assert "synced      9 customers" in out
    assert "nxcloud: 12148" in out
    assert "Replayed 1 DLQ record(s)" in out
    assert "synced      10 customers" in out
    assert "in DLQ      0 record(s)" in out
    assert out.rstrip().endswith("describes.")
    # The functions' JSON logs and metrics stay out of the report.
    assert '"_aws"' not in out
    assert '"level"' not in out


def test_demo_exits_1_and_names_the_differences_when_the_outcome_is_not_the_expected_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events"
    shutil.copytree(EVENTS_DIR, events)
    expected_file = events / "demo" / "expected.json"
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    expected["deliveries"]["demo/shopify-bad-signature.json"] = {"status": 202, "accepted": 1}
    expected["customers"].remove("lena.fischer@example.de")
    expected_file.write_text(json.dumps(expected), encoding="utf-8")

    status = run_demo(argparse.Namespace(events=events, batch_window=1.0, timeout=60.0, verbose=False))

    out = capsys.readouterr().out
    assert status == 1
    assert "FAILED" in out
    assert "demo/shopify-bad-signature.json: status 401, expected 202" in out
    assert "after settling: NXCloud holds 9 customers, expected 8" in out
