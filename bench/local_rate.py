"""Figure 10: webhooks per second that ``nxbridge run``'s front accepts, from a sequential and a concurrent client.

``nxbridge run`` (the template's defaults, as ``make run`` runs them: MaximumConcurrency 2, a 20 s batching window
that batches of 100 end long before at these rates; the ingest with its default execution environments) runs in a
child process. Distinct, signed webhooks of every sample kind are posted over HTTP, first by one client that waits
for each answer, then by several at once; each rate is the webhooks answered 202 per second of posting, while the
drain delivers what they queued. The stack is then left to settle, and its
status says how deep the queue got and whether every customer reached the simulator.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.burst import LocalStackProcess, status
from bench.common import Figure, table
from bench.webhooks import DeliveryFactory, distinct

TARGET = 60.0
SEQUENTIAL_WEBHOOKS = 300
CONCURRENT_WEBHOOKS = 900
CLIENTS = 8


@dataclass
class Posting:
    """What one client pattern posted and how the front answered."""

    clients: int
    webhooks: int = 0
    customers: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    max_depth: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rate(self) -> float:
        """Webhooks answered 202 per second of posting."""
        return self.statuses.get(202, 0) / self.seconds if self.seconds else 0.0


def post_all(base_url: str, factory: DeliveryFactory, numbers: range, clients: int) -> Posting:
    """Post delivery ``n`` for each of ``numbers`` (the sample kinds in turn) from ``clients`` threads."""
    kinds = factory.kinds
    posting = Posting(clients=clients)
    local = threading.local()

    def post(n: int) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        delivery = distinct(factory, kinds[n % len(kinds)], n, dt.datetime.now(dt.UTC))
        started = time.perf_counter()
        answer = local.session.post(base_url + delivery.path, data=delivery.body, headers=delivery.headers, timeout=60)
        took = time.perf_counter() - started
        accepted = answer.json().get("accepted", 0) if answer.status_code == 202 else 0
        with posting.lock:
            posting.webhooks += 1
            posting.customers += accepted
            posting.statuses[answer.status_code] += 1
            posting.latencies.append(took)

    done = threading.Event()
    watcher = threading.Thread(target=_watch_depth, args=(base_url, posting, done), daemon=True)
    watcher.start()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(post, numbers))
    posting.seconds = time.monotonic() - started
    done.set()
    watcher.join()
    return posting


def _watch_depth(base_url: str, posting: Posting, done: threading.Event) -> None:
    session = requests.Session()
    while not done.wait(0.5):
        try:
            queue = status(session, base_url)["queue"]
        except requests.RequestException:
            continue
        posting.max_depth = max(posting.max_depth, queue["depth"] + queue["in_flight"])


def settle(base_url: str, customers: int, timeout: float) -> dict[str, Any]:
    """Poll the status until the queue is empty and the simulator has seen every accepted customer."""
    session = requests.Session()
    deadline = time.monotonic() + timeout
    while True:
        current = status(session, base_url)
        outcomes = current["customers"]
        if current["settled"] and outcomes["synced"] + outcomes["failed"] + outcomes["superseded"] >= customers:
            return current
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the stack did not settle in {timeout:.0f} s: {current}")
        time.sleep(0.5)


def run(
    *, sequential: int = SEQUENTIAL_WEBHOOKS, concurrent: int = CONCURRENT_WEBHOOKS, clients: int = CLIENTS
) -> Figure:
    """Post ``sequential`` webhooks from one client, then ``concurrent`` from ``clients``; report both rates."""
    factory = DeliveryFactory()
    with tempfile.TemporaryDirectory(prefix="nxbridge-bench-") as scratch:
        stack = LocalStackProcess(None, Path(scratch) / "stack.log")
        try:
            one = post_all(stack.base_url, factory, range(sequential), 1)
            many = post_all(stack.base_url, factory, range(sequential, sequential + concurrent), clients)
            started = time.monotonic()
            final = settle(stack.base_url, one.customers + many.customers, timeout=120 + concurrent * 0.2)
            drained_in = time.monotonic() - started
        finally:
            stack.stop()
    return _figure(one, many, final, drained_in)


def _figure(one: Posting, many: Posting, final: dict[str, Any], drained_in: float) -> Figure:
    def row(posting: Posting) -> list[str]:
        latencies = sorted(posting.latencies)
        p50 = latencies[len(latencies) // 2] if latencies else 0.0
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
        answers = ", ".join(f"{count:,} x {code}" for code, count in sorted(posting.statuses.items()))
        return [
            f"{posting.clients}",
            f"{posting.webhooks:,} ({answers})",
            f"{posting.seconds:.1f} s",
            f"**{posting.rate:.1f}/s**",
            f"{p50 * 1000:.0f} ms / {p99 * 1000:.0f} ms",
            f"{posting.max_depth:,}",
        ]

    simulator = final.get("simulator") or {}
    customers = one.customers + many.customers
    all_accepted = one.statuses.get(202, 0) == one.webhooks and many.statuses.get(202, 0) == many.webhooks
    stored = simulator.get("success_items", 0)
    passed = many.rate >= TARGET and all_accepted and final["dlq"]["depth"] == 0 and stored >= customers
    details = [
        "Distinct signed webhooks (the sample kinds of events/api/ in turn) posted over HTTP to `nxbridge run` "
        "(the template's defaults, as `make run` runs them), first by one client waiting for "
        f"each answer, then by {many.clients} at once, while the drain delivers what they queue:",
        "",
        *table(
            ["clients", "webhooks (answers)", "posting took", "rate", "latency p50 / p99", "max queue depth"],
            [row(one), row(many)],
        ),
        "",
        f"After the posting the drain needed {drained_in:.1f} s more; {customers:,} customers accepted, "
        f"{stored:,} stored by the simulator in {simulator.get('calls', 0):,} calls, DLQ depth "
        f"{final['dlq']['depth']}, {final.get('ingest_invocations', 0):,} ingest invocations.",
        "",
        "The embedded AWS (moto) does every AWS call of the stack on one core: three per webhook of one customer "
        "for the ingest (idempotency record, SendMessageBatch, idempotency update; a delivery of several customers "
        "also reads its queueing progress) and, for the drain's watermarks, a conditional UpdateItem per customer "
        "identity to claim it and a BatchWriteItem per 25 to release them, which cost moto more than the ingest's "
        "calls (docs/local.md, Local scale). What the ingest can take is what moto and the stack's own process "
        "have left while the drain keeps the queue short.",
    ]
    return Figure(
        number=10,
        name="local",
        title="Local stack ingest rate",
        value=f"{many.rate:.1f} webhooks/s from {many.clients} concurrent clients, {one.rate:.1f}/s from one",
        target=f">= {TARGET:g} webhooks/s",
        passed=passed,
        command="python -m bench --only local",
        details=details,
        data={"concurrent_rate": many.rate, "sequential_rate": one.rate},
    )
