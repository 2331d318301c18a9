"""Whole-request failures: bounded jittered retries within the deadline, credential refresh, configuration."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from nxbridge.contract import BatchCreateRequest
from nxbridge.nxcloud.client import FailureClass, NXCloudCredentials, Outcome, RequestFailed
from tests.fixtures.drain import (
    CREDS,
    PLENTY_MS,
    DrainKit,
    FakeCredentials,
    ScriptedNXCloud,
    failed,
    make_envelope,
    records_for,
    stored,
)

MakeDrain = Callable[..., DrainKit]
Metric = Callable[[str], list[float]]
SERVER_ERROR = failed(FailureClass.RETRYABLE, None, "HTTP 500", status=500)
ALL_BACK = {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}


def plenty() -> int:
    return PLENTY_MS


def two_records() -> list[SQSRecord]:
    return records_for([make_envelope(0), make_envelope(1)])


@pytest.mark.parametrize(
    "outcome",
    [
        failed(FailureClass.RETRYABLE, None, "timeout", status=0),
        failed(FailureClass.RETRYABLE, None, "HTTP 503", status=503),
        failed(FailureClass.RETRYABLE, None, "HTTP 429", status=429),
        failed(FailureClass.RETRYABLE, None, "HTTP 200 with a body that is not NXCloud JSON"),
    ],
    ids=["timeout", "5xx", "429", "non-json"],
)
def test_retryable_failure_is_retried_then_every_message_goes_back_to_sqs(
    make_drain: MakeDrain, drain_metrics: Metric, outcome: RequestFailed
) -> None:
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(outcome), max_attempts=4)

    result = kit.drainer.drain(two_records(), plenty)

    assert len(kit.nxcloud.requests) == 4
    assert result.response() == ALL_BACK
    assert kit.sqs.calls == []
    assert drain_metrics("NXCloudRetries") == [3.0]
    assert drain_metrics("ConfigurationFailures") == []


def test_backoff_is_full_jitter_exponential_and_capped(make_drain: MakeDrain) -> None:
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(SERVER_ERROR), max_attempts=8)

    kit.drainer.drain(two_records(), plenty)

    assert len(kit.sleeps) == 7
    for attempt, delay in enumerate(kit.sleeps, start=1):
        assert 0 <= delay <= min(5.0, 0.2 * 2 ** (attempt - 1))
    assert len(set(kit.sleeps)) == 7


def test_retry_that_succeeds_acknowledges_everything(make_drain: MakeDrain) -> None:
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(failed(FailureClass.RETRYABLE, None, "HTTP 502"), None))

    result = kit.drainer.drain(two_records(), plenty)

    assert len(kit.nxcloud.requests) == 2
    assert result.response() == {"batchItemFailures": []}
    assert [s.message_id for s in result.synced] == ["m-0", "m-1"]


def test_stale_timestamp_is_re_signed_immediately_once(make_drain: MakeDrain) -> None:
    stale = failed(FailureClass.RETRYABLE, 1004, "timestamp expired")
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(stale, stale, None))

    result = kit.drainer.drain(two_records(), plenty)

    assert result.response() == {"batchItemFailures": []}
    assert kit.sleeps[0] == 0.0
    assert kit.sleeps[1] > 0.0


def test_little_time_left_makes_no_retry(make_drain: MakeDrain) -> None:
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(SERVER_ERROR), max_attempts=4)
    # Enough for one call (connect 0.5 s + read 1 s + 1.5 s margin) but not for a backoff and another call.
    just_enough = kit.drainer.call_budget_ms + 1

    result = kit.drainer.drain(two_records(), lambda: just_enough)

    assert len(kit.nxcloud.requests) == 1
    assert kit.sleeps == []
    assert result.response() == ALL_BACK


def test_no_call_is_started_that_cannot_finish_before_the_deadline(make_drain: MakeDrain) -> None:
    kit = make_drain()

    result = kit.drainer.drain(two_records(), lambda: kit.drainer.call_budget_ms - 1)

    assert kit.nxcloud.requests == []
    assert result.response() == ALL_BACK


def test_retries_stop_when_the_clock_runs_down(make_drain: MakeDrain) -> None:
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(SERVER_ERROR), max_attempts=10)
    left = [kit.drainer.call_budget_ms * 3]

    def remaining() -> int:
        left[0] -= kit.drainer.call_budget_ms // 2 if kit.nxcloud.requests else 0
        return left[0]

    result = kit.drainer.drain(two_records(), remaining)

    assert 1 < len(kit.nxcloud.requests) < 10
    assert result.response() == ALL_BACK


@pytest.mark.parametrize("code", [1003, 1005])
def test_auth_failure_refreshes_the_secret_once_and_heals_a_rotation(make_drain: MakeDrain, code: int) -> None:
    rotated = NXCloudCredentials(accessKey="fme2na3kdi3ki", accessSecret="rotated", tenantId=123, appKey="46oKF=os")
    credentials = FakeCredentials(current=CREDS, fresh=rotated)

    def respond(request: BatchCreateRequest, creds: NXCloudCredentials) -> Outcome:
        if creds.access_secret.get_secret_value() != "rotated":
            return failed(FailureClass.AUTH, code, "invalid signature")
        return stored(request)

    kit = make_drain(nxcloud=ScriptedNXCloud(respond), credentials=credentials)

    result = kit.drainer.drain(two_records(), plenty)

    assert result.response() == {"batchItemFailures": []}
    assert credentials.refreshes == 1
    assert [c.access_secret.get_secret_value() for c in kit.nxcloud.credentials] == ["demo-secret", "rotated"]


def test_auth_failure_after_the_refresh_is_a_configuration_failure(
    make_drain: MakeDrain, drain_metrics: Metric
) -> None:
    credentials = FakeCredentials()
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(failed(FailureClass.AUTH, 1003)), credentials=credentials)

    result = kit.drainer.drain(two_records(), plenty)

    assert len(kit.nxcloud.requests) == 2
    assert credentials.refreshes == 1
    assert result.response() == ALL_BACK
    assert kit.sqs.calls == []
    assert drain_metrics("ConfigurationFailures") == [1.0]


def test_secret_unreadable_on_refresh_is_a_configuration_failure(make_drain: MakeDrain, drain_metrics: Metric) -> None:
    credentials = FakeCredentials(unreadable_on_refresh=True)
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(failed(FailureClass.AUTH, 1005)), credentials=credentials)

    result = kit.drainer.drain(two_records(), plenty)

    assert len(kit.nxcloud.requests) == 1
    assert result.response() == ALL_BACK
    assert drain_metrics("ConfigurationFailures") == [1.0]


@pytest.mark.parametrize(
    "outcome",
    [failed(FailureClass.CONFIG, 1001, "missing public parameters"), failed(FailureClass.CONFIG, None, "", status=404)],
    ids=["1001", "http-404"],
)
def test_configuration_failure_sends_everything_back_and_counts_it(
    make_drain: MakeDrain, drain_metrics: Metric, outcome: RequestFailed
) -> None:
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(outcome))

    result = kit.drainer.drain(two_records(), plenty)

    assert len(kit.nxcloud.requests) == 1
    assert result.response() == ALL_BACK
    assert kit.sqs.calls == []
    assert drain_metrics("ConfigurationFailures") == [1.0]
