"""The local SQS poller behaves like Lambda's SQS event source mapping, on the queues template.yaml deploys."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from nxbridge.aws.sqs import queue_counts
from nxbridge.observability import logger
from nxbridge_dev.local.aws import LocalAws
from nxbridge_dev.local.deploy import Deployment
from nxbridge_dev.local.functions import ExecutionEnvironment, LocalFunction
from nxbridge_dev.local.poller import SqsPoller, failed_message_ids

Handler = Callable[[dict[str, Any], Any], Any]
KIND_ATTRIBUTE: Any = {"DataType": "String", "StringValue": "t"}


class Recorder:
    """A stand-in drain: records every event and answers what the test tells it to."""

    def __init__(self, answer: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer = answer or (lambda event: {"batchItemFailures": []})
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        assert context.get_remaining_time_in_millis() > 0
        with self.lock:
            self.events.append(event)
        return self.answer(event)

    def bodies(self) -> list[str]:
        with self.lock:
            return [r["body"] for e in self.events for r in e["Records"]]


def _wait(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.05)


@pytest.fixture
def run_poller(local_aws: LocalAws, local_deployment: Deployment) -> Iterator[Callable[..., SqsPoller]]:
    pollers: list[SqsPoller] = []

    def start(handler: Handler, **kwargs: Any) -> SqsPoller:
        # More execution environments when invocations overlap (max_concurrency above 1), as Lambda scales.
        function = LocalFunction(
            "DrainFunction",
            handler,
            local_deployment.region,
            timeout_seconds=5,
            new_environment=lambda: ExecutionEnvironment(handler),
        )
        poller = SqsPoller(
            local_aws.sqs(),
            function,
            queue_url=local_deployment.queue_url,
            queue_arn=local_deployment.queue_arn,
            dlq_url=local_deployment.dlq_url,
            region=local_deployment.region,
            **{"batching_window": 0.2, "idle_interval": 0.05, **kwargs},
        )
        poller.start()
        pollers.append(poller)
        return poller

    yield start
    for poller in pollers:
        poller.stop()


def _send(local_aws: LocalAws, queue_url: str, bodies: list[str]) -> None:
    sqs = local_aws.sqs()
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": body,
                    "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "t"}},
                }
                for i, body in enumerate(bodies[start : start + 10])
            ],
        )


def _total(local_aws: LocalAws, url: str) -> int:
    return queue_counts(local_aws.sqs(), url).total


def test_records_have_the_shape_of_lambdas_sqs_event(
    local_aws: LocalAws, local_deployment: Deployment, run_poller: Callable[..., SqsPoller]
) -> None:
    recorder = Recorder()
    run_poller(recorder)
    _send(local_aws, local_deployment.queue_url, ["one"])
    _wait(lambda: len(recorder.bodies()) == 1)

    record = SqsModel.model_validate(recorder.events[0]).Records[0]
    raw = recorder.events[0]["Records"][0]
    assert record.body == "one"
    assert record.eventSource == "aws:sqs"
    assert record.eventSourceARN == local_deployment.queue_arn
    assert record.awsRegion == local_deployment.region
    assert record.attributes.ApproximateReceiveCount == "1"
    assert record.messageAttributes["kind"].stringValue == "t"
    assert raw["md5OfBody"] == "f97c5d29941bfb1b2fdab0874906ab82"  # md5("one")


def test_only_the_messages_listed_in_batch_item_failures_come_back(
    local_aws: LocalAws, local_deployment: Deployment, run_poller: Callable[..., SqsPoller]
) -> None:
    def fail_bad(event: dict[str, Any]) -> Any:
        return {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"]
        }

    recorder = Recorder(fail_bad)
    poller = run_poller(recorder)
    _send(local_aws, local_deployment.queue_url, ["good-1", "bad", "good-2"])

    # The deployed maxReceiveCount (5): "bad" is delivered that often, then SQS moves it to the DLQ.
    _wait(
        lambda: _total(local_aws, local_deployment.dlq_url) == 1 and _total(local_aws, local_deployment.queue_url) == 0,
        timeout=30,
    )

    receives = local_deployment.max_receive_count
    bodies = recorder.bodies()
    assert sorted(bodies) == ["bad"] * receives + ["good-1", "good-2"]
    dlq = local_aws.sqs().receive_message(QueueUrl=local_deployment.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dlq] == ["bad"]
    stats = poller.stats()
    assert stats["acknowledged"] == 2
    assert stats["failed"] == receives


def test_handler_exception_fails_the_whole_batch(
    local_aws: LocalAws, local_deployment: Deployment, run_poller: Callable[..., SqsPoller]
) -> None:
    calls: list[int] = []

    def boom_once(event: dict[str, Any]) -> Any:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("crash")
        return None

    recorder = Recorder(boom_once)
    poller = run_poller(recorder)
    _send(local_aws, local_deployment.queue_url, ["a", "b"])

    _wait(lambda: poller.stats()["acknowledged"] == 2)

    assert sorted(recorder.bodies()) == ["a", "a", "b", "b"]
    receive_counts = [r["attributes"]["ApproximateReceiveCount"] for r in recorder.events[-1]["Records"]]
    assert receive_counts == ["2", "2"]
    assert poller.stats()["invocation_errors"] == 1
    assert _total(local_aws, local_deployment.queue_url) == 0


def test_a_batch_closes_at_100_messages_and_stopping_delivers_the_rest(
    local_aws: LocalAws, local_deployment: Deployment, run_poller: Callable[..., SqsPoller]
) -> None:
    # A long window: only the 100-message limit closes the first batch; stop() then flushes the second.
    local_aws.sqs().set_queue_attributes(QueueUrl=local_deployment.queue_url, Attributes={"VisibilityTimeout": "60"})
    _send(local_aws, local_deployment.queue_url, [f"m{i}" for i in range(110)])
    recorder = Recorder()
    poller = run_poller(recorder, batching_window=60.0)

    _wait(lambda: poller.stats()["batches"] == 1)
    _wait(lambda: poller.stats()["in_hand"] == 10)
    poller.stop()

    assert [len(e["Records"]) for e in recorder.events] == [100, 10]
    assert sorted(recorder.bodies()) == sorted(f"m{i}" for i in range(110))
    assert _total(local_aws, local_deployment.queue_url) == 0


def test_messages_the_function_sends_to_the_dlq_count_as_dead_lettered_and_redrives_do_not(
    local_aws: LocalAws, local_deployment: Deployment, run_poller: Callable[..., SqsPoller]
) -> None:
    clients: dict[str, Any] = {}
    invocations: list[int] = []

    def dead_letter_first(event: dict[str, Any]) -> Any:
        failures = {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "x"]
        }
        invocations.append(len(event["Records"]))
        if len(invocations) > 1:
            # Only the first invocation sends: a message it requeued would start the next batch, and so on forever.
            return failures
        sqs = clients["sqs"]
        first = event["Records"][0]
        sqs.send_message(QueueUrl=local_deployment.dlq_url, MessageBody=json.dumps({"from": first["messageId"]}))
        sqs.send_message_batch(
            QueueUrl=local_deployment.dlq_url,
            Entries=[{"Id": "0", "MessageBody": "second"}, {"Id": "1", "MessageBody": "x"}],
        )
        # Not the DLQ: not counted.
        sqs.send_message(QueueUrl=local_deployment.queue_url, MessageBody="requeued")
        return failures

    poller = run_poller(Recorder(dead_letter_first), batching_window=0.5)
    # Created once the poller runs, from boto3's default session, as the drain creates its clients.
    sqs = clients["sqs"] = boto3.client("sqs", endpoint_url=local_aws.endpoint_url, region_name=local_deployment.region)
    _send(local_aws, local_deployment.queue_url, ["x", "y", "z"])

    _wait(lambda: poller.stats()["batches"] >= 1 and poller.stats()["in_hand"] == 0)
    # Sends outside an invocation (here: the test's own) are not the function's.
    sqs.send_message(QueueUrl=local_deployment.dlq_url, MessageBody="by hand")
    poller.stop()

    stats = poller.stats()
    assert stats["dead_lettered"] == 3
    assert stats["in_hand"] == 0


def test_the_superseded_count_of_each_invocations_summary_line_is_counted_apart(
    local_aws: LocalAws, local_deployment: Deployment, run_poller: Callable[..., SqsPoller]
) -> None:
    def supersede_two(event: dict[str, Any]) -> Any:
        # The drain's own summary line; the per-record line carries a list under the same name and is not counted.
        logger.info("customers superseded", extra={"superseded": [{"messageId": "a"}, {"messageId": "b"}]})
        logger.info("batch drained", extra={"synced": len(event["Records"]) - 2, "superseded": 2})
        return {"batchItemFailures": []}

    poller = run_poller(Recorder(supersede_two), batching_window=0.5)
    _send(local_aws, local_deployment.queue_url, ["a", "b", "c"])
    _wait(lambda: poller.stats()["acknowledged"] == 3 and poller.stats()["in_hand"] == 0)
    # Outside an invocation the line is not the poller's to count.
    logger.info("batch drained", extra={"superseded": 5})
    poller.stop()

    stats = poller.stats()
    assert (stats["acknowledged"], stats["superseded"], stats["batches"]) == (3, 2, 1)


def test_up_to_max_concurrency_invocations_run_at_once(
    local_aws: LocalAws, local_deployment: Deployment, run_poller: Callable[..., SqsPoller]
) -> None:
    both_running = threading.Barrier(2, timeout=10)
    overlapped: list[bool] = []

    def wait_for_the_other(event: dict[str, Any]) -> Any:
        try:
            both_running.wait()
            overlapped.append(True)
        except threading.BrokenBarrierError:
            overlapped.append(False)
        return {"batchItemFailures": []}

    poller = run_poller(Recorder(wait_for_the_other), batch_size=1, max_concurrency=2, batching_window=0.05)
    _send(local_aws, local_deployment.queue_url, ["a", "b"])

    _wait(lambda: poller.stats()["acknowledged"] == 2)
    assert overlapped == [True, True]


def test_without_report_batch_item_failures_a_returned_batch_is_deleted_whole(
    local_aws: LocalAws, local_deployment: Deployment, run_poller: Callable[..., SqsPoller]
) -> None:
    def fail_everything(event: dict[str, Any]) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    poller = run_poller(Recorder(fail_everything), report_batch_item_failures=False)
    _send(local_aws, local_deployment.queue_url, ["a", "b"])

    _wait(lambda: poller.stats()["acknowledged"] == 2)
    assert poller.stats()["failed"] == 0
    assert _total(local_aws, local_deployment.queue_url) == 0


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"id": "a"}]}, {"a", "b"}),
        ({"batchItemFailures": "a"}, {"a", "b"}),
        ("ok", {"a", "b"}),
    ],
)
def test_partial_batch_response_follows_lambdas_rules(response: Any, expected: set[str]) -> None:
    assert failed_message_ids(response, ["a", "b"]) == expected
