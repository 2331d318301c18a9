"""WooCommerce delivery ids repeat within one second: dedupe on webhook id + delivery id + body, not the id alone."""

from __future__ import annotations

import json
from typing import Any

from tests.fixtures.ingest import (
    IngestStack,
    Invoke,
    body_of,
    documented_secrets,
    load_event,
    resign,
    response_body,
    with_body,
)


def delivery_of(email: str, customer_id: int, request_id: str) -> dict[str, Any]:
    """The sample WooCommerce event for another customer, same webhook and same delivery id (same second)."""
    event = load_event("woocommerce")
    customer = json.loads(body_of(event))
    customer.update(id=customer_id, email=email)
    customer["billing"]["email"] = email
    event = resign(with_body(event, json.dumps(customer).encode()), documented_secrets()["woocommerce"])
    event["requestContext"]["requestId"] = request_id
    return event


def test_two_customers_delivered_in_the_same_second_are_both_queued(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    first = delivery_of("first.buyer@example.co.uk", 42, "req-first")
    second = delivery_of("second.buyer@example.co.uk", 43, "req-second")
    header = "x-wc-webhook-delivery-id"
    assert first["headers"][header] == second["headers"][header]

    statuses = [ingest_handler(first)["statusCode"], ingest_handler(second)["statusCode"]]

    queued = ingest_stack.queued()
    assert statuses == [202, 202]
    assert sorted(e["customer"]["email"] for e in queued) == ["first.buyer@example.co.uk", "second.buyer@example.co.uk"]
    # The envelope keeps WooCommerce's own delivery id: that is what the shop's webhook log shows.
    assert {e["delivery_id"] for e in queued} == {first["headers"][header]}


def test_the_identical_woocommerce_delivery_twice_is_a_duplicate(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = delivery_of("first.buyer@example.co.uk", 42, "req-first")
    again = {**event, "requestContext": {**event["requestContext"], "requestId": "req-again"}}

    first, second = ingest_handler(event), ingest_handler(again)

    assert (first["statusCode"], second["statusCode"]) == (202, 200)
    assert response_body(second) == {"duplicate": True, "requestId": "req-again"}
    assert len(ingest_stack.queued()) == 1


def test_the_same_delivery_id_and_body_from_another_webhook_is_not_a_duplicate(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = delivery_of("first.buyer@example.co.uk", 42, "req-first")
    other_webhook = json.loads(json.dumps(event))
    other_webhook["headers"]["x-wc-webhook-id"] = "4"

    statuses = [ingest_handler(event)["statusCode"], ingest_handler(other_webhook)["statusCode"]]

    assert statuses == [202, 202]
    assert len(ingest_stack.queued()) == 2
