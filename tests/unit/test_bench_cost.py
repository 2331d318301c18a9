"""The cost model of the benchmarks (bench/cost.py): the formula, not the prices."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.cost import (
    FULL_VCPU_MB,
    Inputs,
    Prices,
    break_even_round_trip_ms,
    bridge_cost,
    cpu_share_factor,
    drain_ms,
    forwarder_cost,
    forwarder_ms,
    gb_seconds,
    ingest_ms,
    ordering_ms,
    template_memory,
    total,
)

ROOT = Path(__file__).resolve().parents[2]
# One full vCPU: CPU times count as they were measured.
SIMPLE = Inputs(
    customers_per_webhook=1.0,
    send_batches_per_webhook=1.0,
    deduplicated_share=1.0,
    customers_per_call=100.0,
    ingest_cpu_ms=1.0,
    drain_cpu_ms_per_batch=10.0,
    ingest_memory_mb=FULL_VCPU_MB,
    drain_memory_mb=FULL_VCPU_MB,
    sqs_call_ms=10.0,
    dynamodb_call_ms=5.0,
    nxcloud_round_trip_ms=200.0,
    nxcloud_per_customer_ms=2.0,
    secret_refreshes_per_secret=0.0,
    ordering_writes_per_customer=2.0,
    ordering_client_cpu_ms=1.0,
    ordering_workers=8,
)


def by_component(lines: list[Any]) -> dict[str, Any]:
    return {line.component: line for line in lines}


def test_cpu_share_factor_scales_cpu_time_below_one_vcpu_only() -> None:
    assert cpu_share_factor(512) == pytest.approx(FULL_VCPU_MB / 512)
    assert cpu_share_factor(FULL_VCPU_MB) == 1.0
    assert cpu_share_factor(4096) == 1.0


def test_lambda_duration_is_billed_in_whole_milliseconds() -> None:
    assert gb_seconds(1000, 0.2, 1024) == pytest.approx(1.0)
    assert gb_seconds(1000, 1.2, 1024) == pytest.approx(2.0)
    assert gb_seconds(10, 100.0, 512) == pytest.approx(0.5)


def test_durations_add_cpu_and_the_network_waits_of_each_function() -> None:
    assert ingest_ms(SIMPLE) == pytest.approx(1.0 + 10.0 + 3 * 5.0)
    # 100 records of 0.1 ms each, the watermark calls, then one NXCloud call carrying 100 customers.
    assert drain_ms(SIMPLE) == pytest.approx(10.0 + 174.0 + 200.0 + 100 * 2.0)
    # The forwarder does the ingest's work, one record's drain work, dedupe, one customer's watermark calls, and a
    # call carrying one customer.
    assert forwarder_ms(SIMPLE) == pytest.approx(1.0 + 0.1 + 15.0 + 12.0 + 200.0 + 2.0)


def test_watermark_calls_serialize_their_cpu_and_overlap_their_waits() -> None:
    # 100 claims and 4 batched releases of 1 ms CPU one after the other; their 5 ms waits 8 at a time: 13 + 1 rounds.
    assert ordering_ms(SIMPLE, 100, FULL_VCPU_MB) == pytest.approx(104 * 1.0 + (13 + 1) * 5.0)
    # At 512 MB the CPU share is smaller, so the same calls take longer; the waits do not.
    assert ordering_ms(SIMPLE, 100, 512) == pytest.approx(104 * 1.0 * FULL_VCPU_MB / 512 + 70.0)
    # One customer: a claim and a release of its own (the call-per-webhook design), 2 rounds.
    assert ordering_ms(SIMPLE, 1, FULL_VCPU_MB) == pytest.approx(2 * 1.0 + 2 * 5.0)
    lines = by_component(bridge_cost(SIMPLE, customers=1_000_000))
    assert lines["DynamoDB writes (ordering)"].quantity == pytest.approx(2_000_000)
    assert lines["DynamoDB writes (ordering)"].dollars == pytest.approx(2 * 0.625)


def test_bridge_sqs_requests_follow_the_batching() -> None:
    lines = by_component(bridge_cost(SIMPLE, customers=1_000_000))
    assert lines["SQS SendMessageBatch (ingest)"].quantity == pytest.approx(1_000_000)
    assert lines["SQS ReceiveMessage (event source mapping)"].quantity == pytest.approx(100_000)
    assert lines["SQS DeleteMessageBatch (event source mapping)"].quantity == pytest.approx(100_000)
    assert lines["Lambda requests (ingest + drain)"].quantity == pytest.approx(1_010_000)


def test_bulk_webhooks_need_fewer_requests_per_customer() -> None:
    bulk = replace(SIMPLE, customers_per_webhook=100.0, send_batches_per_webhook=10.0)
    lines = by_component(bridge_cost(bulk, customers=1_000_000))
    assert lines["API Gateway HTTP API requests"].quantity == pytest.approx(10_000)
    assert lines["SQS SendMessageBatch (ingest)"].quantity == pytest.approx(100_000)
    assert lines["DynamoDB writes (idempotency)"].quantity == pytest.approx(20_000)


def test_bridge_total_matches_the_formula_by_hand() -> None:
    prices = Prices()
    customers = 1_000_000
    webhooks, batches = customers, customers / 100
    gb = FULL_VCPU_MB / 1024
    expected = (
        webhooks * 1.00 / 1e6
        + (webhooks + batches) * 0.20 / 1e6
        + (webhooks * 26 / 1000 * gb + batches * 584 / 1000 * gb) * prices.lambda_arm_per_gb_second
        + (webhooks + customers / 10 + customers / 10) * 0.40 / 1e6
        + webhooks * (2 * 0.625 + 0.125) / 1e6
        + customers * 2 * 0.625 / 1e6
    )
    assert total(bridge_cost(SIMPLE, prices, customers)) == pytest.approx(expected)


def test_forwarder_waits_for_nxcloud_once_per_webhook() -> None:
    prices = Prices()
    lines = by_component(forwarder_cost(SIMPLE, prices, 1_000_000))
    # 230.1 ms billed as 231 ms, one invocation per webhook.
    assert lines["Lambda duration, arm64"].quantity == pytest.approx(1_000_000 * 0.231 * FULL_VCPU_MB / 1024)
    assert "SQS SendMessageBatch (ingest)" not in lines


def test_break_even_round_trip_makes_both_designs_cost_the_same() -> None:
    even = break_even_round_trip_ms(SIMPLE)
    assert even is not None
    at = replace(SIMPLE, nxcloud_round_trip_ms=even)
    # Lambda's 1 ms rounding makes the totals a step function: equal to within one step.
    assert abs(total(bridge_cost(at)) - total(forwarder_cost(at))) < 0.05
    slower = replace(SIMPLE, nxcloud_round_trip_ms=even + 50)
    assert total(bridge_cost(slower)) < total(forwarder_cost(slower))


def test_template_memory_is_what_template_yaml_declares() -> None:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=Loader)
    default = template["Globals"]["Function"]["MemorySize"]
    resources = template["Resources"]
    expected = {
        name: resources[name]["Properties"].get("MemorySize", default) for name in ("IngestFunction", "DrainFunction")
    }
    assert template_memory() == expected
