"""``python -m tests.chaos``: the chaos run of tests/chaos outside pytest, at any size (``--webhooks 20000``).

Starts its own local stack, runs the same scenario and the same conservation checks as the test, prints the
counts as a Markdown table (the format of docs/testing.md) and exits 1 if conservation is broken or a log line
leaked PII or a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import time
from dataclasses import replace
from typing import Any

from nxbridge.observability import logger
from tests.fixtures.chaos import ChaosConfig, conservation_problems, run_chaos
from tests.fixtures.security import LogAudit

# What the test suite's autouse fixture sets: fake credentials, no tracing, the test namespace.
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_SERVICE_NAME": "nxbridge",
}


def markdown(report: dict[str, Any]) -> str:
    """The report as the table of docs/testing.md."""
    rows = ["| count | value |", "|---|---|"]
    for key, value in report.items():
        shown = ", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
        rows.append(f"| {key} | {shown or '-'} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Run, print the counts, return 0 when every accepted customer is accounted for and no log leaked."""
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--webhooks", type=int, default=defaults.webhooks, help="webhooks to post (default 1000)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the traffic, faults and crashes")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON instead of Markdown")
    args = parser.parse_args(argv)
    config = replace(defaults, webhooks=args.webhooks, seed=args.seed)

    os.environ.update(ENVIRONMENT)
    os.environ.update(config.drain_environment())
    from nxbridge_dev.local.stack import LocalStack  # noqa: PLC0415 - after the environment is set

    audit = LogAudit()
    logging.getLogger().addHandler(audit)
    # The functions' JSON logs and EMF metrics would flood the terminal: the logs are audited from their records,
    # the metrics from the captured stdout.
    handler = logger.registered_handler
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole run
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sink)
    captured = io.StringIO()
    report_to = sys.stdout
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{time.monotonic() - started:7.1f} s] {line}", file=sys.stderr, flush=True)

    with contextlib.redirect_stdout(captured), LocalStack(config.settings(region="eu-west-1")) as stack:
        outcome = run_chaos(stack, config, audit, progress)
    audit.output = captured.getvalue()
    report = outcome.report()
    problems = conservation_problems(outcome)
    leaks = audit.leaks()

    print(json.dumps(report, indent=2) if args.json else markdown(report), file=report_to)
    for problem in problems[:50]:
        print(f"CONSERVATION: {problem}", file=report_to)
    for leak in leaks[:50]:
        print(f"LOG LEAK: {leak}", file=report_to)
    print("OK" if not problems and not leaks else "FAILED", file=report_to)
    return 0 if not problems and not leaks else 1


if __name__ == "__main__":
    sys.exit(main())
