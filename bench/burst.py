"""Figure 1: customers per NXCloud call during a burst of webhooks through the local stack.

``nxbridge run`` (the real ingest and drain functions on moto, the NXCloud simulator, the HTTP front and the SQS
poller that plays the event source mapping with its batching window) runs in a child process. A small thread pool
posts distinct, signed webhooks of every sample kind over HTTP; the stack is then left to settle (``GET
/_local/status``), and the simulator's counters say how many batch_create calls carried how many customers.
While the burst runs, the status is sampled to see the queue depth and how fast moto takes and gives messages.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.common import ROOT, Figure, table
from bench.webhooks import DeliveryFactory, distinct

TARGET = 95.0
PHYSICAL_LIMIT = 100
DEFAULT_WINDOW = 10.0
VISIBILITY_MARGIN_SECONDS = 30
STATUS = re.compile(r"Status:\s+(http://\S+)/_local/status")


@dataclass
class Sample:
    """One look at ``/_local/status`` during the burst."""

    at: float
    posted: int
    depth: int
    in_flight: int
    calls: int
    synced: int


@dataclass
class Burst:
    """What was posted and what the stack answered."""

    posted: int = 0
    customers: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class LocalStackProcess:
    """``python -m nxbridge run --port 0`` in a child process; its output goes to a log file."""

    def __init__(self, batch_window: float | None, log: Path) -> None:
        """``batch_window`` None runs the template's defaults, as ``make run`` does."""
        self.log = log
        env = dict(os.environ)
        if batch_window is not None:
            env["BATCH_WINDOW_SECONDS"] = f"{batch_window:g}"
            # As AWS requires of an event source (template.yaml: 6 x timeout + window), messages must stay hidden
            # longer than the window plus the drain, or a message received early in a long window is received again.
            env["VISIBILITY_TIMEOUT_SECONDS"] = str(math.ceil(batch_window) + VISIBILITY_MARGIN_SECONDS)
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nxbridge", "run", "--port", "0"],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        self.base_url = self._wait_for_banner()

    def _wait_for_banner(self, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = STATUS.search(self.log.read_text(encoding="utf-8", errors="replace"))
            if match:
                return match[1]
            if self.process.poll() is not None:
                raise RuntimeError(f"nxbridge run exited with {self.process.returncode}; see {self.log}")
            time.sleep(0.2)
        raise TimeoutError(f"nxbridge run did not print its banner in {timeout} s; see {self.log}")

    def stop(self) -> None:
        """SIGINT (what Ctrl-C sends), then wait; SIGKILL only if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


def status(session: requests.Session, base_url: str) -> dict[str, Any]:
    """``GET /_local/status``."""
    answer = session.get(f"{base_url}/_local/status", timeout=30)
    answer.raise_for_status()
    document: dict[str, Any] = answer.json()
    return document


def moto_depth_probe(depths: tuple[int, ...], samples: int = 3) -> list[list[str]]:
    """Time moto's SQS calls with ``depths`` messages waiting: SendMessageBatch, ReceiveMessage + DeleteMessageBatch
    of 10, GetQueueAttributes (medians of ``samples``). The queue is filled through moto's backend directly, since
    filling it through the API is itself quadratic."""
    import json  # noqa: PLC0415
    import statistics  # noqa: PLC0415
    import uuid  # noqa: PLC0415

    from moto.sqs.models import Message, sqs_backends  # noqa: PLC0415 - moto is a dev dependency

    from nxbridge_dev.local.aws import ACCOUNT_ID, LocalAws  # noqa: PLC0415

    region = "us-east-1"
    aws = LocalAws(region)
    aws.start()
    rows = []
    try:
        sqs = aws.sqs()
        url = sqs.create_queue(QueueName="BenchDepthProbe")["QueueUrl"]
        queue = sqs_backends[ACCOUNT_ID][region].get_queue("BenchDepthProbe")
        body = json.dumps({"customer": {"full_name": "x" * 500}})
        entries: list[Any] = [{"Id": str(i), "MessageBody": body} for i in range(10)]

        def add(count: int) -> None:
            for _ in range(count):
                message = Message(str(uuid.uuid4()), body)
                message.mark_sent(delay_seconds=0)
                queue.add_message(message)

        def timed(call: Any) -> float:
            started = time.perf_counter()
            call()
            return (time.perf_counter() - started) * 1000

        depth = 0
        for target in depths:
            add(target - len(queue._messages))
            depth = target
            send = [timed(lambda: sqs.send_message_batch(QueueUrl=url, Entries=entries)) for _ in range(samples)]
            receive, delete = [], []
            for _ in range(samples):
                got: list[Any] = []
                receive.append(
                    timed(
                        lambda got=got: got.extend(
                            sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
                                "Messages", []
                            )
                        )
                    )
                )
                handles = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
                delete.append(timed(lambda handles=handles: sqs.delete_message_batch(QueueUrl=url, Entries=handles)))
            attributes = [
                timed(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]))
                for _ in range(samples)
            ]
            rows.append(
                [
                    f"{depth:,}",
                    f"{statistics.median(send):.0f} ms",
                    f"{statistics.median(receive):.0f} ms",
                    f"{statistics.median(delete):.0f} ms",
                    f"{statistics.median(attributes):.0f} ms",
                ]
            )
    finally:
        aws.stop()
    return rows


def run(
    *,
    webhooks: int = 2000,
    batch_window: float = DEFAULT_WINDOW,
    threads: int = 8,
    big: bool = False,
    probe: bool = True,
) -> Figure:
    """Post ``webhooks`` webhooks, let the stack settle, count NXCloud calls and customers."""
    factory = DeliveryFactory()
    kinds = factory.kinds
    burst = Burst()
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="nxbridge-bench-") as scratch:
        stack = LocalStackProcess(batch_window, Path(scratch) / "stack.log")
        try:
            started = time.monotonic()
            done = threading.Event()
            watcher = threading.Thread(target=_watch, args=(stack.base_url, started, burst, samples, done), daemon=True)
            watcher.start()
            local = threading.local()

            def post(n: int) -> None:
                if not hasattr(local, "session"):
                    local.session = requests.Session()
                delivery = distinct(factory, kinds[n % len(kinds)], n, dt.datetime.now(dt.UTC))
                answer = local.session.post(
                    stack.base_url + delivery.path, data=delivery.body, headers=delivery.headers, timeout=60
                )
                accepted = answer.json().get("accepted", 0) if answer.status_code == 202 else 0
                with burst.lock:
                    burst.posted += 1
                    burst.customers += accepted
                    burst.statuses[answer.status_code] += 1

            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(post, range(webhooks)))
            posted_in = time.monotonic() - started
            final = _settle(stack.base_url, burst.customers, timeout=120 + webhooks * 0.05)
            settled_in = time.monotonic() - started
            done.set()
            watcher.join()
        finally:
            stack.stop()
    deliveries = [factory.make(kinds[n % len(kinds)], n, dt.datetime.now(dt.UTC)) for n in range(len(kinds))]
    depth_rows = moto_depth_probe((0, 1000, 5000, 10000) if big else (0, 250, 1000)) if probe else []
    return _figure(
        depth_rows=depth_rows,
        webhooks=webhooks,
        batch_window=batch_window,
        threads=threads,
        big=big,
        burst=burst,
        final=final,
        samples=samples,
        posted_in=posted_in,
        settled_in=settled_in,
        mix={
            "customers_per_webhook": sum(d.customers for d in deliveries) / len(deliveries),
            "send_batches_per_webhook": sum(math.ceil(d.customers / 10) for d in deliveries) / len(deliveries),
            "deduplicated_share": sum(d.delivery_id is not None for d in deliveries) / len(deliveries),
        },
    )


def _watch(base_url: str, started: float, burst: Burst, samples: list[Sample], done: threading.Event) -> None:
    session = requests.Session()
    while not done.wait(0.5):
        try:
            current = status(session, base_url)
        except requests.RequestException:
            continue
        simulator = current.get("simulator") or {}
        samples.append(
            Sample(
                at=time.monotonic() - started,
                posted=burst.posted,
                depth=current["queue"]["depth"],
                in_flight=current["queue"]["in_flight"],
                calls=simulator.get("calls", 0),
                synced=simulator.get("success_items", 0) + simulator.get("fail_items", 0),
            )
        )


def _settle(base_url: str, customers: int, timeout: float) -> dict[str, Any]:
    """Poll the status until the queue is empty and the simulator has seen every accepted customer."""
    session = requests.Session()
    deadline = time.monotonic() + timeout
    while True:
        current = status(session, base_url)
        simulator = current.get("simulator") or {}
        seen = simulator.get("success_items", 0) + simulator.get("fail_items", 0)
        # A customer superseded by a newer version of itself (newest wins) is settled without a call of its own.
        superseded = (current.get("customers") or {}).get("superseded", 0)
        if current["settled"] and seen + superseded >= customers:
            return current
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the stack did not settle in {timeout:.0f} s: {current}")
        time.sleep(0.2)


def _rate(samples: list[Sample], attribute: str, start: float, end: float) -> float | None:
    window = [s for s in samples if start <= s.at <= end]
    if len(window) < 2 or window[-1].at == window[0].at:
        return None
    change: float = getattr(window[-1], attribute) - getattr(window[0], attribute)
    return change / (window[-1].at - window[0].at)


def _figure(
    *,
    depth_rows: list[list[str]],
    webhooks: int,
    batch_window: float,
    threads: int,
    big: bool,
    burst: Burst,
    final: dict[str, Any],
    samples: list[Sample],
    posted_in: float,
    settled_in: float,
    mix: dict[str, float],
) -> Figure:
    simulator = final["simulator"]
    calls = simulator["calls"]
    in_calls = simulator["success_items"] + simulator["fail_items"]
    per_call = in_calls / calls if calls else 0.0
    least = math.ceil(burst.customers / PHYSICAL_LIMIT)
    arrival = burst.customers / posted_in if posted_in else 0.0
    max_depth = max((s.depth + s.in_flight for s in samples), default=0)
    third = posted_in / 3
    rows_rate = []
    for label, start, end in (
        ("first third of the posting", 0.0, third),
        ("last third of the posting", 2 * third, posted_in),
        ("after the posting (draining only)", posted_in, settled_in),
    ):
        post_rate = _rate(samples, "posted", start, end)
        drain_rate = _rate(samples, "synced", start, end)
        depth = [s.depth + s.in_flight for s in samples if start <= s.at <= end]
        rows_rate.append(
            [
                label,
                f"{post_rate:.0f}/s" if post_rate is not None else "-",
                f"{drain_rate:.0f}/s" if drain_rate is not None else "-",
                f"{max(depth):,}" if depth else "-",
            ]
        )
    visibility = math.ceil(batch_window) + VISIBILITY_MARGIN_SECONDS
    command = "python -m bench --only api" + (" --big" if big else "")
    if batch_window != DEFAULT_WINDOW:
        command += f" --window {batch_window:g}"
    details = [
        f"{webhooks:,} webhooks (the {len(DeliveryFactory().kinds)} sample kinds of events/api/ in turn, each with "
        f"fresh delivery ids and customers, signed) posted over HTTP by {threads} threads to `nxbridge run` "
        f"(batching window {batch_window:g} s, visibility timeout {visibility} s; "
        "one poller, i.e. MaximumConcurrency 1); answers: "
        + ", ".join(f"{count:,} x HTTP {code}" for code, count in sorted(burst.statuses.items()))
        + ".",
        "",
        *table(
            ["count", "value"],
            [
                ["customers accepted (sum of `accepted`)", f"{burst.customers:,}"],
                ["customers in batch_create calls (successItems + failItems)", f"{in_calls:,}"],
                ["customers stored by the simulator", f"{simulator['stored']:,}"],
                [
                    "customers sent twice (received again before their batch was acknowledged)",
                    f"{max(0, in_calls - simulator['stored']):,}",
                ],
                ["NXCloud batch_create calls", f"{calls:,} (at least {least:,} at 100 per call)"],
                ["**customers per call**", f"**{per_call:.2f}**"],
                ["calls with one call per webhook", f"{burst.posted:,}"],
                ["**calls saved: one-per-webhook / bridge**", f"**{burst.posted / calls:.1f}x fewer**"],
                [
                    "customers superseded by a newer version of themselves (newest wins; none: each is distinct)",
                    f"{(final.get('customers') or {}).get('superseded', 0):,}",
                ],
                ["DLQ depth after settling", f"{final['dlq']['depth']:,}"],
                ["posting took / everything stored after", f"{posted_in:.1f} s / {settled_in:.1f} s"],
                ["customers arriving at the queue", f"{arrival:.1f}/s"],
            ],
        ),
        "",
        "Rates during the run (from `/_local/status` every 0.5 s):",
        "",
        *table(["phase", "webhooks posted", "customers into NXCloud", "max queue depth"], rows_rate),
        "",
        "Batching window: a batch holds min(100, arrival rate x window) customers, plus whatever waited while the "
        f"previous batch was being delivered. The local ingest is one execution environment (invocations are "
        f"serialized, each making four calls to moto), so customers arrive at about {arrival:.0f}/s and a full "
        f"batch needs a window of at least {100 / arrival if arrival else float('inf'):.1f} s; the benchmark uses "
        f"{batch_window:g} s. On AWS the ingest scales out with the burst; the template's default window (20 s) "
        "is chosen for thin traffic (figure 8), and a burst fills batches of 100 whatever the window.",
    ]
    if depth_rows:
        details += [
            "",
            "What moto does as a queue deepens (a separate queue on the same embedded moto server, filled through "
            "moto's backend, then each call timed; medians):",
            "",
            *table(
                [
                    "messages waiting",
                    "SendMessageBatch (10)",
                    "ReceiveMessage (10)",
                    "DeleteMessageBatch (10)",
                    "GetQueueAttributes",
                ],
                depth_rows,
            ),
            "",
            "moto keeps a queue as one Python list: every SendMessage evaluates the queue's attributes (three scans "
            "of the list), every ReceiveMessage scans for visible messages, every GetQueueAttributes (which the "
            "status page and the poller use) scans it again, so each call grows linearly with the depth; a "
            "10,000-webhook burst that outruns the drain slows down quadratically. "
            + (
                f"In this burst the drain kept the queue short (at most {max_depth:,} messages), so moto's depth cost "
                "stayed small; the local stack's pace is set by the serialized ingest."
                if max_depth < 1000
                else f"In this burst the queue reached {max_depth:,} messages."
            ),
        ]
    passed = per_call >= TARGET and burst.statuses.get(202, 0) == webhooks
    return Figure(
        number=1,
        name="api",
        title="API efficiency",
        value=f"{per_call:.2f} customers per NXCloud call ({calls:,} calls for {in_calls:,} customers from "
        f"{burst.posted:,} webhooks: {burst.posted / calls:.0f}x fewer calls than one per webhook)",
        target=f">= {TARGET:g} (physical limit {PHYSICAL_LIMIT})",
        passed=passed,
        command=command,
        details=details,
        data={"customers_per_call": per_call, **mix},
    )
