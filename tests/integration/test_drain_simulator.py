"""The drain against moto SQS + Secrets Manager and the NXCloud simulator over loopback HTTP."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import boto3
import pytest

from nxbridge.config import DrainSettings
from nxbridge.drain import Drainer
from nxbridge.nxcloud.client import NXCloudCredentials
from nxbridge_dev.simulator import Simulator
from tests.fixtures.aws import REGION
from tests.fixtures.drain import (
    PLENTY_MS,
    drain_queue_records,
    make_envelope,
    phone_of,
    read_dlq,
    secret_json,
    stored_phones,
)

Wired = tuple[Drainer, list[float]]


def plenty() -> int:
    return PLENTY_MS


def bodies(count: int, start: int = 0) -> list[str]:
    return [make_envelope(n).to_message() for n in range(start, start + count)]


def test_full_batch_of_100_is_stored_with_one_call(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str]
) -> None:
    drainer, _ = wired_drain
    ids, records = drain_queue_records(queues["queue_url"], bodies(100))

    result = drainer.drain(records, plenty)

    assert result.response() == {"batchItemFailures": []}
    assert [(c.code, c.customer_count) for c in simulator.calls] == [(0, 100)]
    assert stored_phones(simulator) == {phone_of(n) for n in range(100)}
    assert [s.message_id for s in result.synced] == ids
    assert {s.customer_id for s in result.synced} == set(simulator.customers)
    assert read_dlq(queues["dlq_url"]) == []


def test_mixed_success_and_fail_items_write_the_exact_dlq_records(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str]
) -> None:
    drainer, _ = wired_drain
    simulator.per_record_failures[phone_of(2)] = (12001, "WhatsApp number is not registered")
    simulator.per_record_failures[phone_of(7)] = (12002, "customer is blacklisted")
    envelopes = [make_envelope(n) for n in range(10)]
    ids, records = drain_queue_records(queues["queue_url"], [e.to_message() for e in envelopes])

    result = drainer.drain(records, plenty)

    assert result.response() == {"batchItemFailures": []}
    assert stored_phones(simulator) == {phone_of(n) for n in range(10) if n not in (2, 7)}
    trace_id = simulator.calls[0].trace_id
    dlq = sorted(read_dlq(queues["dlq_url"]), key=lambda m: m["body"]["source_message_id"] != ids[2])
    assert [m["attributes"] for m in dlq] == [
        {"stage": "nxcloud", "errorCode": "12001", "endpoint": "shop"},
        {"stage": "nxcloud", "errorCode": "12002", "endpoint": "shop"},
    ]
    for message, n, code, text in [
        (dlq[0], 2, "12001", "WhatsApp number is not registered"),
        (dlq[1], 7, "12002", "customer is blacklisted"),
    ]:
        body = message["body"]
        failed_at = body["error"].pop("failed_at")
        assert failed_at.endswith("Z")
        assert body == {
            "v": 1,
            "envelope": json.loads(envelopes[n].to_message()),
            "error": {"stage": "nxcloud", "errorCode": code, "errorMessage": text, "traceId": trace_id, "attempts": 1},
            "source_message_id": ids[n],
        }


@pytest.mark.parametrize("fault", ["http_500", "http_429", "timeout", "garbage"])
def test_retryable_failure_that_persists_sends_every_message_back(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str], fault: str
) -> None:
    drainer, sleeps = wired_drain
    simulator.inject(fault, count=4)
    ids, records = drain_queue_records(queues["queue_url"], bodies(5))

    result = drainer.drain(records, plenty)

    assert len(simulator.calls) == 4
    assert len(sleeps) == 3
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
    assert simulator.customers == {}
    assert read_dlq(queues["dlq_url"]) == []


@pytest.mark.parametrize("fault", ["http_500", "http_429", "timeout", "garbage"])
def test_retryable_failure_that_clears_delivers_everything(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str], fault: str
) -> None:
    drainer, _ = wired_drain
    simulator.inject(fault, count=2)
    _, records = drain_queue_records(queues["queue_url"], bodies(5))

    result = drainer.drain(records, plenty)

    assert len(simulator.calls) == 3
    assert result.response() == {"batchItemFailures": []}
    assert stored_phones(simulator) == {phone_of(n) for n in range(5)}


def test_stale_timestamp_is_re_signed_and_delivered(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str]
) -> None:
    drainer, sleeps = wired_drain
    simulator.inject("code", code=1004)
    _, records = drain_queue_records(queues["queue_url"], bodies(3))

    result = drainer.drain(records, plenty)

    assert [c.code for c in simulator.calls] == [1004, 0]
    assert sleeps == [0.0]
    assert result.response() == {"batchItemFailures": []}


def test_answer_lost_after_storing_is_retried_without_duplicates(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str]
) -> None:
    drainer, _ = wired_drain
    simulator.inject("store_then_500")
    _, records = drain_queue_records(queues["queue_url"], bodies(20))

    result = drainer.drain(records, plenty)

    assert [c.http_status for c in simulator.calls] == [500, 200]
    assert len(simulator.customers) == 20
    assert result.response() == {"batchItemFailures": []}


def test_redelivered_messages_do_not_create_second_customers(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str]
) -> None:
    drainer, _ = wired_drain
    _, records = drain_queue_records(queues["queue_url"], bodies(10))

    first = drainer.drain(records, plenty)
    second = drainer.drain(records, plenty)

    assert len(simulator.customers) == 10
    assert [s.customer_id for s in first.synced] == [s.customer_id for s in second.synced]


def test_missing_public_parameters_is_a_configuration_failure(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str]
) -> None:
    drainer, sleeps = wired_drain
    simulator.inject("code", code=1001)
    ids, records = drain_queue_records(queues["queue_url"], bodies(3))

    result = drainer.drain(records, plenty)

    assert len(simulator.calls) == 1
    assert sleeps == []
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
    assert read_dlq(queues["dlq_url"]) == []


def test_wrong_access_key_is_a_configuration_failure_after_one_refresh(
    drain_env: DrainSettings, simulator: Simulator, queues: dict[str, str], nxcloud_credentials: NXCloudCredentials
) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.put_secret_value(
        SecretId=drain_env.nxcloud_secret_arn, SecretString=secret_json(nxcloud_credentials, accessKey="wrong")
    )
    drainer = Drainer.from_settings(drain_env)
    ids, records = drain_queue_records(queues["queue_url"], bodies(3))

    result = drainer.drain(records, plenty)

    assert [c.code for c in simulator.calls] == [1005, 1005]
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


def test_rotated_secret_heals_after_one_invalid_signature(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str], nxcloud_credentials: NXCloudCredentials
) -> None:
    drainer, _ = wired_drain
    _, records = drain_queue_records(queues["queue_url"], bodies(2))
    assert drainer.drain(records, plenty).response() == {"batchItemFailures": []}

    # Rotation: NXCloud and the secret change together; the drain still holds the old secret in its cache.
    simulator.access_secret = "rotated-secret"
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=drainer.settings.nxcloud_secret_arn,
        SecretString=secret_json(nxcloud_credentials, accessSecret="rotated-secret"),
    )
    _, records = drain_queue_records(queues["queue_url"], bodies(2, start=2))
    result = drainer.drain(records, plenty)

    assert [c.code for c in simulator.calls] == [0, 1003, 0]
    assert result.response() == {"batchItemFailures": []}
    assert stored_phones(simulator) == {phone_of(n) for n in range(4)}


def test_tenant_and_app_key_missing_everywhere_is_a_configuration_failure(
    drain_env: DrainSettings, simulator: Simulator, queues: dict[str, str], nxcloud_credentials: NXCloudCredentials
) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    document = json.loads(secret_json(nxcloud_credentials))
    del document["tenantId"], document["appKey"]
    secrets.put_secret_value(SecretId=drain_env.nxcloud_secret_arn, SecretString=json.dumps(document))
    ids, records = drain_queue_records(queues["queue_url"], bodies(2))

    result = Drainer.from_settings(drain_env).drain(records, plenty)

    assert simulator.calls == []
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


@pytest.mark.parametrize("bad", [[42], [5, 50, 95]], ids=["one-bad", "three-bad"])
def test_bisection_isolates_unknown_seats_among_100_with_bounded_calls(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str], bad: list[int]
) -> None:
    drainer, _ = wired_drain
    envelopes = [
        make_envelope(n, belong_seat_user="ghost@example.com" if n in bad else "agent@example.com") for n in range(100)
    ]
    ids, records = drain_queue_records(queues["queue_url"], [e.to_message() for e in envelopes])

    result = drainer.drain(records, plenty)

    assert len(simulator.calls) <= len(bad) * (2 * math.ceil(math.log2(100)) + 1)
    assert simulator.calls[0].code == 12148
    assert stored_phones(simulator) == {phone_of(n) for n in range(100) if n not in bad}
    assert result.response() == {"batchItemFailures": []}
    dlq = read_dlq(queues["dlq_url"])
    assert sorted(m["body"]["source_message_id"] for m in dlq) == sorted(ids[n] for n in bad)
    for message in dlq:
        assert message["body"]["error"]["stage"] == "bisect"
        assert message["body"]["error"]["errorCode"] == "12148"
        assert "ghost@example.com" in message["body"]["error"]["errorMessage"]
        assert message["body"]["error"]["traceId"]


def test_strict_binding_turns_unknown_seats_into_fail_items(
    drain_env: DrainSettings, simulator: Simulator, queues: dict[str, str]
) -> None:
    drainer = Drainer.from_settings(drain_env.model_copy(update={"strict_binding": True}))
    envelopes = [make_envelope(n, belong_seat_user="ghost@example.com" if n == 3 else None) for n in range(10)]
    _, records = drain_queue_records(queues["queue_url"], [e.to_message() for e in envelopes])

    drainer.drain(records, plenty)

    assert len(simulator.calls) == 1
    assert [m["attributes"]["stage"] for m in read_dlq(queues["dlq_url"])] == ["nxcloud"]


def test_undecodable_messages_go_to_the_dlq_and_the_rest_are_delivered(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str]
) -> None:
    drainer, _ = wired_drain
    ids, records = drain_queue_records(queues["queue_url"], ["not json", *bodies(3), '{"v": 1}'])

    result = drainer.drain(records, plenty)

    assert result.response() == {"batchItemFailures": []}
    assert stored_phones(simulator) == {phone_of(n) for n in range(3)}
    dlq = {m["body"]["source_message_id"]: m for m in read_dlq(queues["dlq_url"])}
    assert set(dlq) == {ids[0], ids[4]}
    assert dlq[ids[0]]["body"]["raw_body"] == "not json"
    assert {m["attributes"]["stage"] for m in dlq.values()} == {"decode"}


def test_dlq_send_failure_reports_the_records_as_batch_item_failures(
    drain_env: DrainSettings, simulator: Simulator, queues: dict[str, str]
) -> None:
    missing_dlq = queues["dlq_url"].rsplit("/", 1)[0] + "/NoSuchQueue"
    drainer = Drainer.from_settings(drain_env.model_copy(update={"dlq_url": missing_dlq}))
    drainer.sleep = lambda _seconds: None
    simulator.per_record_failures[phone_of(1)] = (12001, "rejected")
    ids, records = drain_queue_records(queues["queue_url"], ["garbage", *bodies(3)])

    result = drainer.drain(records, plenty)

    assert sorted(r["itemIdentifier"] for r in result.response()["batchItemFailures"]) == sorted([ids[0], ids[2]])
    assert [s.message_id for s in result.synced] == [ids[1], ids[3]]


@pytest.mark.parametrize("secret", ["not json", '{"accessSecret": "demo-secret"}'], ids=["not-json", "no-access-key"])
def test_malformed_secret_is_a_configuration_failure(
    drain_env: DrainSettings,
    simulator: Simulator,
    queues: dict[str, str],
    drain_metrics: Callable[[str], list[float]],
    secret: str,
) -> None:
    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=drain_env.nxcloud_secret_arn, SecretString=secret
    )
    ids, records = drain_queue_records(queues["queue_url"], bodies(2))

    result = Drainer.from_settings(drain_env).drain(records, plenty)

    assert simulator.calls == []
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
    assert drain_metrics("ConfigurationFailures") == [1.0]
