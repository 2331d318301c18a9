"""docs/benchmarks.md: the latest run's figures, each with the command that produced it and the machine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from bench.common import DOCS, Figure, Machine, table

INTRO = """\
# Benchmarks

`make bench` (that is, `.venv/bin/python -m bench`) measures the figures of issues 8, 16 and 18 and rewrites this
file with the run. Every figure is a ratio or a count measured in one run, so that the noise of a shared machine
hits both sides of it; absolute times are shown too, labelled with the machine they come from. Benchmarks are not
tests: nothing here runs under pytest (`tests/unit/test_bench_cost.py` checks the cost formula only).

| option | effect |
|---|---|
| `--only NAME,...` | some figures, of api drain ingest coldstart memory cost import sequential chaos local |
| `--big` | 10,000 webhooks instead of 2,000 for figure 1, and a deeper moto probe (takes 10+ minutes) |
| `--webhooks N`, `--window SECONDS` | burst size and batching window of figure 1 (defaults 2,000 and 10 s) |
| `--chaos-webhooks N`, `--chaos-seed S` | size and seed of figure 9's chaos run (default 20,000 webhooks) |
| `--no-docs` | print only |
| `--strict` | exit 1 when a figure fails its target |

Figure 4 builds the layer and the functions with their own Makefiles into a scratch directory and imports them
with a CPython of the runtime's version (the one layers/Makefile compiles the bytecode with); the runtime's boto3
is installed once into `.venv-bench/lambda-runtime/`. Figure 5 builds `.venv-bench/` (runtime dependencies only)
on first use, about a minute; later runs reuse both.
Figure 9 is the chaos run of docs/testing.md at 20,000 webhooks, the longest: about 15 minutes on 2 shared cores.

The Python speed probe times `import boto3` in fresh interpreters (CPU, median of 5) at the start and at the end of
the run. This VM's speed for Python code changes from day to day, and the absolute figures follow it: on
2026-12-01 figure 4's `import boto3` took 106 ms and figure 10 gave 66.7 webhooks/s; on 2026-12-02 the same
import took 179 ms and the same code gave 35-40/s. A ratio cancels only part of it: figure 2's floor (`json.dumps`
and MD5, C code) took 0.18 ms on both days while the drain's Python work slowed, so the same code gave 3.7x on the
first day and 4.8-6.4x on the second. That evening the probe read 254-325 ms, the floor itself took 0.50 ms,
figure 2 gave 5.6-5.7x and figure 10 27-31/s (docs/local.md, *Local scale*, accounts for that rate's CPU).
On 2026-12-03 the full run of 10:39 UTC read 153 ms (every figure of issue 18 passed); an hour later the probe
read 171-182 ms and four standalone runs of figure 2 gave 4.69x to 5.71x on the same code.
Compare figures between runs with the probe beside them.
"""


def render(
    figures: Sequence[Figure],
    machine: Machine,
    command: str,
    started: dt.datetime,
    seconds: float,
    speed: tuple[float, float],
) -> str:
    """The whole page; ``speed`` is the Python speed probe's milliseconds at the start and at the end of the run."""
    summary = table(
        ["#", "figure", "result", "target", "verdict"],
        [[f.number, f.title, f.value, f.target, f"**{f.verdict}**"] for f in figures],
    )
    parts = [
        INTRO,
        "## Latest run",
        "",
        f"- Command: `{command}` (run with `.venv/bin/python`; `make bench` runs `python -m bench`)",
        f"- Started: {started:%Y-%m-%d %H:%M} UTC, took {seconds:.0f} s",
        f"- Machine: {machine.cpu_model}, `nproc` = {machine.nproc}, Python {machine.python}, {machine.system}; "
        f"load average at the start {machine.load_average} (other jobs share this machine)",
        f"- Python speed probe: `import boto3` took {speed[0]:.0f} ms of CPU at the start of the run and "
        f"{speed[1]:.0f} ms at the end (fresh interpreters, median of 5)",
        "",
        *summary,
        "",
    ]
    for figure in figures:
        parts += [
            f"## {figure.number}. {figure.title}: {figure.verdict}",
            "",
            f"**{figure.value}**; target {figure.target}.",
            "",
            f"Command: `{figure.command}` (machine: {machine.label()}).",
            "",
            *figure.details,
            "",
        ]
    return "\n".join(parts).rstrip() + "\n"


def write(text: str, path: Path = DOCS) -> None:
    """Replace docs/benchmarks.md."""
    path.write_text(text, encoding="utf-8")
