"""A Shopify export imported into the local stack ends in NXCloud in full batches, and importing it again adds none."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nxbridge.cli import build_parser
from nxbridge.importer import cli as import_cli
from nxbridge_dev.local.stack import ROOT, LocalStack
from tests.integration.test_import_moto import export_of

pytestmark = pytest.mark.e2e

StartStack = Callable[..., LocalStack]
ROWS = 5000
# Longer than the import ever takes to send 100 rows, so that only the last two batches (one per poller) are partial.
BATCH_WINDOW_SECONDS = 10.0
# As AWS requires of an event source: above the drain's 60 s timeout (plus the window), so that no message comes
# back while its batch is still being gathered or drained.
VISIBILITY_TIMEOUT_SECONDS = 75


def nxbridge_import(home: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    """``nxbridge import`` in this process, as an operator would run it against what the stack prints.

    The stack has set AWS_ENDPOINT_URL and the fake credentials, as its banner's ``export`` line does.
    """
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["import", *argv, "--json"])
    status = import_cli.run(args, out=out, err=err, env={"NXBRIDGE_HOME": str(home)})
    assert status == 0, err.getvalue()
    summary: dict[str, Any] = json.loads(out.getvalue())
    return status, summary


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_shopify_export_of_5000_rows_reaches_nxcloud_in_51_calls_and_a_second_run_adds_none(
    start_local_stack: StartStack, tmp_path: Path
) -> None:
    stack = start_local_stack(batch_window=BATCH_WINDOW_SECONDS, visibility_timeout=VISIBILITY_TIMEOUT_SECONDS)
    assert stack.simulator is not None
    export = export_of(tmp_path / "customers_export.csv", ROWS)
    argv = [str(export), "--format", "shopify-csv", "--endpoint", "shopify"]
    argv += [
        "--queue-url",
        stack.require_resources().queue_url,
        "--endpoints-file",
        str(ROOT / "events" / "endpoints.json"),
    ]
    home = tmp_path / "home"

    _, summary = nxbridge_import(home, *argv)
    assert (summary["queued"], summary["rejected"], summary["complete"]) == (ROWS, 0, True)
    settled = stack.wait_settled(600)
    assert settled["customers"] == {"synced": ROWS, "failed": 0, "superseded": 0, "retried": 0}
    assert settled["simulator"]["stored"] == ROWS
    calls = settled["simulator"]["calls"]
    assert calls <= ROWS // 100 + 1

    _, again = nxbridge_import(home, *argv)
    assert (again["queued"], again["skipped"]) == (0, ROWS)
    after = stack.wait_settled(30)
    assert (after["simulator"]["calls"], after["simulator"]["stored"]) == (calls, ROWS)
