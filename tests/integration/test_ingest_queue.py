"""Queueing: batches of ten, retries of failed entries only, and no partial or doubled webhook when SQS fails."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from nxbridge.aws.clients import INGEST_QUEUE, INGEST_QUEUE_BUDGET_SECONDS, client
from nxbridge.endpoints import EndpointsDocument, FileSecrets
from nxbridge.ingest import CustomerQueue, DeliveryLedger, Ingest, QueueUnavailable
from nxbridge.ingest.ledger import PROGRESS_KEY_PREFIX
from nxbridge.sources import WebhookRequest
from nxbridge.sources.verify import standard_signature
from tests.fixtures.aws import REGION, HangingServer
from tests.fixtures.ingest import EVENTS, FakeLambdaContext, IngestStack, documented_secrets

SECRET = documented_secrets()["standard"]


class FlakySqs:
    """moto's SQS client, except for the SendMessageBatch outcomes a test schedules, call by call."""

    def __init__(self, plan: list[str]) -> None:
        self.real = boto3.client("sqs", region_name=REGION)
        self.plan = plan
        self.batches: list[list[str]] = []

    def send_message_batch(self, **kwargs: Any) -> Any:
        entries = kwargs["Entries"]
        self.batches.append([entry["Id"] for entry in entries])
        action = self.plan.pop(0) if self.plan else "ok"
        if action == "error":
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "try later"}}, "SendMessageBatch")
        if action == "refuse-last":
            *kept, refused = entries
            answer = self.real.send_message_batch(QueueUrl=kwargs["QueueUrl"], Entries=kept)
            answer["Failed"] = [{"Id": refused["Id"], "SenderFault": True, "Code": "InvalidMessageContents"}]
            return answer
        if action == "half":
            kept, refused = entries[: len(entries) // 2], entries[len(entries) // 2 :]
            answer = self.real.send_message_batch(QueueUrl=kwargs["QueueUrl"], Entries=kept)
            answer["Failed"] = [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in refused]
            return answer
        return self.real.send_message_batch(**kwargs)


class Endpoints:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = EndpointsDocument.model_validate(document)

    def get(self, name: str) -> Any:
        return self.document.get(name)


def bulk_request(count: int, *, delivery_id: str = "msg_bulk_1", request_id: str = "req-1") -> WebhookRequest:
    """A signed Standard Webhooks delivery carrying ``count`` customers."""
    body = json.dumps({"contacts": [{"email": f"c{i}@example.com"} for i in range(count)]}).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(SECRET, delivery_id, timestamp, body),
    }
    return WebhookRequest("bulk", "POST", headers, body, request_id, dt.datetime.now(dt.UTC))


def make_ingest(stack: IngestStack, sqs: Any, *, with_ledger: bool = True, dynamodb: Any = None) -> Ingest:
    endpoints = Endpoints(
        {"endpoints": {"bulk": {"kind": "standard", "secret": "standard", "standard": {"records": "contacts"}}}}
    )
    ledger = None
    if with_ledger:
        dynamodb = dynamodb or boto3.client("dynamodb", region_name=REGION)
        ledger = DeliveryLedger(dynamodb, stack.table, ttl_seconds=72 * 3600)
        ledger.config.register_lambda_context(FakeLambdaContext())  # type: ignore[arg-type]
    return Ingest(
        endpoints=endpoints,
        secrets=FileSecrets(str(EVENTS / "webhook-secrets.json")),
        queue=CustomerQueue(sqs, stack.queue_url, sleep=lambda _: None),
        ledger=ledger,
    )


def queued_emails(stack: IngestStack) -> list[str]:
    return sorted(envelope["customer"]["email"] for envelope in stack.queued())


def test_messages_go_out_in_batches_of_at_most_ten(ingest_stack: IngestStack) -> None:
    sqs = FlakySqs([])

    CustomerQueue(sqs, ingest_stack.queue_url).send([(i, f"message {i}") for i in range(25)])  # type: ignore[arg-type]

    assert [len(batch) for batch in sqs.batches] == [10, 10, 5]
    assert ingest_stack.depth() == 25


def test_only_the_failed_entries_are_retried(ingest_stack: IngestStack) -> None:
    sqs = FlakySqs(["half"])
    pauses: list[float] = []

    CustomerQueue(sqs, ingest_stack.queue_url, sleep=pauses.append).send([(i, f"m{i}") for i in range(10)])  # type: ignore[arg-type]

    assert sqs.batches == [[str(i) for i in range(10)], [str(i) for i in range(5, 10)]]
    assert pauses == [0.05]
    assert ingest_stack.depth() == 10


def test_a_batch_still_failing_after_its_attempts_reports_what_was_queued(ingest_stack: IngestStack) -> None:
    sqs = FlakySqs(["ok", "half", "error", "error"])
    queue = CustomerQueue(sqs, ingest_stack.queue_url, attempts=3, sleep=lambda _: None)  # type: ignore[arg-type]

    with pytest.raises(QueueUnavailable) as caught:
        queue.send([(i, f"m{i}") for i in range(20)])

    assert caught.value.sent == frozenset(range(15))
    assert ingest_stack.depth() == 15


def test_a_hanging_sqs_fails_the_webhook_within_the_queueing_budget(hanging_endpoint: HangingServer) -> None:
    queue = CustomerQueue(client("sqs", INGEST_QUEUE, endpoint_url=hanging_endpoint.url), hanging_endpoint.url + "/q")
    started = time.monotonic()

    with pytest.raises(QueueUnavailable) as caught:
        queue.send([(i, f"m{i}") for i in range(25)])

    assert time.monotonic() - started < INGEST_QUEUE_BUDGET_SECONDS
    assert hanging_endpoint.connections >= 1
    assert caught.value.sent == frozenset()


def test_a_customer_sqs_refuses_as_the_senders_fault_is_answered_422_not_retried(ingest_stack: IngestStack) -> None:
    sqs = FlakySqs(["refuse-last"])
    ingest = make_ingest(ingest_stack, sqs)

    answer = ingest.handle(bulk_request(3))

    assert answer.status == 422
    assert answer.body["errors"] == [{"field": "customer", "reason": "SQS refuses this customer's message", "index": 2}]
    # The refused entry was sent once: a sender fault is final, never retried.
    assert sqs.batches == [["0", "1", "2"]]


def test_a_partly_queued_delivery_answers_503_and_its_retry_queues_only_the_rest(ingest_stack: IngestStack) -> None:
    sqs = FlakySqs(["ok", "error", "error", "error"])
    ingest = make_ingest(ingest_stack, sqs)

    failed = ingest.handle(bulk_request(25, request_id="first"))
    retried = ingest.handle(bulk_request(25, request_id="retry"))
    again = ingest.handle(bulk_request(25, request_id="third"))

    assert (failed.status, retried.status, again.status) == (503, 202, 200)
    assert retried.body == {"accepted": 25, "requestId": "retry"}
    assert again.body == {"duplicate": True, "requestId": "third"}
    assert queued_emails(ingest_stack) == sorted(f"c{i}@example.com" for i in range(25))
    assert sqs.batches[-2:] == [[str(i) for i in range(10, 20)], [str(i) for i in range(20, 25)]]


def test_the_progress_record_is_removed_once_the_delivery_is_complete(ingest_stack: IngestStack) -> None:
    ingest = make_ingest(ingest_stack, FlakySqs(["ok", "error", "error", "error"]))
    ingest.handle(bulk_request(15, request_id="first"))
    ingest.handle(bulk_request(15, request_id="retry"))

    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=ingest_stack.table)["Items"]

    assert [item["id"]["S"].split("#")[0] for item in items] == ["nxbridge-ingest"]
    assert items[0]["status"]["S"] == "COMPLETED"


def test_only_a_delivery_of_several_messages_reads_its_queueing_progress(ingest_stack: IngestStack) -> None:
    # One message is queued whole or not at all: no attempt of it can leave progress, so none is read.
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    reads: list[str] = []
    dynamodb.meta.events.register(
        "before-parameter-build.dynamodb.GetItem", lambda params, **_: reads.append(params["Key"]["id"]["S"])
    )
    ingest = make_ingest(ingest_stack, FlakySqs([]), dynamodb=dynamodb)

    one = ingest.handle(bulk_request(1, delivery_id="msg_one"))
    progress_reads_after_one = sum(1 for key in reads if key.startswith(PROGRESS_KEY_PREFIX))
    two = ingest.handle(bulk_request(2, delivery_id="msg_two"))
    progress_reads_after_two = sum(1 for key in reads if key.startswith(PROGRESS_KEY_PREFIX))

    assert (one.status, two.status) == (202, 202)
    assert (progress_reads_after_one, progress_reads_after_two) == (0, 1)
    assert len(ingest_stack.queued()) == 3


def test_dedupe_records_outlive_the_providers_retry_windows(ingest_stack: IngestStack) -> None:
    make_ingest(ingest_stack, FlakySqs([])).handle(bulk_request(1))

    [item] = boto3.client("dynamodb", region_name=REGION).scan(TableName=ingest_stack.table)["Items"]

    assert int(item["expiration"]["N"]) - time.time() >= 72 * 3600 - 60


def test_a_delivery_arriving_while_its_twin_is_being_queued_gets_409(ingest_stack: IngestStack) -> None:
    answers: list[int] = []

    class ReentrantSqs(FlakySqs):
        def send_message_batch(self, **kwargs: Any) -> Any:
            if not answers:
                answers.append(ingest.handle(bulk_request(2, request_id="twin")).status)
            return super().send_message_batch(**kwargs)

    ingest = make_ingest(ingest_stack, ReentrantSqs([]))

    first = ingest.handle(bulk_request(2, request_id="first"))

    assert (first.status, answers) == (202, [409])
    assert ingest_stack.depth() == 2


def test_without_a_ledger_sqs_failure_still_answers_503(ingest_stack: IngestStack) -> None:
    ingest = make_ingest(ingest_stack, FlakySqs(["error"] * 3), with_ledger=False)

    assert ingest.handle(bulk_request(3)).status == 503
    assert ingest_stack.depth() == 0


def test_more_than_100_customers_in_one_webhook_get_422(ingest_stack: IngestStack) -> None:
    answer = make_ingest(ingest_stack, FlakySqs([])).handle(bulk_request(101))

    assert answer.status == 422
    assert answer.body["errors"] == [{"field": "customers", "reason": "at most 100 customers per webhook"}]
    assert ingest_stack.depth() == 0


def test_an_unusable_idempotency_table_answers_503_and_queues_nothing(ingest_stack: IngestStack) -> None:
    ingest = make_ingest(ingest_stack, FlakySqs([]))
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=ingest_stack.table)

    answer = ingest.handle(bulk_request(2))

    assert (answer.status, answer.body["error"]) == (503, "dedupe_unavailable")
    assert ingest_stack.depth() == 0
