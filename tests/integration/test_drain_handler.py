"""The drain handler as Lambda runs it: an SQS event built from real (moto) messages, the simulator behind."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nxbridge.config import DrainSettings
from nxbridge.drain import Drainer
from nxbridge.handlers import Lazy
from nxbridge.handlers.drain import build_dependency, make_handler
from nxbridge_dev.local.functions import LambdaContext
from nxbridge_dev.simulator import Simulator
from tests.fixtures.drain import (
    QUEUE_ARN,
    enqueue,
    event_from_messages,
    make_envelope,
    phone_of,
    read_dlq,
    receive,
    stored_phones,
)

SAMPLE_EVENTS = Path(__file__).resolve().parents[2] / "events" / "sqs"


@dataclass(frozen=True)
class DrainApp:
    """A drain handler and the dependency it builds on its first invocation."""

    lambda_handler: Callable[[dict[str, Any], Any], Any]
    drainer: Lazy[Drainer]


@dataclass
class FixedTimeContext(LambdaContext):
    """A context whose clock stands still at ``remaining_ms``."""

    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def context(remaining_ms: int = 60_000) -> FixedTimeContext:
    return FixedTimeContext(
        function_name="DrainFunction",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:DrainFunction",
        aws_request_id=str(uuid.uuid4()),
        deadline_ms=time.time_ns() // 1_000_000 + remaining_ms,
        remaining_ms=remaining_ms,
    )


@pytest.fixture
def drain_app(drain_env: DrainSettings) -> DrainApp:
    """The drain handler in a fresh execution environment (a cold start), with its lazily built Drainer."""
    drainer = build_dependency()
    return DrainApp(make_handler(drainer), drainer)


def sqs_event(queue_url: str, bodies: list[str]) -> tuple[list[str], dict[str, Any]]:
    ids = enqueue(queue_url, bodies)
    by_id = {m["MessageId"]: m for m in receive(queue_url, len(bodies))}
    return ids, event_from_messages([by_id[i] for i in ids], QUEUE_ARN)


def emf_metrics(output: str) -> dict[str, list[float]]:
    """Metric values from the EMF lines Powertools printed."""
    found: dict[str, list[float]] = {}
    for line in output.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for definition in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = blob[definition["Name"]]
            found.setdefault(definition["Name"], []).extend(value if isinstance(value, list) else [value])
    return found


def test_lambda_handler_answers_with_only_the_messages_to_retry(
    drain_app: DrainApp,
    simulator: Simulator,
    queues: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    simulator.per_record_failures[phone_of(4)] = (12001, "rejected")
    ids, event = sqs_event(queues["queue_url"], [*[make_envelope(n).to_message() for n in range(10)], "{oops"])

    response = drain_app.lambda_handler(event, context())

    assert response == {"batchItemFailures": []}
    assert stored_phones(simulator) == {phone_of(n) for n in range(10) if n != 4}
    dlq = {m["body"]["source_message_id"]: m["attributes"]["stage"] for m in read_dlq(queues["dlq_url"])}
    assert dlq == {ids[4]: "nxcloud", ids[10]: "decode"}
    emitted = emf_metrics(capsys.readouterr().out)
    assert emitted["BatchSize"] == [11.0]
    assert emitted["CustomersSynced"] == [9.0]
    assert emitted["CustomersFailed"] == [2.0]
    assert sorted(emitted["CustomersFailedByCode"]) == [1.0, 1.0]
    assert len(emitted["NXCloudLatency"]) == 1


def test_lambda_handler_sends_everything_back_on_a_configuration_failure(
    drain_app: DrainApp, simulator: Simulator, queues: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    simulator.inject("code", code=1001)
    ids, event = sqs_event(queues["queue_url"], [make_envelope(n).to_message() for n in range(3)])

    response = drain_app.lambda_handler(event, context())

    assert response == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}
    assert emf_metrics(capsys.readouterr().out)["ConfigurationFailures"] == [1.0]


def test_lambda_handler_with_little_time_left_makes_no_retry(
    drain_app: DrainApp, drain_env: DrainSettings, simulator: Simulator, queues: dict[str, str]
) -> None:
    simulator.inject("http_500", count=4)
    ids, event = sqs_event(queues["queue_url"], [make_envelope(n).to_message() for n in range(3)])
    # Time for exactly one call (connect + read timeout + the margin kept for the DLQ), none for a backoff.
    one_call_ms = int((drain_env.connect_timeout + drain_env.read_timeout) * 1000) + 1500

    response = drain_app.lambda_handler(event, context(remaining_ms=one_call_ms))

    assert len(simulator.calls) == 1
    assert response == {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


def test_warm_invocations_reuse_the_cached_secret_and_client(
    drain_app: DrainApp, simulator: Simulator, queues: dict[str, str]
) -> None:
    _, first = sqs_event(queues["queue_url"], [make_envelope(0).to_message()])
    drain_app.lambda_handler(first, context())
    drainer = drain_app.drainer.built
    _, second = sqs_event(queues["queue_url"], [make_envelope(1).to_message()])

    response = drain_app.lambda_handler(second, context())

    assert response == {"batchItemFailures": []}
    assert drainer is not None
    assert drain_app.drainer.built is drainer
    assert stored_phones(simulator) == {phone_of(0), phone_of(1)}


@pytest.mark.parametrize(
    ("name", "dead_letters"),
    [("batch.json", set()), ("batch-with-undecodable.json", {"00000000-0000-4000-8000-000000000002"})],
)
def test_sample_sqs_events_drive_the_handler(
    drain_app: DrainApp, simulator: Simulator, queues: dict[str, str], name: str, dead_letters: set[str]
) -> None:
    event = json.loads((SAMPLE_EVENTS / name).read_text())
    delivered = len(event["Records"]) - len(dead_letters)

    response = drain_app.lambda_handler(event, context())

    assert response == {"batchItemFailures": []}
    assert len(simulator.customers) == delivered
    dlq = read_dlq(queues["dlq_url"])
    assert {m["body"]["source_message_id"] for m in dlq} == dead_letters
    assert all(m["body"]["error"]["stage"] == "decode" for m in dlq)
