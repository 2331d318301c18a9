"""The embedded AWS gives concurrent clients what SQS guarantees, keeps connections open, runs in its own process."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nxbridge.aws.sqs import queue_counts
from nxbridge_dev.local.aws import LocalAws
from tests.fixtures.local import LOCAL_REGION


@pytest.fixture
def queue_url(local_aws: LocalAws) -> str:
    url: str = local_aws.sqs().create_queue(QueueName="LocalMotoTest")["QueueUrl"]
    return url


def _send(local_aws: LocalAws, url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        entries: Any = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        local_aws.sqs().send_message_batch(QueueUrl=url, Entries=entries)


def test_concurrent_receivers_never_hold_one_message_at_once(local_aws: LocalAws, queue_url: str) -> None:
    _send(local_aws, queue_url, [f"m{i}" for i in range(300)])
    sqs = local_aws.sqs()

    def drain(_: int) -> list[str]:
        got: list[str] = []
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
                "Messages", []
            )
            if not messages:
                return got
            got += [m["MessageId"] for m in messages]

    with ThreadPoolExecutor(max_workers=8) as pool:
        received = [mid for got in pool.map(drain, range(8)) for mid in got]

    assert len(received) == 300
    assert Counter(received).most_common(1)[0][1] == 1


def test_messages_sent_while_others_are_deleted_are_all_kept(local_aws: LocalAws, queue_url: str) -> None:
    sqs = local_aws.sqs()
    bodies = [f"m{i}" for i in range(400)]
    seen: list[str] = []
    sent = threading.Event()

    def consume() -> None:
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
                "Messages", []
            )
            if not messages and sent.is_set():
                return
            seen.extend(m["Body"] for m in messages)
            if messages:
                entries: Any = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
                assert sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)["Successful"]

    consumer = threading.Thread(target=consume)
    consumer.start()
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    sent.set()
    consumer.join(60)

    assert sorted(seen) == sorted(bodies)
    assert queue_counts(sqs, queue_url).total == 0


def test_delete_message_batch_answers_each_entry_as_sqs_does(local_aws: LocalAws, queue_url: str) -> None:
    sqs = local_aws.sqs()
    _send(local_aws, queue_url, ["a", "b"])
    first = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]
    handles = [m["ReceiptHandle"] for m in first]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handles[0])

    answer = sqs.delete_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": "deleted", "ReceiptHandle": handles[0]},
            {"Id": "held", "ReceiptHandle": handles[1]},
            {"Id": "unknown", "ReceiptHandle": "not-a-handle"},
        ],
    )

    assert sorted(e["Id"] for e in answer["Successful"]) == ["deleted", "held"]
    assert [(e["Id"], e["Code"], e["SenderFault"]) for e in answer["Failed"]] == [
        ("unknown", "ReceiptHandleIsInvalid", True)
    ]
    assert queue_counts(sqs, queue_url).total == 0


def test_queue_attributes_count_visible_in_flight_and_delayed_messages(local_aws: LocalAws, queue_url: str) -> None:
    sqs = local_aws.sqs()
    _send(local_aws, queue_url, ["a", "b"])
    sqs.send_message(QueueUrl=queue_url, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, VisibilityTimeout=60)

    counts = queue_counts(sqs, queue_url)
    one = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    with pytest.raises(ClientError) as refused:
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["NoSuchAttribute"])  # type: ignore[list-item]

    assert (counts.visible, counts.in_flight, counts.delayed) == (1, 1, 1)
    assert one == {"VisibilityTimeout": "30"}
    assert refused.value.response["Error"]["Code"] == "InvalidAttributeName"


def test_a_long_poll_returns_as_soon_as_a_message_is_sent(local_aws: LocalAws, queue_url: str) -> None:
    sqs = local_aws.sqs()
    polling = threading.Event()
    answer: dict[str, Any] = {}

    def poll() -> None:
        polling.set()
        started = time.monotonic()
        answer["messages"] = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10).get("Messages", [])
        answer["took"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    polling.wait(5)
    sqs.send_message(QueueUrl=queue_url, MessageBody="now")
    poller.join(15)

    assert [m["Body"] for m in answer["messages"]] == ["now"]
    assert answer["took"] < 5


def test_one_connection_serves_request_after_request(local_aws: LocalAws) -> None:
    host, port = local_aws.endpoint_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        statuses = []
        for _ in range(3):
            connection.request("POST", "/moto-api/reset")
            response = connection.getresponse()
            response.read()
            statuses.append((response.status, response.getheader("Connection")))
    finally:
        connection.close()

    assert statuses == [(200, None)] * 3


def test_the_embedded_aws_in_its_own_process_serves_and_exits_when_stopped() -> None:
    aws = LocalAws(LOCAL_REGION, own_process=True)
    aws.start()
    process = aws._process
    try:
        url = aws.sqs().create_queue(QueueName="OwnProcess")["QueueUrl"]
        aws.sqs().send_message(QueueUrl=url, MessageBody="x")
        assert queue_counts(aws.sqs(), url).visible == 1
    finally:
        aws.stop()

    assert process is not None
    assert process.returncode == 0
