"""WooCommerce webhooks set to the legacy API v3 send {"customer": {...}} with billing_address/shipping_address."""

from __future__ import annotations

from typing import Any

from tests.fixtures.ingest import customers_of

HEADERS = {"content-type": "application/json", "x-wc-webhook-topic": "customer.created"}

# The legacy REST API v3 customer resource (WooCommerce legacy API docs, "View a customer").
LEGACY: dict[str, Any] = {
    "customer": {
        "id": 2,
        "created_at": "2015-01-05T18:34:19Z",
        "email": "john.doe@example.com",
        "first_name": "John",
        "last_name": "Doe",
        "username": "john.doe",
        "last_order_id": 123,
        "last_order_date": "2015-01-14T16:47:30Z",
        "orders_count": 10,
        "total_spent": "1034.58",
        "avatar_url": "https://secure.gravatar.com/avatar/?s=96",
        "billing_address": {
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
        "shipping_address": {
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
    }
}


def test_a_legacy_customer_maps_names_email_billing_phone_country_and_address() -> None:
    assert customers_of("woocommerce", LEGACY, HEADERS) == [
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


def test_a_legacy_customer_without_billing_falls_back_to_the_shipping_address() -> None:
    customer = {**LEGACY["customer"], "billing_address": {"email": "john.doe@example.com"}}

    [mapped] = customers_of("woocommerce", {"customer": customer}, HEADERS)

    assert (mapped["country"], mapped["address"]) == ("United States", "969 Market, San Francisco, CA, 94103")


def test_a_mapping_reads_the_legacy_customer_itself() -> None:
    [mapped] = customers_of("woocommerce", LEGACY, HEADERS, mapping={"remark": "username"})

    assert mapped["remark"] == "john.doe"
