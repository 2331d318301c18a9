"""Figure 8: full batches at ordinary rates: 250 webhooks from one sequential sender, on the template's defaults.

``nxbridge run`` runs in a child process with nothing overridden, so the batching window, the concurrency and the
visibility timeout are the ones ``template.yaml`` ships (what ``make run`` and ``sam deploy`` use). One sender posts
250 distinct Shopify ``customers/create`` webhooks, each after the previous answer; the simulator's call log says
how many batch_create calls carried them. A watcher reads the simulator's stored customers every 0.1 s, so each
customer's latency (its webhook's 202 → first seen stored in NXCloud) is known to within 0.1 s. The sender is run
once on the shipped defaults, then with shorter windows to show the trade between calls and latency.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.burst import LocalStackProcess, status
from bench.common import ROOT, Figure, table
from bench.webhooks import DeliveryFactory, sign

WEBHOOKS = 250
TARGET_CALLS = 5
KIND = "shopify"
COMMAND = "python -m bench --only sequential"
SIMULATOR = re.compile(r"NXCloud:\s+simulator at (http://\S+)")
WATCH_SECONDS = 0.1
# Shorter windows, run after the shipped one, to show what each costs in calls and saves in latency.
TRADE_WINDOWS = (2.0, 10.0)


@dataclass
class Run:
    """One sequential sender's run."""

    label: str
    pace: float | None
    posted_in: float = 0.0
    settled_in: float = 0.0
    calls: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    dlq: int = 0


def template_default(name: str) -> str:
    """A parameter's ``Default`` in template.yaml (read as text: the template has CloudFormation tags)."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    match = re.search(rf"^  {name}:\n(?:    .*\n)*?    Default: (\S+)", text, re.MULTILINE)
    if match is None:
        raise LookupError(f"template.yaml has no default for {name}")
    return match[1].strip('"')


def _deliveries(factory: DeliveryFactory, count: int, offset: int) -> list[tuple[str, dict[str, str], bytes]]:
    """``count`` distinct customers (their own Shopify id and e-mail), signed; (e-mail, headers, body) each."""
    out = []
    configured = factory.endpoints.get(KIND)
    secret_name = configured.secret_name if configured is not None else None
    for n in range(offset, offset + count):
        delivery = factory.make(KIND, n, dt.datetime.now(dt.UTC))
        payload = json.loads(delivery.body)
        # The sample's customer id is fixed: give each webhook its own customer, as a real shop's would be.
        payload["id"] = 8_000_000_000_000 + n
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = delivery.headers
        if secret_name is not None:
            headers = sign(headers, body, factory.secrets[secret_name][0], dt.datetime.now(dt.UTC))
        out.append((str(payload["email"]), headers, body))
    return out


def run_last(seen: dict[str, float], answered: dict[str, float]) -> float:
    """When the newest thing happened: the last answer or the last customer seen stored."""
    return max([*seen.values(), *answered.values()], default=0.0)


def _stored_emails(session: requests.Session, simulator_url: str) -> set[str]:
    state = session.get(f"{simulator_url}/_sim/state", timeout=30).json()
    found = set()
    for record in state["customers"]:
        for value in record.values():
            if isinstance(value, str) and "@" in value:
                found.add(value)
    return found


def _one_run(stack: LocalStackProcess, simulator_url: str, run: Run, offset: int) -> None:
    factory = DeliveryFactory()
    deliveries = _deliveries(factory, WEBHOOKS, offset)
    session = requests.Session()
    calls_before = status(session, stack.base_url)["simulator"]["calls"]
    answered: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        watcher = requests.Session()
        while not done.is_set():
            now = time.monotonic()
            for email in _stored_emails(watcher, simulator_url):
                seen.setdefault(email, now)
            done.wait(WATCH_SECONDS)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    started = time.monotonic()
    for n, (email, headers, body) in enumerate(deliveries):
        if run.pace is not None:
            time.sleep(max(0.0, started + n / run.pace - time.monotonic()))
        answer = session.post(f"{stack.base_url}/webhooks/{KIND}", data=body, headers=headers, timeout=60)
        run.statuses[answer.status_code] = run.statuses.get(answer.status_code, 0) + 1
        answered[email] = time.monotonic()
    run.posted_in = time.monotonic() - started
    # Until every customer is seen stored, or the stack has settled (queue empty, nothing in hand) without it.
    deadline = time.monotonic() + 300
    while len(set(answered) & set(seen)) < len(answered) and time.monotonic() < deadline:
        if status(session, stack.base_url)["settled"] and time.monotonic() - run_last(seen, answered) > 5:
            break
        time.sleep(0.2)
    run.dlq = status(session, stack.base_url)["dlq"]["depth"]
    run.settled_in = time.monotonic() - started
    done.set()
    thread.join()
    # What the first watch saw may include earlier runs' customers; only this run's e-mails count.
    run.latencies = sorted(seen[email] - answered[email] for email in answered if email in seen)
    run.calls = status(session, stack.base_url)["simulator"]["calls"] - calls_before


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(share * (len(values) - 1))))
    return values[index]


def _measure(window: float | None, offset: int) -> Run:
    """One stack (the template's defaults, or ``window`` overriding the batching window) and one sender."""
    one = Run("template defaults" if window is None else f"window {window:g} s", None)
    with tempfile.TemporaryDirectory(prefix="nxbridge-bench-") as scratch:
        stack = LocalStackProcess(window, Path(scratch) / "stack.log")
        try:
            match = SIMULATOR.search((Path(scratch) / "stack.log").read_text(encoding="utf-8", errors="replace"))
            if match is None:
                raise RuntimeError("nxbridge run printed no simulator address")
            _one_run(stack, match[1], one, offset)
        finally:
            stack.stop()
    return one


def _row(one: Run, window: float) -> list[str]:
    rate = WEBHOOKS / one.posted_in if one.posted_in else 0.0
    return [
        f"{window:g} s" + (" (shipped)" if one.label == "template defaults" else ""),
        f"{rate:.1f}/s",
        f"**{one.calls}**",
        f"{WEBHOOKS / one.calls:.0f}" if one.calls else "-",
        f"{len(one.latencies)}/{WEBHOOKS}" + (f" ({one.dlq} in the DLQ)" if one.dlq else ""),
        f"{statistics.median(one.latencies):.1f} s" if one.latencies else "-",
        f"{_percentile(one.latencies, 0.99):.1f} s" if one.latencies else "-",
    ]


def run(trade: tuple[float, ...] = TRADE_WINDOWS) -> Figure:
    """The sender against ``nxbridge run`` on the template's defaults, then against shorter windows for the trade."""
    window = float(template_default("BatchingWindowSeconds"))
    concurrency = int(template_default("MaxConcurrency"))
    shipped = _measure(None, 0)
    others = [(w, _measure(w, WEBHOOKS * (n + 1))) for n, w in enumerate(trade) if w != window]
    passed = (
        shipped.calls <= TARGET_CALLS and len(shipped.latencies) == WEBHOOKS and shipped.statuses == {202: WEBHOOKS}
    )
    p50 = statistics.median(shipped.latencies) if shipped.latencies else float("nan")
    p99 = _percentile(shipped.latencies, 0.99)
    details = [
        f"{WEBHOOKS} Shopify `customers/create` webhooks (each its own customer), posted one after another by one "
        f"client, each after the previous answer, to `nxbridge run` on the template's defaults (batching window "
        f"{window:g} s, MaximumConcurrency {concurrency}), then with only the window overridden, for the trade. "
        f"Latency: from the webhook's 202 to the customer first seen stored in the simulator (read every "
        f"{WATCH_SECONDS:g} s). Answers of the shipped run: "
        + ", ".join(f"{count} x HTTP {code}" for code, count in sorted(shipped.statuses.items()))
        + ".",
        "",
        *table(
            [
                "batching window",
                "sender's rate",
                "batch_create calls",
                "customers per call",
                "arrived",
                "latency p50",
                "latency p99",
            ],
            [_row(shipped, window), *(_row(one, w) for w, one in others)],
        ),
        "",
        "The window is the trade: a batch goes when it holds 100 customers or when the window has passed since its "
        f"first message, so at r webhooks/s each of the {concurrency} pollers fills about r x window / {concurrency} "
        "customers per batch, and a customer waits up to the window plus the drain's call. A smaller "
        "`BatchingWindowSeconds` lowers the latency and raises the calls at ordinary rates; see docs/drain.md.",
    ]
    return Figure(
        number=8,
        name="sequential",
        title="Full batches at ordinary rates",
        value=f"{shipped.calls} NXCloud calls for {WEBHOOKS} sequential webhooks on the shipped defaults "
        f"(window {window:g} s; latency p50 {p50:.1f} s, p99 {p99:.1f} s)",
        target=f"<= {TARGET_CALLS} calls",
        passed=passed,
        command=COMMAND,
        details=details,
        data={"calls": shipped.calls, "window": window, "latency_p50": p50, "latency_p99": p99},
    )
