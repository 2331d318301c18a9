"""Conservation: under any mix of NXCloud faults, every message is stored, dead-lettered with a reason, or retried."""

from __future__ import annotations

import random
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from nxbridge.drain import Drainer
from nxbridge_dev.simulator import Simulator
from tests.fixtures.aws import REGION
from tests.fixtures.drain import (
    PLENTY_MS,
    QUEUE_ARN,
    drain_queue_records,
    enqueue,
    event_from_messages,
    make_envelope,
    phone_of,
    read_dlq,
    stored_phones,
)

pytestmark = pytest.mark.chaos

Wired = tuple[Drainer, list[float]]
# Every fault the simulator knows, whole-request codes of every class included.
CHAOS_RATES = {
    "http_500": 0.07,
    "http_429": 0.05,
    "garbage": 0.04,
    "timeout": 0.02,
    "store_then_500": 0.07,
    "code:1001": 0.01,
    "code:1002": 0.04,
    "code:1003": 0.03,
    "code:1004": 0.05,
    "code:99999": 0.02,
}
STAGES = {"decode", "nxcloud", "bisect"}


def plenty() -> int:
    return PLENTY_MS


def poisoned_batch(seed: int, simulator: Simulator) -> tuple[list[str], dict[int, str], set[int]]:
    """100 bodies: some undecodable, some with an unknown seat, some NXCloud rejects.

    Returns the bodies, the phone of each decodable one by position, and the positions NXCloud refuses.
    """
    rng = random.Random(seed)
    picks = rng.sample(range(100), 9)
    undecodable, unknown_seat, rejected = set(picks[:3]), set(picks[3:6]), set(picks[6:])
    bodies: list[str] = []
    phones: dict[int, str] = {}
    for n in range(100):
        if n in undecodable:
            bodies.append(rng.choice(["", "not json", '{"v": 1}', "[1, 2]"]))
            continue
        seat = "ghost@example.com" if n in unknown_seat else "agent@example.com"
        bodies.append(make_envelope(n, belong_seat_user=seat).to_message())
        phones[n] = phone_of(n)
        if n in rejected:
            simulator.per_record_failures[phone_of(n)] = (12001, "rejected")
    return bodies, phones, unknown_seat | rejected


@pytest.mark.parametrize("seed", range(8))
def test_every_message_has_exactly_one_outcome_under_faults(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str], seed: int
) -> None:
    drainer, _ = wired_drain
    bodies, phones, bad = poisoned_batch(seed, simulator)
    simulator.chaos(seed, CHAOS_RATES)
    ids, records = drain_queue_records(queues["queue_url"], bodies)

    result = drainer.drain(records, plenty)

    retried = [r["itemIdentifier"] for r in result.response()["batchItemFailures"]]
    dlq_messages = read_dlq(queues["dlq_url"])
    dead = [m["body"]["source_message_id"] for m in dlq_messages]
    acknowledged = set(ids) - set(retried) - set(dead)
    stored = stored_phones(simulator)
    # No message counted twice, in one outcome or across two.
    assert len(set(retried)) == len(retried)
    assert len(set(dead)) == len(dead)
    assert not set(retried) & set(dead)
    assert set(retried) | set(dead) <= set(ids)
    # Acknowledged means stored: there is no fourth outcome.
    for n, message_id in enumerate(ids):
        if message_id in acknowledged:
            assert phones.get(n) in stored, f"message {n} acknowledged but not stored"
    # Every dead letter carries a reason; the records NXCloud refuses are never stored.
    for message in dlq_messages:
        error = message["body"]["error"]
        assert error["stage"] in STAGES
        assert error["errorCode"]
        assert isinstance(error["errorMessage"], str)
    assert not stored & {phones[n] for n in bad}
    # The drain's own account agrees with what SQS, the DLQ and NXCloud hold.
    assert {s.message_id for s in result.synced} == acknowledged
    assert sorted(d.message_id for d in result.dead_lettered) == sorted(dead)


def receive_batch(queue_url: str) -> list[dict[str, Any]]:
    """Up to 100 visible messages, as one event source mapping poll would gather them."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while len(messages) < 100:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
        if not answer.get("Messages"):
            break
        messages.extend(answer["Messages"])
    return messages


def test_redelivery_until_the_queue_is_empty_loses_nothing(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str]
) -> None:
    """Emulate the event source mapping: delete what the drain acknowledged, release what it reports, repeat."""
    drainer, _ = wired_drain
    bodies, phones, _ = poisoned_batch(99, simulator)
    simulator.chaos(99, {**CHAOS_RATES, "http_500": 0.25})
    sqs = boto3.client("sqs", region_name=REGION)
    ids = enqueue(queues["queue_url"], bodies)

    for _ in range(30):
        messages = receive_batch(queues["queue_url"])
        if not messages:
            break
        event = event_from_messages(messages, QUEUE_ARN)
        result = drainer.drain([SQSRecord(r) for r in event["Records"]], plenty)
        retry = {r["itemIdentifier"] for r in result.response()["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in retry:
                sqs.change_message_visibility(
                    QueueUrl=queues["queue_url"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=queues["queue_url"], ReceiptHandle=message["ReceiptHandle"])
    else:
        pytest.fail("the queue never drained")

    stored = stored_phones(simulator)
    in_dlq: set[str] = set()
    for message in read_dlq(queues["dlq_url"]):
        body: dict[str, Any] = message["body"]
        # A bridge DLQ record names its source message; a message SQS redrove after maxReceiveCount is the bare
        # envelope, recognised by its phone.
        if "source_message_id" in body:
            in_dlq.add(body["source_message_id"])
        else:
            in_dlq.update(i for n, i in enumerate(ids) if phones.get(n) == body["customer"]["whats_app_phone"])
    for n, message_id in enumerate(ids):
        assert (phones.get(n) in stored) or (message_id in in_dlq), f"message {n} was lost"
