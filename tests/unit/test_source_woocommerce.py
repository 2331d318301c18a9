"""WooCommerce webhooks: the REST v3 customer resource, order billing contacts, and the creation ping."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nxbridge.sources import Ignored, source_for
from nxbridge.sources.verify import base64_hmac
from tests.fixtures.ingest import customers_of, endpoint_config, outcome_of, webhook_request

# The REST API v3 customer resource, as in WooCommerce's API docs ("Retrieve a customer").
CUSTOMER: dict[str, Any] = {
    "id": 25,
    "date_created": "2017-03-21T16:09:28",
    "date_created_gmt": "2017-03-21T19:09:28",
    "date_modified": "2017-03-21T16:09:30",
    "date_modified_gmt": "2017-03-21T19:09:30",
    "email": "john.doe@example.com",
    "first_name": "John",
    "last_name": "Doe",
    "role": "customer",
    "username": "john.doe",
    "billing": {
        "first_name": "John",
        "last_name": "Doe",
        "company": "",
        "address_1": "969 Market",
        "address_2": "",
        "city": "San Francisco",
        "state": "CA",
        "postcode": "94103",
        "country": "US",
        "email": "john.doe@example.com",
        "phone": "(555) 555-5555",
    },
    "shipping": {
        "first_name": "John",
        "last_name": "Doe",
        "company": "",
        "address_1": "969 Market",
        "address_2": "",
        "city": "San Francisco",
        "state": "CA",
        "postcode": "94103",
        "country": "US",
    },
    "is_paying_customer": False,
    "avatar_url": "https://secure.gravatar.com/avatar/8eb1b522f60d11fa897de1dc6351b7e8?s=96",
    "meta_data": [],
}
HEADERS = {"content-type": "application/json", "x-wc-webhook-topic": "customer.created"}


def test_the_rest_customer_maps_names_email_billing_phone_country_and_address() -> None:
    assert customers_of("woocommerce", CUSTOMER, HEADERS) == [
        {
            "full_name": "John Doe",
            "first_name": "John",
            "last_name": "Doe",
            "email": "john.doe@example.com",
            # The billing phone read in the billing country, and the country in the endpoint's form (a name).
            "sms_phone": "15555555555",
            "whats_app_phone": "15555555555",
            "country": "United States",
            "address": "969 Market, San Francisco, CA, 94103",
        }
    ]


def test_a_customer_registered_without_billing_details_keeps_name_and_email() -> None:
    bare = copy.deepcopy(CUSTOMER)
    bare["billing"] = {key: "" for key in CUSTOMER["billing"]}
    bare["shipping"] = {key: "" for key in CUSTOMER["shipping"]}

    assert customers_of("woocommerce", bare, HEADERS) == [
        {"full_name": "John Doe", "first_name": "John", "last_name": "Doe", "email": "john.doe@example.com"}
    ]


def test_order_topics_map_the_orders_billing_contact_when_configured() -> None:
    order = {
        "id": 727,
        "status": "processing",
        "billing": dict(CUSTOMER["billing"], first_name="Jane", email="jane@example.com", phone="+1 415 555 0100"),
        "shipping": CUSTOMER["shipping"],
        "customer_note": "Leave at the door",
        "line_items": [],
    }
    headers = {**HEADERS, "x-wc-webhook-topic": "order.created"}

    ignored = outcome_of("woocommerce", order, headers)
    [customer] = customers_of(
        "woocommerce", order, headers, woocommerce={"topics": ["customer.created", "order.created"]}
    )

    assert isinstance(ignored, Ignored)
    assert customer["full_name"] == "Jane Doe"
    assert customer["email"] == "jane@example.com"
    assert customer["sms_phone"] == "14155550100"
    assert customer["remark"] == "Leave at the door"


@pytest.mark.parametrize(
    ("body", "headers", "is_ping"),
    [
        (b"webhook_id=3", {"content-type": "application/x-www-form-urlencoded"}, True),
        (b"webhook_id=12345", {}, True),
        (b"webhook_id=3", {"content-type": "application/x-www-form-urlencoded", "x-wc-webhook-signature": "x"}, False),
        (b"webhook_id=3&x=1", {"content-type": "application/x-www-form-urlencoded"}, False),
        (b'{"webhook_id": 3}', {"content-type": "application/json"}, False),
    ],
    ids=["ping", "ping-without-content-type", "signed", "extra-field", "json"],
)
def test_only_the_unsigned_creation_ping_is_a_ping(body: bytes, headers: dict[str, str], is_ping: bool) -> None:
    assert source_for("woocommerce").is_ping(webhook_request(body, headers)) is is_ping


def test_the_signature_covers_the_raw_body_bytes_with_escaped_slashes() -> None:
    body = b'{"id":25,"avatar_url":"https:\\/\\/secure.gravatar.com\\/avatar\\/8eb1"}'
    request = webhook_request(
        body, {"x-wc-webhook-signature": base64_hmac("wc-secret", body), "x-wc-webhook-delivery-id": "abc123"}
    )
    source = source_for("woocommerce")
    config = endpoint_config("woocommerce")

    assert source.verify(request, ["wc-secret"], config, request.received_at)
    assert source.delivery_id(request, {}, config) == "abc123"
