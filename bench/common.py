"""What every benchmark shares: the figure it reports, the machine it ran on, timing and quiet logging helpers."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
FUNCTIONS = ROOT / "functions"
DOCS = ROOT / "docs" / "benchmarks.md"


@dataclass
class Figure:
    """One benchmark's headline (a ratio or a count, against its target) and the lines that back it up."""

    number: int
    name: str
    title: str
    value: str
    target: str
    passed: bool
    command: str
    details: list[str] = field(default_factory=list)
    # Measurements other figures reuse (the cost model takes the measured durations and batch sizes).
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """PASS or FAIL."""
        return "PASS" if self.passed else "FAIL"

    def headline(self) -> str:
        """``[PASS] 2. Drain CPU per batch: 3.1x the floor (target <= 5x)``."""
        return f"[{self.verdict}] {self.number}. {self.title}: {self.value} (target {self.target})"


@dataclass(frozen=True)
class Machine:
    """Where the absolute times come from."""

    nproc: int
    cpu_model: str
    python: str
    system: str
    load_average: str

    def label(self) -> str:
        """One line naming the machine."""
        return f"{self.cpu_model}, nproc={self.nproc}, Python {self.python}, {self.system}"


def machine() -> Machine:
    """The CPU count (``nproc``), CPU model, Python version and load average of this machine."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return Machine(
        nproc=nproc,
        cpu_model=model,
        python=platform.python_version(),
        system=f"{platform.system()} {platform.machine()}",
        load_average=load,
    )


# What the probe times: CPU, not wall time, of one ``import boto3`` in a fresh interpreter (the modules' bytecode
# is compiled already, so it is the interpreter's work of building them: what Python code of every kind costs here).
_PROBE = (
    "import time, sys\nstarted = time.process_time()\nimport boto3\n"
    "sys.stdout.write(repr(time.process_time() - started))"
)
SPEED_SAMPLES = 5


def python_speed(samples: int = SPEED_SAMPLES) -> float:
    """Milliseconds of CPU that ``import boto3`` takes in a fresh interpreter of this environment, the median of
    ``samples`` (after one unmeasured run that warms the file cache).

    The same code's absolute figures move with it from one run to the next on a shared VM (figure 10's rate, for
    one), while the ratios move much less: the report prints it at the start and at the end of a run.
    """
    times: list[float] = []
    for n in range(samples + 1):
        completed = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, cwd=ROOT, timeout=120
        )
        if n:
            times.append(float(completed.stdout) * 1000)
    return statistics.median(times)


def now_utc() -> dt.datetime:
    """Aware UTC now."""
    return dt.datetime.now(dt.UTC)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) by linear interpolation; ``values`` need not be sorted."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    """The median."""
    return statistics.median(values)


def fmt_ms(seconds: float) -> str:
    """Seconds as milliseconds with a sensible precision."""
    ms = seconds * 1000
    return f"{ms:.3f} ms" if ms < 1 else f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


@contextlib.contextmanager
def quiet_package_logs() -> Iterator[None]:
    """Send the package's log lines and metric blobs to a null sink: still formatted and redacted (as in Lambda),
    never shown."""
    from nxbridge.observability import logger  # noqa: PLC0415 - only benchmarks that run package code need it

    handler = logger.registered_handler
    with open(os.devnull, "w", encoding="utf-8") as sink:
        previous = handler.setStream(sink) if isinstance(handler, logging.StreamHandler) else None
        try:
            # Powertools prints the metrics blob when a handler decorated with log_metrics returns.
            with contextlib.redirect_stdout(sink):
                yield
        finally:
            if isinstance(handler, logging.StreamHandler) and previous is not None:
                handler.setStream(previous)
