"""The drain's deadline margin holds when SQS hangs: it answers Lambda in time, and what it could not write to the DLQ
goes back to SQS (batchItemFailures), so nothing is lost."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from nxbridge.aws.clients import DRAIN, client
from nxbridge.contract import BatchCreateRequest
from nxbridge.drain import DEADLINE_MARGIN_MS, Drainer
from nxbridge.nxcloud.client import NXCloudCredentials, Outcome
from tests.fixtures.aws import HangingServer
from tests.fixtures.drain import (
    FIXED_NOW,
    FakeCredentials,
    ScriptedNXCloud,
    drain_settings,
    make_envelope,
    phone_of,
    records_for,
    sqs_record,
    stored,
)


@dataclass
class LambdaClock:
    """``get_remaining_time_in_millis()``: real time running out, minus the time the fake NXCloud pretends to take."""

    deadline: float
    pretended: float = 0.0

    @classmethod
    def with_remaining(cls, milliseconds: int) -> LambdaClock:
        return cls(time.monotonic() + milliseconds / 1000)

    def remaining_ms(self) -> int:
        return int((self.deadline - time.monotonic() - self.pretended) * 1000)


def hanging_drainer(server: HangingServer, nxcloud: ScriptedNXCloud) -> Drainer:
    """A Drainer whose SQS client is a real boto3 client with the DRAIN profile, pointed at ``server``."""
    return Drainer(
        sqs=client("sqs", DRAIN, endpoint_url=server.url),
        credentials=FakeCredentials(),
        nxcloud=nxcloud,
        settings=drain_settings(),
        rng=random.Random(3),
        now=lambda: FIXED_NOW,
    )


def test_the_margin_left_after_the_last_nxcloud_call_holds_a_hanging_dlq_write(
    hanging_endpoint: HangingServer,
) -> None:
    settings = drain_settings()
    nxcloud_call = settings.connect_timeout + settings.read_timeout

    def slow_rejection(request: BatchCreateRequest, _credentials: NXCloudCredentials) -> Outcome:
        # NXCloud takes as long as its timeouts allow: what is left afterwards is the margin (and 200 ms).
        clock.pretended += nxcloud_call
        return stored(request, {phone_of(n): (12001, "rejected") for n in (1, 2)})

    drainer = hanging_drainer(hanging_endpoint, ScriptedNXCloud(slow_rejection))
    records = [*records_for([make_envelope(n) for n in range(3)]), sqs_record("{", "m-bad")]
    # The invocation's clock starts with the invocation: building the boto3 client above is not part of it (on a
    # loaded machine it alone took the 200 ms, and the drain rightly made no call).
    clock = LambdaClock.with_remaining(int(nxcloud_call * 1000) + DEADLINE_MARGIN_MS + 200)

    result = drainer.drain(records, clock.remaining_ms)

    assert clock.remaining_ms() > 0
    assert hanging_endpoint.connections >= 1
    assert [s.message_id for s in result.synced] == ["m-0"]
    assert result.dead_lettered == []
    assert sorted(r["itemIdentifier"] for r in result.response()["batchItemFailures"]) == ["m-1", "m-2", "m-bad"]


def test_dlq_retries_against_a_hanging_sqs_stop_before_the_deadline(hanging_endpoint: HangingServer) -> None:
    # 25 undecodable records make three DLQ batches: with three attempts each, 9 hanging calls would take 6.75 s.
    ids = [f"m-{n}" for n in range(25)]
    clock = LambdaClock.with_remaining(4000)
    drainer = hanging_drainer(hanging_endpoint, ScriptedNXCloud())

    result = drainer.drain([sqs_record("not json", i) for i in ids], clock.remaining_ms)

    assert clock.remaining_ms() > 0
    assert 1 <= hanging_endpoint.connections < 9
    assert result.dead_lettered == []
    assert sorted(r["itemIdentifier"] for r in result.response()["batchItemFailures"]) == sorted(ids)
