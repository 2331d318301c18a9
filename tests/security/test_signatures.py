"""Signatures of every kind: forged, missing, truncated, replayed and tampered deliveries are refused and queue
nothing. IngestFunction's lambda_handler gets events built from events/api/<kind>.json, against moto."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.fixtures.ingest import (
    KINDS,
    IngestStack,
    Invoke,
    body_of,
    documented_secrets,
    load_event,
    resign,
    response_body,
    with_body,
)
from tests.fixtures.security import SAMPLE_EMAIL, SIGNATURE_HEADER, TIMESTAMPED, replayed, with_header

pytestmark = pytest.mark.usefixtures("log_audit")

UNAUTHORIZED = {"error": "unauthorized", "message": "missing or invalid signature"}
HMAC_KINDS = [kind for kind in KINDS if kind not in TIMESTAMPED]


def other_endpoints_secret(kind: str) -> str:
    """A genuine secret of the deployment, but another endpoint's (of the same shape for Standard Webhooks)."""
    secrets = documented_secrets()
    if kind in TIMESTAMPED:
        return secrets["nxcloud" if kind == "standard" else "standard"]
    return secrets["tally" if kind == "shopify" else "shopify"]


def truncated(value: str) -> str:
    """The first half of a signature (for Standard Webhooks, of its ``v1,`` digest)."""
    version, comma, digest = value.rpartition(",")
    return f"{version}{comma}{digest[: len(digest) // 2]}"


def bad_signatures(kind: str) -> dict[str, dict[str, Any]]:
    """The genuine sample of ``kind`` with its signature forged, removed, emptied, truncated or cross-signed."""
    event = load_event(kind)
    header = SIGNATURE_HEADER[kind]
    genuine = event["headers"][header]
    cases = {
        "forged": resign(event, "whsec_Zm9yZ2VkLWtleS1mb3JnZWQta2V5" if kind in TIMESTAMPED else "forged-secret"),
        "missing": with_header(event, header, None),
        "empty": with_header(event, header, ""),
        "truncated": with_header(event, header, truncated(genuine)),
        "another endpoint's secret": resign(event, other_endpoints_secret(kind)),
        "wrong case": with_header(event, header, genuine.swapcase()),
    }
    if kind in TIMESTAMPED:
        cases["missing timestamp"] = with_header(event, "webhook-timestamp", None)
        cases["missing id"] = with_header(event, "webhook-id", None)
        cases["unknown version"] = with_header(event, header, genuine.replace("v1,", "v2,", 1))
    return cases


def assert_unauthorized(result: dict[str, Any]) -> None:
    body = response_body(result)
    assert result["statusCode"] == 401
    assert {k: v for k, v in body.items() if k != "requestId"} == UNAUTHORIZED


@pytest.mark.parametrize("kind", KINDS)
def test_forged_missing_empty_truncated_and_cross_signed_signatures_get_401_and_queue_nothing(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    for case, event in bad_signatures(kind).items():
        result = ingest_handler(event)
        assert result["statusCode"] == 401, case
        assert_unauthorized(result)
    assert ingest_stack.depth() == 0


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "form"])
def test_a_body_changed_after_signing_gets_401(kind: str, ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    event = load_event(kind)
    body = body_of(event)
    email = SAMPLE_EMAIL[kind].encode()
    tampered = [
        with_body(event, body.replace(email, b"attacker@example.net")),
        with_body(event, body + b" "),
        with_body(event, body[:-1]),
    ]

    for forged in tampered:
        assert_unauthorized(ingest_handler(forged))
    assert ingest_stack.depth() == 0


def test_a_form_secret_authenticates_the_sender_not_the_body(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    # A shared secret in a header is not a signature of the body (docs/sources.md): whoever holds it may post
    # any body. TLS protects it in transit; forms that need integrity must sign (use the standard kind).
    event = load_event("form")
    changed = with_body(event, body_of(event).replace(b"Ana+Souza", b"Ana+Sousa"))

    assert ingest_handler(changed)["statusCode"] == 202
    assert ingest_stack.depth() == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_replayed_delivery_is_a_duplicate_answered_200_and_queued_once(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = load_event(kind)
    if kind == "form":
        # Forms are deduplicated only when the poster sends an Idempotency-Key.
        event = with_header(event, "idempotency-key", "contact-form-submission-7")

    first = ingest_handler(event)
    again = [ingest_handler(replayed(event)) for _ in range(3)]

    assert first["statusCode"] == 202
    assert [a["statusCode"] for a in again] == [200, 200, 200]
    assert all(response_body(a)["duplicate"] is True for a in again)
    assert ingest_stack.depth() == response_body(first)["accepted"]


@pytest.mark.parametrize("kind", sorted(TIMESTAMPED))
def test_a_standard_signature_outside_the_five_minute_tolerance_gets_401_either_way(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    for skew_seconds in (-3600, -301, 301, 3600):
        event = load_event(kind, now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=skew_seconds))
        assert ingest_handler(event)["statusCode"] == 401, skew_seconds
    assert ingest_stack.depth() == 0
    # Just inside the tolerance, both ways, the same delivery is genuine (then a duplicate).
    inside = [load_event(kind, now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=s)) for s in (-280, 280)]
    assert [ingest_handler(event)["statusCode"] for event in inside] == [202, 200]


@pytest.mark.parametrize("kind", sorted(TIMESTAMPED))
def test_an_old_delivery_replayed_with_a_fresh_timestamp_or_another_id_gets_401(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    # Both the timestamp and the id are signed: moving either one breaks the signature.
    old = load_event(kind, now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30))
    refreshed = with_header(old, "webhook-timestamp", str(int(dt.datetime.now(dt.UTC).timestamp())))
    current = load_event(kind)
    renamed = with_header(current, "webhook-id", current["headers"]["webhook-id"] + "-2")

    assert_unauthorized(ingest_handler(refreshed))
    assert_unauthorized(ingest_handler(renamed))
    assert ingest_stack.depth() == 0
