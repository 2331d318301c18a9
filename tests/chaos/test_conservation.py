"""Conservation under chaos: every accepted customer ends in NXCloud exactly once or in the DLQ with a reason, and
an older version arriving after a newer one (superseded, or overwritten) never leaves NXCloud with the older one.

N signed webhooks of every kind go over HTTP into the local stack (the real ingest and drain functions on moto
and the NXCloud simulator) while NXCloud answers at random with HTTP 500/429, hangs, garbage, 1003 and 1004,
stores and then answers 500, refuses poison records (12148, strict_binding=false) and rejects some records as
failItems; while the drain dies at random right after an NXCloud call or after handling a batch; and while a
1003 outage lasts long enough for SQS to redrive a whole wave to the DLQ. Sizes: NXBRIDGE_CHAOS_N (default
1,000); ``python -m tests.chaos`` runs the same scenario outside pytest (docs/testing.md).
"""

from __future__ import annotations

import json
import os

import pytest

from nxbridge_dev.local.stack import LocalStack
from tests.fixtures.chaos import ChaosConfig, conservation_problems, run_chaos
from tests.fixtures.security import LogAudit

pytestmark = [pytest.mark.chaos, pytest.mark.slow]
# The default run takes about two minutes on two cores; bigger runs get proportionally more time.
TIMEOUT = max(300, int(os.environ.get("NXBRIDGE_CHAOS_N") or 1000) // 4)


@pytest.mark.timeout(TIMEOUT)
# Both functions run in this one process, and Powertools' metric buffer is process-wide: one handler's flush can
# take the other's metrics and leave it an empty flush, which Powertools warns about (in Lambda they never share).
@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_every_accepted_customer_is_stored_once_or_dead_lettered_with_a_reason_under_chaos(
    chaos_stack: LocalStack, chaos_config: ChaosConfig, log_audit: LogAudit
) -> None:
    outcome = run_chaos(chaos_stack, chaos_config, log_audit)
    report = outcome.report()
    print("chaos report:", json.dumps(report))
    report_file = os.environ.get("NXBRIDGE_CHAOS_REPORT")
    if report_file:
        with open(report_file, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)

    assert conservation_problems(outcome) == [], report
    assert report["lost"] == 0
    assert report["accepted"] == report["stored"] + report["dlq_customers"]
    assert report["customer_ids_checked"] > 0
    # Older versions arrived after newer ones, and some were superseded rather than sent (newest wins).
    assert report["stale_webhooks"] > 0
    assert report["superseded"] > 0
    # The run exercised what it claims to: every fault, both crash points, poison records, failItems, redrive.
    assert set(report["faults_injected"]) >= {
        "http_500",
        "http_429",
        "timeout",
        "garbage",
        "code:1003",
        "code:1004",
        "store_then_500",
    }
    assert report["crashes_after_call"] > 0
    # Every environment the drain scaled out to ran with the crashing, recording sender.
    assert report["drain_environments_observed"] == report["drain_environments"] > 0
    assert report["crashes_before_ack"] > 0
    assert report["dlq_records_by_reason"].get("bisect:12148", 0) > 0
    assert report["dlq_records_by_reason"].get("nxcloud:12004", 0) > 0
    assert report["dlq_records_by_reason"].get("redrive", 0) >= report["storm_customers"] > 0
