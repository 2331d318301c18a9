"""Client profiles: explicit timeouts and attempts per use, one retry layer, and the drain's margin holds a DLQ call."""

from __future__ import annotations

import boto3
import pytest

from nxbridge.aws.clients import (
    DRAIN,
    INGEST_QUEUE,
    INGEST_QUEUE_BUDGET_SECONDS,
    OPERATOR,
    PROFILES,
    Profile,
    client,
)
from nxbridge.config import ReplaySettings
from nxbridge.drain import DEADLINE_MARGIN_MS, RESPONSE_SECONDS
from tests.fixtures.aws import REGION


@pytest.mark.parametrize("profile", PROFILES, ids=[p.name for p in PROFILES])
def test_every_client_carries_its_profiles_timeouts_and_attempts(profile: Profile) -> None:
    config = client("sqs", profile).meta.config

    assert (config.connect_timeout, config.read_timeout) == (profile.connect_timeout, profile.read_timeout)
    assert config.retries == {"mode": "standard", "total_max_attempts": profile.total_attempts}


def test_a_client_comes_from_the_given_session_and_endpoint() -> None:
    session = boto3.session.Session(region_name="ap-southeast-1")

    sqs = client("sqs", OPERATOR, session, endpoint_url="http://127.0.0.1:4566")

    assert sqs.meta.region_name == "ap-southeast-1"
    assert sqs.meta.endpoint_url == "http://127.0.0.1:4566"
    assert client("sqs", OPERATOR).meta.region_name == REGION


@pytest.mark.parametrize("profile", [INGEST_QUEUE, DRAIN], ids=["ingest-queue", "drain"])
def test_where_the_code_retries_entries_botocore_makes_one_attempt(profile: Profile) -> None:
    assert profile.total_attempts == 1
    assert profile.call_seconds == profile.connect_timeout + profile.read_timeout
    assert profile.retry().call_seconds == profile.call_seconds


def test_the_drains_margin_holds_one_dlq_call_and_the_response() -> None:
    assert (DRAIN.call_seconds + RESPONSE_SECONDS) * 1000 <= DEADLINE_MARGIN_MS
    assert DEADLINE_MARGIN_MS == 1500


def test_the_ingest_queues_within_its_budget_well_before_a_sender_gives_up() -> None:
    # Shopify waits 5 s for an answer; at least one SendMessageBatch must fit in the budget.
    assert INGEST_QUEUE.call_seconds <= INGEST_QUEUE_BUDGET_SECONDS < 5


def test_the_operators_read_timeout_outlasts_the_longest_long_poll() -> None:
    longest_poll = ReplaySettings.model_fields["wait_seconds"].metadata
    assert OPERATOR.read_timeout > max(m.le for m in longest_poll if hasattr(m, "le"))
