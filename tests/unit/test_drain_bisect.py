"""Record-attributable whole-request failures are isolated by bisection, within a bounded number of calls."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from nxbridge.contract import BatchCreateRequest
from nxbridge.nxcloud.client import FailureClass, NXCloudCredentials, Outcome
from tests.fixtures.drain import (
    FIXED_NOW,
    PLENTY_MS,
    DrainKit,
    ScriptedNXCloud,
    customers_by_phone,
    failed,
    make_envelope,
    phone_of,
    records_for,
    stored,
)

MakeDrain = Callable[..., DrainKit]
Metric = Callable[[str], list[float]]


def plenty() -> int:
    return PLENTY_MS


def call_bound(n: int, bad: int) -> int:
    """The promise: at most 2·ceil(log2 n) + 1 calls per bad record."""
    return bad * (2 * math.ceil(math.log2(n)) + 1)


@pytest.mark.parametrize(
    "bad_positions",
    [[0], [57], [99], [3, 41, 88], [10, 11, 12], [0, 50, 99]],
    ids=["first", "middle", "last", "three-spread", "three-adjacent", "three-edges"],
)
def test_bisection_isolates_bad_records_delivers_the_rest_within_the_call_bound(
    make_drain: MakeDrain, drain_metrics: Metric, bad_positions: list[int]
) -> None:
    bad_phones = {phone_of(n) for n in bad_positions}
    kit = make_drain(nxcloud=ScriptedNXCloud.poisoned_by(bad_phones))

    result = kit.drainer.drain(records_for([make_envelope(n) for n in range(100)]), plenty)

    assert len(kit.nxcloud.requests) <= call_bound(100, len(bad_positions))
    assert sorted(s.message_id for s in result.synced) == sorted(f"m-{n}" for n in range(100) if n not in bad_positions)
    assert sorted(d.message_id for d in result.dead_lettered) == sorted(f"m-{n}" for n in bad_positions)
    assert result.response() == {"batchItemFailures": []}
    for body in kit.sqs.bodies():
        assert body["error"] == {
            "stage": "bisect",
            "errorCode": "12148",
            "errorMessage": "seat user not found",
            "traceId": "trace-12148",
            "attempts": 1,
            "failed_at": FIXED_NOW.isoformat().replace("+00:00", "Z"),
        }
    assert drain_metrics("BisectCalls") == [len(kit.nxcloud.requests) - 1.0]


@pytest.mark.parametrize("code", [1002, 12148, 99999], ids=["1002", "12148", "unknown"])
def test_a_single_record_refused_as_a_whole_request_goes_to_the_dlq(make_drain: MakeDrain, code: int) -> None:
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(failed(FailureClass.RECORD, code, "no")))

    result = kit.drainer.drain(records_for([make_envelope(0)]), plenty)

    assert len(kit.nxcloud.requests) == 1
    assert [d.message_id for d in result.dead_lettered] == ["m-0"]
    assert kit.sqs.bodies()[0]["error"]["errorCode"] == str(code)


def test_retryable_failure_during_bisection_sends_that_half_back_and_keeps_the_good_deliveries(
    make_drain: MakeDrain,
) -> None:
    bad = phone_of(70)

    def respond(request: BatchCreateRequest, _creds: NXCloudCredentials) -> Outcome:
        phones = customers_by_phone(request)
        if bad in phones and len(phones) == 100:
            return failed(FailureClass.RECORD, 12148, "seat user not found")
        if bad in phones:
            return failed(FailureClass.RETRYABLE, None, "HTTP 503", status=503)
        return stored(request)

    kit = make_drain(nxcloud=ScriptedNXCloud(respond), max_attempts=2)

    result = kit.drainer.drain(records_for([make_envelope(n) for n in range(100)]), plenty)

    assert sorted(s.message_id for s in result.synced) == sorted(f"m-{n}" for n in range(50))
    assert sorted(r["itemIdentifier"] for r in result.response()["batchItemFailures"]) == sorted(
        f"m-{n}" for n in range(50, 100)
    )
    assert result.dead_lettered == []


def test_configuration_failure_during_bisection_stops_further_calls(
    make_drain: MakeDrain, drain_metrics: Metric
) -> None:
    def respond(request: BatchCreateRequest, _creds: NXCloudCredentials) -> Outcome:
        if len(request.customers) == 100:
            return failed(FailureClass.RECORD, 1002, "parameter error")
        return failed(FailureClass.CONFIG, 1001, "missing public parameters")

    kit = make_drain(nxcloud=ScriptedNXCloud(respond))

    result = kit.drainer.drain(records_for([make_envelope(n) for n in range(100)]), plenty)

    assert len(kit.nxcloud.requests) == 2
    assert len(result.response()["batchItemFailures"]) == 100
    assert drain_metrics("ConfigurationFailures") == [1.0]


def test_every_record_poisoned_ends_in_the_dlq_without_losing_one(make_drain: MakeDrain) -> None:
    kit = make_drain(nxcloud=ScriptedNXCloud.poisoned_by({phone_of(n) for n in range(8)}))

    result = kit.drainer.drain(records_for([make_envelope(n) for n in range(8)]), plenty)

    assert sorted(d.message_id for d in result.dead_lettered) == [f"m-{n}" for n in range(8)]
    assert len(kit.nxcloud.requests) == 15
