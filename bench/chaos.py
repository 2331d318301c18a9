"""Figure 9: conservation under chaos at 20,000 webhooks, the suite's chaos run (tests/chaos) twenty times over.

``python -m tests.chaos --webhooks 20000`` runs in a child process (it sets the process environment and moto's
global state): the whole local stack with every fault kind of the NXCloud simulator, both drain kills (after an
NXCloud call, before the acknowledgement) and a 1003 outage that SQS redrives to the DLQ. The harness is
tests/fixtures/chaos.py, the same as the suite's; its counts come from the system's own records: NXCloud's stored
customers, every DLQ message, the drain's synced and superseded records. A customer version (each customer of
each accepted webhook, the older versions sent after the newer ones included) counts once, and one that no record
places is left over, so the equation can fail.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from bench.common import ROOT, Figure, table

WEBHOOKS = 20_000
COMMAND = "python -m bench --only chaos"
TARGET = "0 lost, 0 stored twice, accepted = stored + DLQ + superseded; every fault kind and both drain kills"
# Lines of the child's stderr kept for a failure message; seconds between the progress lines shown.
TAIL_LINES = 40
PROGRESS_SECONDS = 60.0


def run(*, webhooks: int = WEBHOOKS, seed: int | None = None) -> Figure:
    """Run the chaos harness at ``webhooks`` in a child process and judge what it found."""
    command = [sys.executable, "-m", "tests.chaos", "--webhooks", str(webhooks), "--json"]
    if seed is not None:
        command += ["--seed", str(seed)]
    # (No "nxbridge" in the child's command line: on a shared machine, cleanups by name stop `nxbridge run`s.)
    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as scratch:
        out = Path(scratch) / "chaos.json"
        started = time.monotonic()
        code, tail = _child([*command, "--out", str(out)])
        wall = time.monotonic() - started
        if not out.exists():
            return unfinished(code, tail, webhooks=webhooks, wall=wall)
        document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return figure(document, webhooks=webhooks, wall=wall, seed=seed)


def unfinished(code: int, tail: list[str], *, webhooks: int, wall: float) -> Figure:
    """A FAIL with the target when the child ended without a result (killed, or crashed)."""
    how = f"killed by signal {-code}" if code < 0 else f"exited {code}"
    last = next((line for line in reversed(tail) if line.startswith("[")), "no progress line")
    return Figure(
        number=9,
        name="chaos",
        title="Conservation under chaos",
        value=f"did not finish: python -m tests.chaos {how} after {wall:.0f} s (last: {last})",
        target=TARGET,
        passed=False,
        command=COMMAND + ("" if webhooks == WEBHOOKS else f" --chaos-webhooks {webhooks}"),
        details=["The last lines of its stderr:", "", "```", *tail, "```"],
    )


def _child(command: list[str]) -> tuple[int, list[str]]:
    """Run ``command`` from the checkout; echo its progress lines, keep the last lines of its stderr."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    process = subprocess.Popen(
        command, cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    reader = threading.Thread(target=_follow, args=(process.stderr, tail), daemon=True)
    reader.start()
    code = process.wait()
    reader.join()
    return code, list(tail)


def _follow(stream: IO[str], tail: collections.deque[str]) -> None:
    shown = -PROGRESS_SECONDS
    for line in stream:
        tail.append(line.rstrip("\n"))
        # The harness's progress lines start with the elapsed time (one per wave of 100: one a minute is shown,
        # and the outage's); the rest (tracebacks of the simulator's hung-up connections, Powertools warnings) is
        # kept for a failure message only.
        if line.startswith("[") and (time.monotonic() - shown >= PROGRESS_SECONDS or "posted" not in line):
            shown = time.monotonic()
            print(f"  {line.rstrip()}", flush=True)


def faults_missing(report: dict[str, Any], kinds: list[str]) -> list[str]:
    """The simulator's fault kinds that the run never injected (``code`` counts as ``code:<N>``)."""
    injected = report.get("faults_injected", {})
    return [kind for kind in kinds if not any(k == kind or k.startswith(f"{kind}:") for k in injected)]


def checks(document: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """Each rule the figure is judged by: (rule, held, what was found)."""
    report = document["report"]
    versions = report["versions"]
    superseded = versions["superseded_by_drain"] + versions["overwritten"]
    missing = faults_missing(report, document["fault_kinds"])
    reasons = report["dlq_records_by_reason"]
    equation = f"{versions['accepted']:,} = {versions['stored']:,} + {versions['dead_lettered']:,} + {superseded:,}"
    return [
        ("0 lost (accepted customers neither stored nor in the DLQ)", report["lost"] == 0, f"{report['lost']:,}"),
        ("0 stored twice", report["stored_twice"] == 0, f"{report['stored_twice']:,}"),
        (
            "accepted = stored + DLQ + superseded (versions; each placed by a record)",
            versions["accepted"] == versions["stored"] + versions["dead_lettered"] + superseded
            and versions["unaccounted"] == 0,
            f"{equation}; {versions['unaccounted']:,} unaccounted",
        ),
        (
            "conservation checks of the suite (fates, newest wins, customerIds, outage)",
            not document["conservation"],
            "; ".join(document["conservation"][:3]) or "none broken",
        ),
        ("version accounting", not document["versions"], "; ".join(document["versions"][:3]) or "none broken"),
        ("no PII or secret in a log line", not document["leaks"], f"{len(document['leaks'])} leaks"),
        (
            f"every fault kind of the simulator ({', '.join(document['fault_kinds'])})",
            not missing,
            f"missing: {', '.join(missing)}" if missing else "all injected",
        ),
        (
            "both drain kills, in every drain execution environment",
            report["crashes_after_call"] > 0
            and report["crashes_before_ack"] > 0
            and report["drain_environments_observed"] == report["drain_environments"],
            f"{report['crashes_after_call']} after a call, {report['crashes_before_ack']} before the acknowledgement; "
            f"{report['drain_environments_observed']} of {report['drain_environments']} environments observed",
        ),
        (
            "older versions superseded, poison and refused records, the outage redriven",
            superseded > 0
            and reasons.get("bisect:12148", 0) > 0
            and reasons.get("nxcloud:12004", 0) > 0
            and reasons.get("redrive", 0) >= report["storm_customers"] > 0,
            f"{superseded:,} superseded; DLQ " + ", ".join(f"{k}: {v:,}" for k, v in sorted(reasons.items())),
        ),
    ]


def figure(document: dict[str, Any], *, webhooks: int, wall: float, seed: int | None = None) -> Figure:
    """The figure for one run's result document (``python -m tests.chaos --out``)."""
    report = document["report"]
    versions = report["versions"]
    superseded = versions["superseded_by_drain"] + versions["overwritten"]
    judged = checks(document)
    passed = all(held for _, held, _ in judged)
    seconds = report["seconds_total"]
    command = COMMAND + ("" if webhooks == WEBHOOKS else f" --chaos-webhooks {webhooks}")
    command += "" if seed is None else f" --chaos-seed {seed}"
    counts = [
        ["webhooks posted (older Shopify versions sent late included)", f"{report['webhooks']:,}"],
        ["answers", ", ".join(f"{n:,} x HTTP {code}" for code, n in report["answers"].items())],
        [
            "answers posted again, as a provider retries them",
            ", ".join(f"{answer}: {n:,}" for answer, n in report.get("answers_retried", {}).items()) or "none",
        ],
        ["customers accepted (sum of `accepted`, older versions apart)", f"{report['accepted']:,}"],
        ["**customer versions accepted**", f"**{versions['accepted']:,}**"],
        ["**stored in NXCloud** (one record per customer)", f"**{versions['stored']:,}**"],
        ["**in the DLQ only**", f"**{versions['dead_lettered']:,}**"],
        ["**superseded**: acknowledged without a call (drain's records)", f"**{versions['superseded_by_drain']:,}**"],
        ["**superseded**: stored, then replaced by the newer version", f"**{versions['overwritten']:,}**"],
        ["**unaccounted versions**", f"**{versions['unaccounted']:,}**"],
        ["**lost** (customers neither stored nor in the DLQ)", f"**{report['lost']:,}**"],
        ["**stored twice**", f"**{report['stored_twice']:,}**"],
        ["DLQ records", f"{report['dlq_records']:,} ({report['dlq_duplicate_records']:,} duplicates)"],
        ["stored and redriven (at least once: both in NXCloud and the DLQ)", f"{report['stored_and_redriven']:,}"],
        ["older versions sent after the newer one", f"{report['stale_webhooks']:,}"],
        ["customers queued during the 1003 outage", f"{report['storm_customers']:,}"],
        ["NXCloud calls / drain invocations", f"{report['nxcloud_calls']:,} / {report['drain_invocations']:,}"],
        ["faults injected", ", ".join(f"{k}: {v:,}" for k, v in report["faults_injected"].items())],
        ["log lines audited", f"{report['logs_audited']:,}"],
        [
            "wall time: posting / the run / with the stack's start",
            f"{report['seconds_posting']:.0f} s / {seconds:.0f} s / {wall:.0f} s",
        ],
        ["webhooks per second over the run", f"{report['webhooks'] / seconds:.1f}/s" if seconds else "-"],
    ]
    details = [
        f"`python -m tests.chaos --webhooks {webhooks}` in a child process: the suite's chaos scenario "
        "(docs/testing.md) through the whole local stack, the harness of tests/fixtures/chaos.py.",
        "",
        *table(["count", "value"], counts),
        "",
        *table(
            ["rule", "verdict", "found"],
            [[rule, "PASS" if held else "**FAIL**", found] for rule, held, found in judged],
        ),
        "",
        "A version is one customer as one webhook carried it (a late older version is a version of its own): it is "
        "stored (NXCloud's record holds it), else in the DLQ (a record holds it), else superseded (the drain's "
        "`customers superseded` records list its message, or the drain's `customers synced` records list it and "
        "NXCloud now holds the newer version). Each is counted from those records, not as a remainder.",
    ]
    return Figure(
        number=9,
        name="chaos",
        title="Conservation under chaos",
        value=f"{webhooks:,} webhooks: {versions['accepted']:,} accepted = {versions['stored']:,} stored + "
        f"{versions['dead_lettered']:,} DLQ + {superseded:,} superseded; {report['lost']} lost, "
        f"{report['stored_twice']} stored twice; {seconds:.0f} s",
        target=TARGET,
        passed=passed,
        command=command,
        details=details,
        data={"versions": versions, "lost": report["lost"], "stored_twice": report["stored_twice"], "wall": wall},
    )
