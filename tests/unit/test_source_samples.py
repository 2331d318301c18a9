"""The sample events in events/api are what events/make_events.py generates, correctly signed."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from nxbridge.sources import WebhookRequest, source_for
from nxbridge.sources.verify import verify_standard
from tests.fixtures.ingest import EVENTS, KINDS, body_of, documented_secrets, endpoint_config, make_events

HMAC_KINDS = [kind for kind in KINDS if kind not in make_events.TIMESTAMPED]


def stored(kind: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "api" / f"{kind}.json").read_text(encoding="utf-8"))
    return event


@pytest.mark.parametrize("kind", HMAC_KINDS)
def test_the_stored_event_is_exactly_what_the_generator_makes(kind: str) -> None:
    assert stored(kind) == make_events.build_event(kind, documented_secrets())


@pytest.mark.parametrize("kind", sorted(make_events.TIMESTAMPED))
def test_timestamped_events_differ_from_a_fresh_one_only_in_time_and_signature(kind: str) -> None:
    event = stored(kind)
    at = dt.datetime.fromtimestamp(int(event["headers"]["webhook-timestamp"]), dt.UTC)
    fresh = make_events.build_event(kind, documented_secrets(), at)

    assert event["body"] == fresh["body"]
    assert event["headers"]["webhook-signature"] == fresh["headers"]["webhook-signature"]
    assert verify_standard(
        event["headers"], body_of(event), [documented_secrets()[kind]], now=at, tolerance_seconds=300
    )


@pytest.mark.parametrize("kind", HMAC_KINDS)
def test_every_stored_event_verifies_with_its_documented_secret(kind: str) -> None:
    event = stored(kind)
    request = WebhookRequest(kind, "POST", event["headers"], body_of(event), "r", dt.datetime.now(dt.UTC))
    config = endpoint_config(kind)

    assert source_for(kind).verify(request, [documented_secrets()[kind]], config, request.received_at)
    assert not source_for(kind).verify(request, ["another-secret"], config, request.received_at)
