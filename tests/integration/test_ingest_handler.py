"""IngestFunction end to end: the events/ files through lambda_handler against moto, down to the queued envelopes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import boto3
import pytest

from nxbridge.envelope import ENVELOPE_VERSION
from tests.fixtures.aws import REGION
from tests.fixtures.ingest import (
    KINDS,
    IngestStack,
    Invoke,
    body_of,
    documented_secrets,
    load_event,
    received_at,
    resign,
    response_body,
    with_body,
)

EXPECTED_CUSTOMERS: dict[str, list[dict[str, Any]]] = {
    "shopify": [
        {
            "full_name": "María García",
            "first_name": "María",
            "last_name": "García",
            "sms_phone": "34612345678",
            "whats_app_phone": "34612345678",
            "email": "maria.garcia@example.com",
            "country": "Spain",
            "address": "Calle de Alcalá 48, 3º B, Madrid, Madrid, 28014",
            "tagStr": "newsletter,vip",
            "remark": "Prefers WhatsApp; asked about wholesale prices.",
        }
    ],
    "woocommerce": [
        {
            "full_name": "Oliver Smith",
            "first_name": "Oliver",
            "last_name": "Smith",
            "sms_phone": "442079460958",
            "whats_app_phone": "442079460958",
            "email": "oliver.smith@example.co.uk",
            "country": "United Kingdom",
            "address": "221B Baker Street, London, NW1 6XE",
        }
    ],
    "typeform": [
        {
            "full_name": "Wei Zhang",
            "first_name": "Wei",
            "last_name": "Zhang",
            "sms_phone": "8613812345678",
            "whats_app_phone": "8613812345678",
            "email": "wei.zhang@example.com",
            "country": "China",
            "birthday": "1990-04-18",
            "tagStr": "Product demo,Pricing",
            "remark": "We run 12 stores and want WhatsApp campaigns.",
        }
    ],
    "tally": [
        {
            "full_name": "Sophie Dubois",
            "sms_phone": "33612345678",
            "whats_app_phone": "33612345678",
            "email": "sophie.dubois@example.fr",
            "country": "France",
            "tagStr": "Product news,Events",
            "remark": "Please send the French edition.",
        }
    ],
    "standard": [
        {
            "full_name": "Kenji Tanaka",
            "sms_phone": "819012345678",
            "whats_app_phone": "819012345678",
            "email": "kenji.tanaka@example.jp",
            "address": "1-1 Marunouchi, Chiyoda-ku, Tokyo 100-0005",
            "birthday": "1985-11-03",
            "remark": "Store manager",
        }
    ],
    "form": [
        {
            "full_name": "Ana Souza",
            "sms_phone": "5511912345678",
            "whats_app_phone": "5511912345678",
            "email": "ana.souza@example.com.br",
            "country": "Brazil",
            "tagStr": "newsletter,demo",
            "remark": "Please call me after 5 pm.",
        }
    ],
    "nxcloud": [
        {
            "full_name": "Ahmed Hassan",
            "first_name": "Ahmed",
            "last_name": "Hassan",
            "whats_app_phone": "971501234567",
            "email": "ahmed.hassan@example.ae",
            "country": "United Arab Emirates",
            "tagStr": "import,vip",
            "gender": 1,
            "time_zone": "GMT+4",
            "weight": 3,
        },
        {
            "full_name": "Priya Sharma",
            "sms_phone": "919876543210",
            "whats_app_phone": "919876543210",
            "birthday": "1992-07-21",
            "customize_field": '{"customize_1_14":"gold"}',
            "remark": "Imported from the legacy CRM",
        },
    ],
}
DELIVERY_IDS: dict[str, str | None] = {
    "shopify": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    "woocommerce": "6f1d2b4c8a9e0f3b5d7c1e2a4b6c8d0e",
    "typeform": "01JX3Q8V2K7M9N4P6R8T0W2Y4A",
    "tally": "7c1e2f4a-93b8-4d6e-a1f0-2b5c8d9e0f13",
    "standard": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
    "form": None,
    "nxcloud": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4X",
}
# Newest wins: each kind's event time (None: the receive time stands in), its event, and each customer's identity.
# The Standard Webhooks sample is signed afresh for each test: its time is the webhook-timestamp it gets then.
WEBHOOK_TIMESTAMP = "webhook-timestamp"
# WooCommerce's sample says it changed the customer after the request arrived: a clock running ahead is cut back.
EXPECTED_ORDERING: dict[str, tuple[str | None, str | None, list[str]]] = {
    "shopify": ("2025-06-02T10:15:29Z", "create", ["shopify:id:7401837265123"]),
    "woocommerce": (None, "create", ["woocommerce:id:42"]),
    "typeform": ("2025-06-02T10:01:07Z", "submit", ["email:wei.zhang@example.com"]),
    "tally": ("2025-06-02T10:05:12.345000Z", "submit", ["email:sophie.dubois@example.fr"]),
    "standard": (WEBHOOK_TIMESTAMP, None, ["email:kenji.tanaka@example.jp"]),
    "form": (None, "submit", ["email:ana.souza@example.com.br"]),
    "nxcloud": (None, None, ["email:ahmed.hassan@example.ae", "phone:919876543210"]),
}
DEDUPED_KINDS = [kind for kind in KINDS if DELIVERY_IDS[kind]]


def expected_envelopes(kind: str, event: dict[str, Any]) -> list[dict[str, Any]]:
    envelopes = []
    event_at, event_kind, identities = EXPECTED_ORDERING[kind]
    for customer, identity in zip(EXPECTED_CUSTOMERS[kind], identities, strict=True):
        envelope = {
            "v": ENVELOPE_VERSION,
            "endpoint": kind,
            "kind": kind,
            "received_at": received_at(event),
            "trace_id": event["requestContext"]["requestId"],
            "customer": customer,
            "replay_count": 0,
            "history": [],
            "event_at": header_time(event) if event_at == WEBHOOK_TIMESTAMP else event_at or received_at(event),
            "identity": identity,
        }
        if event_kind is not None:
            envelope["event"] = event_kind
        if DELIVERY_IDS[kind]:
            envelope["delivery_id"] = DELIVERY_IDS[kind]
        envelopes.append(envelope)
    return envelopes


def header_time(event: dict[str, Any]) -> str:
    """The Standard Webhooks timestamp of ``event`` as the queue message shows it."""
    seconds = int({k.lower(): v for k, v in event["headers"].items()}[WEBHOOK_TIMESTAMP])
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def by_name(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(envelopes, key=lambda e: e["customer"]["full_name"])


def retried(event: dict[str, Any], request_id: str) -> dict[str, Any]:
    """The same delivery sent again: same body and delivery id, a new API Gateway request."""
    copy: dict[str, Any] = json.loads(json.dumps(event))
    copy["requestContext"]["requestId"] = request_id
    return copy


@pytest.mark.parametrize("kind", KINDS)
def test_every_sample_event_queues_exactly_the_expected_envelopes(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = load_event(kind)

    result = ingest_handler(event)

    assert result["statusCode"] == 202
    assert response_body(result) == {
        "accepted": len(EXPECTED_CUSTOMERS[kind]),
        "requestId": event["requestContext"]["requestId"],
    }
    assert by_name(ingest_stack.queued()) == by_name(expected_envelopes(kind, event))


@pytest.mark.parametrize("kind", DEDUPED_KINDS)
def test_a_redelivered_webhook_is_acknowledged_as_duplicate_and_queued_once(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    assert ingest_handler(load_event(kind))["statusCode"] == 202

    again = ingest_handler(retried(load_event(kind), "retry-request-1"))
    replayed = ingest_handler(load_event(kind))  # the very same event, request id included

    assert (again["statusCode"], replayed["statusCode"]) == (200, 200)
    assert response_body(again) == {"duplicate": True, "requestId": "retry-request-1"}
    assert response_body(replayed)["duplicate"] is True
    assert len(ingest_stack.queued()) == len(EXPECTED_CUSTOMERS[kind])


def test_form_posts_without_a_delivery_id_are_not_deduplicated(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = load_event("form")

    statuses = [ingest_handler(event)["statusCode"], ingest_handler(retried(event, "second-post"))["statusCode"]]

    assert statuses == [202, 202]
    assert len(ingest_stack.queued()) == 2


def test_a_form_post_with_an_idempotency_key_is_deduplicated(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    event = load_event("form")
    event["headers"]["idempotency-key"] = "checkout-7f3a"

    statuses = [ingest_handler(event)["statusCode"], ingest_handler(retried(event, "second-post"))["statusCode"]]

    assert statuses == [202, 200]
    assert [e["delivery_id"] for e in ingest_stack.queued()] == ["checkout-7f3a"]


def test_the_woocommerce_creation_ping_gets_200_and_queues_nothing(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = load_event("woocommerce")
    headers = {"content-type": "application/x-www-form-urlencoded", "user-agent": "WooCommerce/9.8.5 Hookshot"}
    ping = with_body({**event, "headers": headers}, b"webhook_id=3", base64_body=True)

    result = ingest_handler(ping)

    assert result["statusCode"] == 200
    assert response_body(result)["ping"] is True
    assert ingest_stack.depth() == 0


def test_an_unmapped_topic_is_acknowledged_and_ignored(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    event = load_event("shopify")
    event["headers"]["x-shopify-topic"] = "orders/create"

    result = ingest_handler(event)

    assert result["statusCode"] == 200
    assert response_body(result)["accepted"] == 0
    assert "orders/create" in response_body(result)["ignored"]
    assert ingest_stack.depth() == 0


# --- bad input: a clear JSON error, nothing queued -------------------------------------------------------------


def test_a_wrong_method_gets_405_with_an_allow_header(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    event = load_event("shopify")
    event["requestContext"]["http"]["method"] = "GET"

    result = ingest_handler(event)

    assert result["statusCode"] == 405
    assert result["headers"]["allow"] == "POST"
    assert response_body(result)["error"] == "method_not_allowed"
    assert ingest_stack.depth() == 0


def test_an_unknown_endpoint_gets_404(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    event = load_event("shopify")
    event["pathParameters"] = {"endpoint": "no-such-store"}

    result = ingest_handler(event)

    assert result["statusCode"] == 404
    assert response_body(result)["error"] == "unknown_endpoint"
    assert ingest_stack.depth() == 0


def test_a_body_over_the_limit_gets_413(
    ingest_handler: Invoke, ingest_stack: IngestStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "1024")
    event = load_event("shopify")
    assert len(body_of(event)) > 1024

    result = ingest_handler(event)

    assert result["statusCode"] == 413
    assert response_body(result)["error"] == "payload_too_large"
    assert ingest_stack.depth() == 0


@pytest.mark.parametrize(("kind", "content_type"), [("shopify", "text/plain"), ("form", "application/xml")])
def test_an_unsupported_content_type_gets_415(
    kind: str, content_type: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = load_event(kind)
    event["headers"]["content-type"] = content_type

    result = ingest_handler(event)

    assert result["statusCode"] == 415
    assert response_body(result)["error"] == "unsupported_media_type"
    assert ingest_stack.depth() == 0


SIGNATURE_HEADERS = {
    "shopify": ["x-shopify-hmac-sha256"],
    "woocommerce": ["x-wc-webhook-signature"],
    "typeform": ["typeform-signature"],
    "tally": ["tally-signature"],
    "standard": ["webhook-signature"],
    "form": ["x-webhook-secret"],
    "nxcloud": ["webhook-signature"],
}


def wrong_secret(kind: str) -> str:
    """A secret of the right shape that is not the endpoint's."""
    if kind in ("standard", "nxcloud"):
        return documented_secrets()["nxcloud" if kind == "standard" else "standard"]
    return "not-the-secret"


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_or_wrong_signature_gets_the_same_401(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    unsigned = load_event(kind)
    for header in SIGNATURE_HEADERS[kind]:
        del unsigned["headers"][header]
    forged = resign(load_event(kind), wrong_secret(kind))

    answers = [ingest_handler(unsigned), ingest_handler(forged)]

    assert [a["statusCode"] for a in answers] == [401, 401]
    assert [{k: v for k, v in response_body(a).items() if k != "requestId"} for a in answers] == [
        {"error": "unauthorized", "message": "missing or invalid signature"}
    ] * 2
    assert ingest_stack.depth() == 0


def test_a_tampered_body_gets_401(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    event = load_event("shopify")
    tampered = with_body(event, body_of(event).replace(b"maria.garcia@example.com", b"evil@example.com"))

    assert ingest_handler(tampered)["statusCode"] == 401
    assert ingest_stack.depth() == 0


@pytest.mark.parametrize("kind", ["standard", "nxcloud"])
@pytest.mark.parametrize("skew_seconds", [-310, 310])
def test_a_standard_webhook_outside_the_five_minute_tolerance_gets_401(
    kind: str, skew_seconds: int, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = load_event(kind, now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=skew_seconds))

    assert ingest_handler(event)["statusCode"] == 401
    assert ingest_stack.depth() == 0


@pytest.mark.parametrize("kind", ["shopify", "typeform", "standard"])
def test_a_signed_body_that_is_not_json_gets_400(kind: str, ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    event = resign(with_body(load_event(kind), b'{"id": 1,'), documented_secrets()[kind])

    result = ingest_handler(event)

    assert result["statusCode"] == 400
    assert response_body(result)["error"] == "malformed_body"
    assert ingest_stack.depth() == 0


def test_a_body_that_is_not_valid_base64_gets_400(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    event = load_event("form")
    event["body"] = "not base64 at all!"

    result = ingest_handler(event)

    assert result["statusCode"] == 400
    assert ingest_stack.depth() == 0


def test_invalid_customers_get_422_listing_index_field_and_reason_with_masked_values(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = load_event("nxcloud")
    payload = json.loads(body_of(event))
    payload["customers"][1]["email"] = "priya.sharma-at-example.in"
    payload["customers"][1]["birthday"] = "1992-02-30"
    event = resign(with_body(event, json.dumps(payload).encode()), documented_secrets()["nxcloud"])

    result = ingest_handler(event)

    assert result["statusCode"] == 422
    body = response_body(result)
    assert body["error"] == "validation_failed"
    assert body["errors"] == [
        {"index": 1, "field": "email", "reason": "is not an e-mail address", "value": "***in"},
        {"index": 1, "field": "birthday", "reason": "is not a real calendar date", "value": "***30"},
    ]
    assert "priya.sharma-at-example.in" not in result["body"]
    assert ingest_stack.depth() == 0


def test_a_customer_without_any_contact_gets_422(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    event = load_event("shopify")
    customer = json.loads(body_of(event))
    customer.update(email=None, phone=None, default_address=None, addresses=[])
    event = resign(with_body(event, json.dumps(customer).encode()), documented_secrets()["shopify"])

    result = ingest_handler(event)

    assert result["statusCode"] == 422
    assert [e["index"] for e in response_body(result)["errors"]] == [0]
    assert ingest_stack.depth() == 0


def test_sqs_unavailable_gets_503_and_the_senders_retry_is_queued_once(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.delete_queue(QueueUrl=ingest_stack.queue_url)
    event = load_event("nxcloud")

    down = ingest_handler(event)
    sqs.create_queue(QueueName="CustomersQueue")
    retry = ingest_handler(retried(load_event("nxcloud"), "retry-after-503"))

    assert down["statusCode"] == 503
    assert response_body(down)["error"] == "queue_unavailable"
    assert retry["statusCode"] == 202
    assert len(ingest_stack.queued()) == 2


# --- rotation --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_old_and_new_secrets_are_both_accepted_during_a_rotation(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    old = documented_secrets()[kind]
    new = "whsec_" + base64.b64encode(f"rotated-{kind}-key-0123456789".encode()).decode()
    ingest_stack.put_secrets({**documented_secrets(), kind: [new, old]})

    with_old = ingest_handler(load_event(kind))["statusCode"]
    ingest_stack.forget_deliveries()  # so that the same delivery counts as new again
    with_new = ingest_handler(resign(load_event(kind), new))["statusCode"]

    assert (with_old, with_new) == (202, 202)
    assert len(ingest_stack.queued()) == 2 * len(EXPECTED_CUSTOMERS[kind])


def test_a_rotated_secret_is_accepted_at_once_despite_the_cache(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    assert ingest_handler(load_event("tally"))["statusCode"] == 202  # warm: the secrets document is now cached
    ingest_stack.put_secrets({**documented_secrets(), "tally": "tally-rotated-secret"})
    event = load_event("tally")
    payload = json.loads(body_of(event))
    payload["eventId"] = "after-rotation"
    rotated = resign(with_body(event, json.dumps(payload).encode()), "tally-rotated-secret")

    assert ingest_handler(rotated)["statusCode"] == 202


# --- observability ---------------------------------------------------------------------------------------------


PII = [
    "maria.garcia@example.com",
    "María",
    "García",
    "34612345678",
    "+34 612 345 678",
    "oliver.smith@example.co.uk",
    "Baker Street",
    "wei.zhang@example.com",
    "8613812345678",
    "Sophie",
    "Kenji",
    "ana.souza@example.com.br",
    "91234-5678",
    "Ahmed",
    "971501234567",
]


def test_logs_and_metrics_never_contain_customer_pii_or_secrets(
    ingest_handler: Invoke,
    ingest_stack: IngestStack,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    for kind in KINDS:
        ingest_handler(load_event(kind))
        ingest_handler(resign(load_event(kind), "wrong-secret"))
    # The records as the code wrote them, before the logger's redacting formatter: it is a safety net only.
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    emitted = logged + capfd.readouterr().out

    assert "webhook accepted" in logged
    assert [value for value in PII if value in emitted] == []
    assert [secret for secret in documented_secrets().values() if secret in emitted] == []


def test_rejections_are_counted_by_reason(
    ingest_handler: Invoke, ingest_stack: IngestStack, capfd: pytest.CaptureFixture[str]
) -> None:
    ingest_handler(resign(load_event("shopify"), "wrong-secret"))
    metrics = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line]

    rejected = [m for m in metrics if "WebhooksRejected" in m]
    assert [m["reason"] for m in rejected] == ["unauthorized"]
    assert rejected[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "reason"]]
    assert any(m.get("WebhooksReceived") == [1.0] for m in metrics)
