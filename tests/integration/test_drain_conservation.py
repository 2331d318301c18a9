"""Conservation: under any mix of NXCloud faults, every message is stored, dead-lettered with a reason, superseded by a
newer version of the same customer, or retried; and NXCloud never keeps an older version over a delivered newer one."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
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
    phone_of,
    read_dlq,
    stored_phones,
    versioned,
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


# Every customer's current version, and for some an older one too (a Shopify retry, a redelivery, a replay).
NEW = dt.datetime(2024, 5, 1, 11, 5, tzinfo=dt.UTC)
OLD = NEW - dt.timedelta(minutes=5)


@dataclass
class Batch:
    """The bodies of one mixed batch and what each position is."""

    bodies: list[str]
    customer: dict[int, int]  # position -> customer number (decodable positions only)
    older: set[int]  # positions holding an older version of their customer
    bad: set[int]  # customer numbers NXCloud refuses

    def phone(self, position: int) -> str | None:
        """The phone of the customer at ``position`` (None: undecodable)."""
        return phone_of(self.customer[position]) if position in self.customer else None


def poisoned_batch(seed: int, simulator: Simulator) -> Batch:
    """100 bodies: some undecodable, some with an unknown seat, some NXCloud rejects, ten older versions of others."""
    rng = random.Random(seed)
    picks = rng.sample(range(90), 9)
    undecodable, unknown_seat, rejected = set(picks[:3]), set(picks[3:6]), set(picks[6:])
    entries: list[tuple[str, int | None, bool]] = []
    for n in range(90):
        if n in undecodable:
            entries.append((rng.choice(["", "not json", '{"v": 1}', "[1, 2]"]), None, False))
            continue
        seat = "ghost@example.com" if n in unknown_seat else "agent@example.com"
        entries.append((versioned(n, NEW, full_name=f"Customer {n} v2", belong_seat_user=seat).to_message(), n, False))
        if n in rejected:
            simulator.per_record_failures[phone_of(n)] = (12001, "rejected")
    for n in rng.sample(sorted(set(range(90)) - undecodable), 10):
        seat = "ghost@example.com" if n in unknown_seat else "agent@example.com"
        older = versioned(n, OLD, full_name=f"Customer {n} v1", belong_seat_user=seat).to_message()
        entries.insert(rng.randrange(len(entries) + 1), (older, n, True))
    return Batch(
        bodies=[body for body, _, _ in entries],
        customer={i: n for i, (_, n, _) in enumerate(entries) if n is not None},
        older={i for i, (_, _, old) in enumerate(entries) if old},
        bad=unknown_seat | rejected,
    )


def stored_names(simulator: Simulator) -> dict[str, str]:
    """The full name NXCloud holds per WhatsApp number."""
    return {c["whats_app_phone"]: c["full_name"] for c in simulator.customers.values() if "whats_app_phone" in c}


@pytest.mark.parametrize("seed", range(8))
def test_every_message_has_exactly_one_outcome_under_faults(
    wired_drain: Wired, simulator: Simulator, queues: dict[str, str], seed: int
) -> None:
    drainer, _ = wired_drain
    batch = poisoned_batch(seed, simulator)
    simulator.chaos(seed, CHAOS_RATES)
    ids, records = drain_queue_records(queues["queue_url"], batch.bodies)

    result = drainer.drain(records, plenty)

    retried = [r["itemIdentifier"] for r in result.response()["batchItemFailures"]]
    dlq_messages = read_dlq(queues["dlq_url"])
    dead = [m["body"]["source_message_id"] for m in dlq_messages]
    superseded = [s.message_id for s in result.superseded]
    acknowledged = set(ids) - set(retried) - set(dead)
    stored = stored_phones(simulator)
    # No message counted twice, in one outcome or across two.
    assert len(set(retried)) == len(retried)
    assert len(set(dead)) == len(dead)
    assert len(set(superseded)) == len(superseded)
    assert not set(retried) & set(dead)
    assert not set(superseded) & (set(retried) | set(dead))
    assert set(retried) | set(dead) <= set(ids)
    # Acknowledged means stored, or superseded by a newer version of the same customer in this batch.
    by_id = dict(zip(ids, range(len(ids)), strict=True))
    for position, message_id in enumerate(ids):
        if message_id in set(superseded):
            assert position in batch.older, f"message {position}, the newest of its customer, was superseded"
        elif message_id in acknowledged:
            assert batch.phone(position) in stored, f"message {position} acknowledged but not stored"
    assert {by_id[m] for m in superseded} == batch.older
    # Every dead letter carries a reason; the records NXCloud refuses are never stored, nor any older version.
    for message in dlq_messages:
        error = message["body"]["error"]
        assert error["stage"] in STAGES
        assert error["errorCode"]
        assert isinstance(error["errorMessage"], str)
    assert not stored & {phone_of(n) for n in batch.bad}
    assert not [name for name in stored_names(simulator).values() if name.endswith(" v1")]
    # The drain's own account agrees with what SQS, the DLQ and NXCloud hold.
    assert {s.message_id for s in result.synced} | set(superseded) == acknowledged
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
    batch = poisoned_batch(99, simulator)
    simulator.chaos(99, {**CHAOS_RATES, "http_500": 0.25})
    sqs = boto3.client("sqs", region_name=REGION)
    ids = enqueue(queues["queue_url"], batch.bodies)
    superseded: set[str] = set()

    for _ in range(30):
        # Redelivered messages come back in other groupings: an older version often meets only the watermark.
        messages = receive_batch(queues["queue_url"])
        if not messages:
            break
        event = event_from_messages(messages, QUEUE_ARN)
        result = drainer.drain([SQSRecord(r) for r in event["Records"]], plenty)
        superseded.update(s.message_id for s in result.superseded)
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

    stored = stored_names(simulator)
    in_dlq: set[str] = set()
    for message in read_dlq(queues["dlq_url"]):
        body: dict[str, Any] = message["body"]
        # A bridge DLQ record names its source message; a message SQS redrove after maxReceiveCount is the bare
        # envelope, recognised by its phone and version.
        if "source_message_id" in body:
            in_dlq.add(body["source_message_id"])
        else:
            in_dlq.update(
                i
                for n, i in enumerate(ids)
                if batch.phone(n) == body["customer"]["whats_app_phone"] and (n in batch.older) == _is_older(body)
            )
    newest = {batch.customer[n]: ids[n] for n in batch.customer if n not in batch.older}
    for n, message_id in enumerate(ids):
        if message_id in superseded:
            # Superseded only by a newer version of the same customer, which itself ended stored or dead-lettered.
            assert n in batch.older, f"message {n}, the newest of its customer, was superseded"
            number = batch.customer[n]
            assert stored.get(phone_of(number), "").endswith(" v2") or newest[number] in in_dlq
        else:
            assert batch.phone(n) in stored or message_id in in_dlq, f"message {n} was lost"
    # No interleaving leaves NXCloud with the older version while the newer one was delivered.
    for number, message_id in newest.items():
        if stored.get(phone_of(number), "").endswith(" v1"):
            assert message_id in in_dlq, f"customer {number}: NXCloud holds the older version"


def _is_older(envelope: dict[str, Any]) -> bool:
    return str(envelope["customer"]["full_name"]).endswith(" v1")
