"""Figure 6: AWS cost per million customers, the bridge next to the one-call-per-webhook design.

The bridge: API Gateway → IngestFunction (verify, map, SendMessageBatch, idempotency record) → SQS → event source
mapping (batches of up to 100) → DrainFunction (per-customer watermark claim and release, one batch_create per
batch). The call-per-webhook design is what Zapier-style forwarders do: API Gateway → one function that verifies,
maps and calls batch_create for every webhook, with the same idempotency record, the same secrets and the same
newest-wins watermarks (its invocations run concurrently and Shopify retries too), and no queue.

Every price is a public list price (an input); the durations are this run's measurements (CPU time, scaled to the
function's CPU share on Lambda) plus stated network waits (inputs too: nothing here can measure AWS's latency).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from bench.common import ROOT, Figure, table
from nxbridge.aws.sqs import MAX_BATCH_ENTRIES
from nxbridge.ordering import RELEASE_BATCH

COMMAND = "python -m bench --only cost"
PRICES_AS_OF = "November 2026"
# Lambda gives a function one full vCPU at 1,769 MB and a proportional share below.
FULL_VCPU_MB = 1769
CUSTOMERS = 1_000_000
# Entries per SendMessageBatch / DeleteMessageBatch, messages per ReceiveMessage.
SQS_BATCH = MAX_BATCH_ENTRIES


@dataclass(frozen=True)
class Prices:
    """us-east-1 list prices (first tiers), in dollars."""

    api_gateway_http_per_million: float = 1.00  # HTTP API, first 300 million requests/month, per 512 KB
    lambda_requests_per_million: float = 0.20
    lambda_arm_per_gb_second: float = 0.0000133334  # arm64, first 7.5 billion GB-s/month
    sqs_standard_per_million: float = 0.40  # per 64 KB chunk of a request, after the free million
    secrets_per_10k_calls: float = 0.05
    dynamodb_write_per_million: float = 0.625  # on-demand write request units
    dynamodb_read_per_million: float = 0.125  # on-demand read request units


@dataclass(frozen=True)
class Inputs:
    """What one million customers cost depends on: the traffic, the measurements, the memory sizes, the waits."""

    customers_per_webhook: float = 1.0
    # SendMessageBatch calls per webhook: ceil(customers / 10) averaged over the webhooks.
    send_batches_per_webhook: float = 1.0
    # Share of webhooks that carry a delivery id (the others are not deduplicated: no DynamoDB traffic).
    deduplicated_share: float = 1.0
    customers_per_call: float = 100.0
    ingest_cpu_ms: float = 0.5
    drain_cpu_ms_per_batch: float = 6.0
    ingest_memory_mb: int = 512
    drain_memory_mb: int = 512
    # Network waits (assumptions): in-region AWS calls, and NXCloud (api-hk) from us-east-1.
    sqs_call_ms: float = 10.0
    dynamodb_call_ms: float = 5.0
    # Newest wins (nxbridge.ordering): a conditional UpdateItem to claim per customer, and a put to release it,
    # ordering_release_batch to a BatchWriteItem; 1 WRU each (items < 1 KB). boto3's CPU per call on one core
    # (python -m bench.ordering, loopback stub; a batch of puts counted as one call); calls run in ordering_workers
    # threads, which overlap the waits but not the CPU (the GIL).
    ordering_writes_per_customer: float = 2.0
    ordering_client_cpu_ms: float = 2.0
    ordering_workers: int = 8
    ordering_release_batch: int = RELEASE_BATCH
    nxcloud_round_trip_ms: float = 200.0
    nxcloud_per_customer_ms: float = 2.0
    # GetSecretValue: one per secret and warm container each cache period (300 s), the million customers spread
    # over 30 days with one warm container per function: 8,640 refreshes per secret.
    secret_refreshes_per_secret: float = 30 * 24 * 3600 / 300
    measured: dict[str, bool] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Line:
    """One cost component: how many of what, and the dollars."""

    component: str
    quantity: float
    unit: str
    dollars: float


def cpu_share_factor(memory_mb: int) -> float:
    """How much longer CPU-bound work takes on Lambda at ``memory_mb`` than on one full core (same core speed)."""
    return max(1.0, FULL_VCPU_MB / memory_mb)


def billed_ms(ms: float) -> int:
    """Lambda bills duration in 1 ms increments, rounded up."""
    return max(1, math.ceil(ms))


def gb_seconds(invocations: float, ms: float, memory_mb: int) -> float:
    """GB-seconds of ``invocations`` of ``ms`` each at ``memory_mb``."""
    return invocations * billed_ms(ms) / 1000 * memory_mb / 1024


def nxcloud_ms(inputs: Inputs, customers: float) -> float:
    """Assumed wall time of one batch_create call carrying ``customers``."""
    return inputs.nxcloud_round_trip_ms + inputs.nxcloud_per_customer_ms * customers


def ingest_ms(inputs: Inputs) -> float:
    """IngestFunction per webhook: its CPU work on Lambda, its SQS calls, its three DynamoDB calls (if deduped)."""
    return (
        inputs.ingest_cpu_ms * cpu_share_factor(inputs.ingest_memory_mb)
        + inputs.send_batches_per_webhook * inputs.sqs_call_ms
        + inputs.deduplicated_share * 3 * inputs.dynamodb_call_ms
    )


def ordering_ms(inputs: Inputs, customers: float, memory_mb: int) -> float:
    """The watermark calls for ``customers`` distinct customers: their CPU in series, their waits in parallel.

    One claim per customer, then the releases in batches of ``ordering_release_batch``."""
    releases = math.ceil(customers / inputs.ordering_release_batch)
    calls = customers + releases
    rounds = math.ceil(customers / inputs.ordering_workers) + math.ceil(releases / inputs.ordering_workers)
    return calls * inputs.ordering_client_cpu_ms * cpu_share_factor(memory_mb) + rounds * inputs.dynamodb_call_ms


def drain_ms(inputs: Inputs) -> float:
    """DrainFunction per batch: its CPU work on Lambda, the watermark calls and the NXCloud call."""
    per_record = inputs.drain_cpu_ms_per_batch / 100
    cpu = per_record * inputs.customers_per_call * cpu_share_factor(inputs.drain_memory_mb)
    ordering = ordering_ms(inputs, inputs.customers_per_call, inputs.drain_memory_mb)
    return cpu + ordering + nxcloud_ms(inputs, inputs.customers_per_call)


def forwarder_ms(inputs: Inputs) -> float:
    """The call-per-webhook function: the ingest's CPU work, the drain's per-record work, DynamoDB, NXCloud."""
    factor = cpu_share_factor(inputs.ingest_memory_mb)
    per_record = inputs.drain_cpu_ms_per_batch / 100
    return (
        (inputs.ingest_cpu_ms + per_record * inputs.customers_per_webhook) * factor
        + inputs.deduplicated_share * 3 * inputs.dynamodb_call_ms
        + ordering_ms(inputs, inputs.customers_per_webhook, inputs.ingest_memory_mb)
        + nxcloud_ms(inputs, inputs.customers_per_webhook)
    )


def _dedupe_lines(webhooks: float, inputs: Inputs, prices: Prices) -> list[Line]:
    # Powertools idempotency: PutItem (in progress) + UpdateItem (completed); the ingest's progress check is one
    # consistent GetItem. Items are under 1 KB: one request unit each.
    deduped = webhooks * inputs.deduplicated_share
    return [
        Line(
            "DynamoDB writes (idempotency)", 2 * deduped, "WRU", 2 * deduped * prices.dynamodb_write_per_million / 1e6
        ),
        Line("DynamoDB reads (progress)", deduped, "RRU", deduped * prices.dynamodb_read_per_million / 1e6),
    ]


def _ordering_line(customers: float, inputs: Inputs, prices: Prices) -> Line:
    writes = customers * inputs.ordering_writes_per_customer
    return Line("DynamoDB writes (ordering)", writes, "WRU", writes * prices.dynamodb_write_per_million / 1e6)


def bridge_cost(inputs: Inputs, prices: Prices = Prices(), customers: float = CUSTOMERS) -> list[Line]:
    """The bridge's cost lines for ``customers`` customers."""
    webhooks = customers / inputs.customers_per_webhook
    batches = customers / inputs.customers_per_call
    gbs = gb_seconds(webhooks, ingest_ms(inputs), inputs.ingest_memory_mb) + gb_seconds(
        batches, drain_ms(inputs), inputs.drain_memory_mb
    )
    sends = webhooks * inputs.send_batches_per_webhook
    # The event source mapping receives up to 10 messages per ReceiveMessage and deletes in batches of 10.
    receives = customers / SQS_BATCH
    deletes = customers / SQS_BATCH
    secrets = 2 * inputs.secret_refreshes_per_secret  # the webhook secrets (ingest), the NXCloud secret (drain)
    sqs_per_request = prices.sqs_standard_per_million / 1e6
    return [
        Line(
            "API Gateway HTTP API requests", webhooks, "requests", webhooks * prices.api_gateway_http_per_million / 1e6
        ),
        Line(
            "Lambda requests (ingest + drain)",
            webhooks + batches,
            "invocations",
            (webhooks + batches) * prices.lambda_requests_per_million / 1e6,
        ),
        Line("Lambda duration, arm64", gbs, "GB-s", gbs * prices.lambda_arm_per_gb_second),
        Line("SQS SendMessageBatch (ingest)", sends, "requests", sends * sqs_per_request),
        Line("SQS ReceiveMessage (event source mapping)", receives, "requests", receives * sqs_per_request),
        Line("SQS DeleteMessageBatch (event source mapping)", deletes, "requests", deletes * sqs_per_request),
        *_dedupe_lines(webhooks, inputs, prices),
        _ordering_line(customers, inputs, prices),
        Line("Secrets Manager GetSecretValue (cached)", secrets, "calls", secrets * prices.secrets_per_10k_calls / 1e4),
    ]


def forwarder_cost(inputs: Inputs, prices: Prices = Prices(), customers: float = CUSTOMERS) -> list[Line]:
    """The call-per-webhook design's cost lines for ``customers`` customers."""
    webhooks = customers / inputs.customers_per_webhook
    gbs = gb_seconds(webhooks, forwarder_ms(inputs), inputs.ingest_memory_mb)
    secrets = 2 * inputs.secret_refreshes_per_secret  # both secrets, read by the one function
    return [
        Line(
            "API Gateway HTTP API requests", webhooks, "requests", webhooks * prices.api_gateway_http_per_million / 1e6
        ),
        Line("Lambda requests", webhooks, "invocations", webhooks * prices.lambda_requests_per_million / 1e6),
        Line("Lambda duration, arm64", gbs, "GB-s", gbs * prices.lambda_arm_per_gb_second),
        *_dedupe_lines(webhooks, inputs, prices),
        _ordering_line(customers, inputs, prices),
        Line("Secrets Manager GetSecretValue (cached)", secrets, "calls", secrets * prices.secrets_per_10k_calls / 1e4),
    ]


def total(lines: list[Line]) -> float:
    """Sum of the dollars."""
    return sum(line.dollars for line in lines)


def break_even_round_trip_ms(inputs: Inputs, prices: Prices = Prices()) -> float | None:
    """The NXCloud round trip below which the call-per-webhook design is the cheaper one (None: never / always)."""

    def gap(ms: float) -> float:
        changed = replace(inputs, nxcloud_round_trip_ms=ms)
        return total(forwarder_cost(changed, prices)) - total(bridge_cost(changed, prices))

    low, high = 0.0, 10_000.0
    if gap(low) >= 0 or gap(high) <= 0:
        return None
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if gap(middle) < 0 else (low, middle)
    return high


def template_memory() -> dict[str, int]:
    """MemorySize of IngestFunction and DrainFunction in template.yaml (the Globals value unless overridden)."""
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    default = int(re.search(r"^Globals:.*?^\s+MemorySize:\s*(\d+)", text, re.S | re.M)[1])  # type: ignore[index]
    sizes = {}
    for name in ("IngestFunction", "DrainFunction"):
        block = re.search(rf"^  {name}:\n(.*?)(?=^  \S)", text, re.S | re.M)
        own = re.search(r"^\s+MemorySize:\s*(\d+)", block[1], re.M) if block else None
        sizes[name] = int(own[1]) if own else default
    return sizes


def inputs_from(results: dict[str, dict[str, Any]]) -> Inputs:
    """The inputs, with this run's measurements where the figures ran (the defaults otherwise)."""
    memory = template_memory()
    chosen: dict[str, Any] = {"ingest_memory_mb": memory["IngestFunction"], "drain_memory_mb": memory["DrainFunction"]}
    measured = {"ingest": False, "drain": False, "api": False}
    if "ingest" in results:
        chosen["ingest_cpu_ms"] = results["ingest"]["ingest_handler_p50_seconds"] * 1000
        measured["ingest"] = True
    if "drain" in results:
        chosen["drain_cpu_ms_per_batch"] = results["drain"]["drain_batch_seconds"] * 1000
        measured["drain"] = True
    if "api" in results:
        api = results["api"]
        chosen["customers_per_call"] = api["customers_per_call"]
        chosen["customers_per_webhook"] = api["customers_per_webhook"]
        chosen["send_batches_per_webhook"] = api["send_batches_per_webhook"]
        chosen["deduplicated_share"] = api["deduplicated_share"]
        measured["api"] = True
    return Inputs(**chosen, measured=measured)


def run(results: dict[str, dict[str, Any]] | None = None) -> Figure:
    """The cost table for one million customers with this run's measurements."""
    inputs = inputs_from(results or {})
    prices = Prices()
    bridge, forwarder = bridge_cost(inputs, prices), forwarder_cost(inputs, prices)
    bridge_total, forwarder_total = total(bridge), total(forwarder)
    webhooks = CUSTOMERS / inputs.customers_per_webhook
    calls = CUSTOMERS / inputs.customers_per_call
    forwarder_by_name = {line.component: line for line in forwarder}
    renamed = {"Lambda requests (ingest + drain)": "Lambda requests"}
    rows = []
    for line in bridge:
        other = forwarder_by_name.pop(renamed.get(line.component, line.component), None)
        rows.append(
            [
                line.component,
                f"{line.quantity:,.0f} {line.unit}",
                f"${line.dollars:.3f}",
                f"{other.quantity:,.0f} {other.unit}" if other else "-",
                f"${other.dollars:.3f}" if other else "-",
            ]
        )
    rows.append(["**total**", "", f"**${bridge_total:.2f}**", "", f"**${forwarder_total:.2f}**"])
    rows.append(["NXCloud batch_create calls", f"{calls:,.0f}", "", f"{webhooks:,.0f}", ""])
    ordering_share = (
        _ordering_line(CUSTOMERS, inputs, prices).dollars
        + gb_seconds(
            CUSTOMERS / inputs.customers_per_call,
            ordering_ms(inputs, inputs.customers_per_call, inputs.drain_memory_mb),
            inputs.drain_memory_mb,
        )
        * prices.lambda_arm_per_gb_second
    )
    even = break_even_round_trip_ms(inputs, prices)

    def source(key: str) -> str:
        return "measured in this run" if inputs.measured.get(key) else "default, figure not run"

    details = [
        "Figures 1-3 of the same run supply the measured inputs (alone, this figure uses the defaults below). "
        f"Per {CUSTOMERS:,} customers, us-east-1 list prices as of {PRICES_AS_OF} (inputs: API Gateway HTTP API "
        "$1.00/M requests; Lambda arm64 $0.20/M requests + $0.0000133334/GB-s; SQS standard $0.40/M requests; "
        "DynamoDB on-demand $0.625/M WRU, $0.125/M RRU; Secrets Manager $0.05/10k calls). Free tiers ignored.",
        "",
        *table(["component", "bridge", "$", "call per webhook", "$"], rows),
        "",
        "Formula (C customers, W = C/k webhooks, B = C/b drain invocations; P_x the prices above; R secret "
        "refreshes per secret):",
        "",
        "```",
        "bridge    = W·P_api + (W + B)·P_req + (W·⌈d_i⌉·M_i + B·⌈d_d⌉·M_d)/1000/1024·P_gbs",
        "            + (W·s + C/10 + C/10)·P_sqs + W·h·(2·P_wru + P_rru) + o·C·P_wru + 2·R·P_sec",
        "forwarder = W·P_api + W·P_req + W·⌈d_f⌉·M_i/1000/1024·P_gbs + W·h·(2·P_wru + P_rru) + o·C·P_wru + 2·R·P_sec",
        "d_i = κ·t_i + s·t_sqs + 3h·t_ddb        (verify/map/validate, SendMessageBatch, idempotency put/get/update)",
        "d_d = κ·b·t_d/100 + t_o(b) + t_nx(b)    (one batch: decode, sign, parse; watermarks; one NXCloud call)",
        "d_f = κ·(t_i + k·t_d/100) + 3h·t_ddb + t_o(k) + t_nx(k)",
        "t_o(n) = o·n·κ·c_o + o·⌈n/w⌉·t_ddb      (o watermark writes per customer: CPU in series, waits w at a time)",
        "```",
        "",
        "Not included (the same or nearly the same for both designs, or fixed per month rather than per customer): "
        "CloudWatch Logs ingestion and EMF metrics, X-Ray traces (sampled), data transfer out to NXCloud, the event "
        "source mapping's empty long polls while the queue is idle (a few hundred thousand requests a month, about "
        "$0.26), DLQ writes for rejected records, the secrets' monthly fee, free tiers. GetSecretValue assumes the "
        "million customers spread over 30 days with one warm container per function (one read per secret per 300 s "
        "cache period).",
        "",
        "Inputs:",
        "",
        *table(
            ["input", "value", "source"],
            [
                ["customers per webhook k", f"{inputs.customers_per_webhook:.3f}", source("api")],
                ["SendMessageBatch calls per webhook s", f"{inputs.send_batches_per_webhook:.3f}", source("api")],
                ["share of webhooks with a delivery id h", f"{inputs.deduplicated_share:.3f}", source("api")],
                ["customers per NXCloud call b", f"{inputs.customers_per_call:.2f}", source("api")],
                [
                    "ingest CPU per webhook t_i (handler p50, this machine)",
                    f"{inputs.ingest_cpu_ms:.3f} ms",
                    source("ingest"),
                ],
                [
                    "drain CPU per 100-record batch t_d (this machine)",
                    f"{inputs.drain_cpu_ms_per_batch:.3f} ms",
                    source("drain"),
                ],
                [
                    "memory M_i / M_d (template.yaml)",
                    f"{inputs.ingest_memory_mb} / {inputs.drain_memory_mb} MB",
                    "template.yaml",
                ],
                [
                    "CPU share factor κ = 1769 / M",
                    f"{cpu_share_factor(inputs.ingest_memory_mb):.2f}",
                    "assumption: a Lambda core as fast as this one",
                ],
                ["SQS call / DynamoDB call", f"{inputs.sqs_call_ms:g} / {inputs.dynamodb_call_ms:g} ms", "assumption"],
                [
                    "watermark writes per customer o / releases per call / boto3 CPU per call c_o / threads w",
                    f"{inputs.ordering_writes_per_customer:g} / {inputs.ordering_release_batch} / "
                    f"{inputs.ordering_client_cpu_ms:g} ms / {inputs.ordering_workers}",
                    "design (claim + release) / nxbridge.ordering.RELEASE_BATCH / `python -m bench.ordering` / "
                    "nxbridge.ordering.WORKERS",
                ],
                [
                    "NXCloud call t_nx(n) = RTT + n·per-customer",
                    f"{inputs.nxcloud_round_trip_ms:g} ms + n·{inputs.nxcloud_per_customer_ms:g} ms",
                    "assumption (api-hk from us-east-1)",
                ],
                ["GetSecretValue per secret", f"{inputs.secret_refreshes_per_secret:,.0f}", "assumption (see below)"],
            ],
        ),
        "",
        f"Durations per invocation: ingest {ingest_ms(inputs):.1f} ms, drain {drain_ms(inputs):.1f} ms per batch "
        f"(of which {ordering_ms(inputs, inputs.customers_per_call, inputs.drain_memory_mb):.1f} ms of watermark "
        f"calls), call-per-webhook function {forwarder_ms(inputs):.1f} ms.",
        "",
        f"Newest wins costs the bridge about ${ordering_share:.2f} per million customers (the watermark writes and "
        "the drain's time for them); docs/drain.md explains the writes.",
        "",
        (
            f"Break-even: the call-per-webhook design is cheaper only when an NXCloud round trip takes less than "
            f"{even:.0f} ms (all other inputs unchanged)."
            if even is not None
            else "Break-even: none between 0 and 10 s of NXCloud round trip."
        ),
    ]
    ratio = bridge_total / forwarder_total
    return Figure(
        number=6,
        name="cost",
        title="Cost per million customers",
        value=f"${bridge_total:.2f} (bridge) vs ${forwarder_total:.2f} (call per webhook), {ratio:.2f}x; "
        f"{calls:,.0f} vs {webhooks:,.0f} NXCloud calls",
        target="bridge <= call-per-webhook design",
        passed=bridge_total <= forwarder_total,
        command=COMMAND,
        details=details,
        data={"bridge": bridge_total, "forwarder": forwarder_total},
    )
