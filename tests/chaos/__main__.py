"""``python -m tests.chaos``: the chaos run of tests/chaos outside pytest, at any size (``--webhooks 20000``).

Starts its own local stack, runs the same scenario and the same conservation checks as the test, plus the
accounting of customer versions (accepted = stored + dead-lettered + superseded), prints the counts as a Markdown
table (the format of docs/testing.md) and exits 1 if any is broken or a log line leaked PII or a secret. Figure 9
of the benchmarks (``python -m bench --only chaos``) runs it with ``--webhooks 20000 --out FILE``.
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
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from nxbridge.observability import logger
from nxbridge_dev.simulator.faults import FAULTS
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


@dataclass
class ChaosRun:
    """One run outside pytest: its counts, every broken rule (conservation, version accounting, log leaks), the
    faults the simulator knows, and how long it took."""

    report: dict[str, Any]
    conservation: list[str]
    versions: list[str]
    leaks: list[str]
    fault_kinds: list[str]
    seconds_wall: float

    @property
    def ok(self) -> bool:
        """Nothing broken."""
        return not (self.conservation or self.versions or self.leaks)

    def document(self) -> dict[str, Any]:
        """The run as JSON (what ``--out`` writes and figure 9 of the benchmarks reads)."""
        return {**asdict(self), "ok": self.ok}


def run(config: ChaosConfig, progress: Callable[[str], None] | None = None) -> ChaosRun:
    """Start a local stack in this process, run ``config`` on it, audit the logs; the process environment gets the
    test suite's fake AWS credentials and the drain's tuning variables."""
    started = time.monotonic()
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
    with contextlib.redirect_stdout(captured), LocalStack(config.settings(region="eu-west-1")) as stack:
        outcome = run_chaos(stack, config, audit, progress)
    audit.output = captured.getvalue()
    return ChaosRun(
        report=outcome.report(),
        conservation=conservation_problems(outcome),
        versions=outcome.versions().problems(),
        leaks=audit.leaks(),
        fault_kinds=sorted(FAULTS),
        seconds_wall=round(time.monotonic() - started, 1),
    )


def main(argv: list[str] | None = None) -> int:
    """Run, print the counts, return 0 when every accepted customer is accounted for and no log leaked."""
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--webhooks", type=int, default=defaults.webhooks, help="webhooks to post (default 1000)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the traffic, faults and crashes")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON instead of Markdown")
    parser.add_argument("--out", type=Path, default=None, help="also write the whole run (counts, problems) as JSON")
    args = parser.parse_args(argv)
    config = replace(defaults, webhooks=args.webhooks, seed=args.seed)
    report_to = sys.stdout
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{time.monotonic() - started:7.1f} s] {line}", file=sys.stderr, flush=True)

    result = run(config, progress)
    if args.out is not None:
        args.out.write_text(json.dumps(result.document(), indent=2), encoding="utf-8")
    report = result.report
    print(json.dumps(report, indent=2) if args.json else markdown(report), file=report_to)
    for problem in result.conservation[:50]:
        print(f"CONSERVATION: {problem}", file=report_to)
    for problem in result.versions[:50]:
        print(f"VERSIONS: {problem}", file=report_to)
    for leak in result.leaks[:50]:
        print(f"LOG LEAK: {leak}", file=report_to)
    print("OK" if result.ok else "FAILED", file=report_to)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
