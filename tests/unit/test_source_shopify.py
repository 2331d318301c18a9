"""Shopify customers/create and customers/update: the published payload shape mapped to NXCloud customers."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nxbridge.sources import Ignored, MalformedPayload, source_for
from tests.fixtures.ingest import customers_of, endpoint_config, outcome_of, webhook_request

# The shape of Shopify's published customers/create sample (webhooks reference, REST customer resource).
SAMPLE: dict[str, Any] = {
    "id": 706405506930370084,
    "created_at": "2021-12-31T19:00:00-05:00",
    "updated_at": "2021-12-31T19:00:00-05:00",
    "first_name": "Bob",
    "last_name": "Biller",
    "state": "disabled",
    "note": "This customer loves ice cream",
    "verified_email": True,
    "multipass_identifier": None,
    "tax_exempt": False,
    "email": "bob@biller.com",
    "phone": None,
    "currency": "USD",
    "addresses": [],
    "tax_exemptions": [],
    "admin_graphql_api_id": "gid://shopify/Customer/706405506930370084",
    "default_address": {
        "id": 12321,
        "customer_id": 706405506930370084,
        "first_name": "Bob",
        "last_name": "Biller",
        "company": None,
        "address1": "151 O'Connor Street",
        "address2": None,
        "city": "Ottawa",
        "province": "ON",
        "country": "CA",
        "zip": "K2P 2L8",
        "phone": "555-555-5555",
        "name": "Bob Biller",
        "province_code": "ON",
        "country_code": "CA",
        "country_name": "CA",
        "default": True,
    },
}
HEADERS = {"content-type": "application/json", "x-shopify-topic": "customers/create"}


def sample(**changes: Any) -> dict[str, Any]:
    customer = copy.deepcopy(SAMPLE)
    customer.update(changes)
    return customer


def test_the_published_sample_maps_to_a_complete_customer() -> None:
    assert customers_of("shopify", SAMPLE, HEADERS) == [
        {
            "full_name": "Bob Biller",
            "first_name": "Bob",
            "last_name": "Biller",
            "email": "bob@biller.com",
            # The address's national number, read in its country (Canada: +1); a possible number is kept.
            "sms_phone": "15555555555",
            "whats_app_phone": "15555555555",
            "country": "Canada",
            "address": "151 O'Connor Street, Ottawa, ON, K2P 2L8",
            "remark": "This customer loves ice cream",
        }
    ]


def test_the_customers_own_phone_wins_and_keeps_its_country_code() -> None:
    [customer] = customers_of("shopify", sample(phone="+1 (613) 555-0142"), HEADERS)

    assert customer["sms_phone"] == customer["whats_app_phone"] == "16135550142"


def test_without_a_default_address_the_phone_of_another_address_is_used() -> None:
    address = dict(SAMPLE["default_address"], phone="+16135550199", default=False)

    [customer] = customers_of("shopify", sample(default_address=None, addresses=[address]), HEADERS)

    assert customer["sms_phone"] == "16135550199"
    assert customer["address"] == "151 O'Connor Street, Ottawa, ON, K2P 2L8"


def test_tags_note_and_country_name_are_mapped() -> None:
    address = dict(SAMPLE["default_address"], country="Canada", country_code="CA")

    [customer] = customers_of("shopify", sample(tags="Léon, Noël, vip", default_address=address), HEADERS)

    assert customer["tagStr"] == "Léon,Noël,vip"
    assert customer["country"] == "Canada"


@pytest.mark.parametrize(
    ("changes", "full_name"),
    [
        ({"first_name": "", "last_name": None, "default_address": None}, "bob@biller.com"),
        (
            {"first_name": None, "last_name": None, "email": None, "phone": "+16135550142", "default_address": None},
            "16135550142",
        ),
        ({"first_name": "Cher", "last_name": None, "default_address": None}, "Cher"),
    ],
    ids=["email", "phone", "first-name-only"],
)
def test_a_customer_without_a_name_is_named_by_email_or_phone(changes: dict[str, Any], full_name: str) -> None:
    [customer] = customers_of("shopify", sample(**changes), HEADERS)

    assert customer["full_name"] == full_name


def test_an_endpoint_mapping_overrides_a_field_with_jmespath() -> None:
    mapping = {"remark": "join(' / ', [note, currency])", "tagStr": "'shopify-ca'"}

    [customer] = customers_of("shopify", SAMPLE, HEADERS, mapping=mapping)

    assert customer["remark"] == "This customer loves ice cream / USD"
    assert customer["tagStr"] == "shopify-ca"


def test_endpoint_defaults_add_tags_and_fill_gaps_only() -> None:
    defaults = {"tagStr": ["shopify", "ca"], "country": "Mexico", "belong_seat_user": "sales@example.com"}

    [customer] = customers_of("shopify", sample(tags="vip"), HEADERS, defaults=defaults)

    assert customer["tagStr"] == "vip,shopify,ca"
    assert customer["country"] == "Canada"
    assert customer["belong_seat_user"] == "sales@example.com"


def test_the_phone_goes_to_the_endpoints_phone_fields() -> None:
    [customer] = customers_of("shopify", SAMPLE, HEADERS, phone_fields=["whats_app_phone"])

    assert customer["whats_app_phone"] == "15555555555"
    assert "sms_phone" not in customer


def test_customers_update_is_mapped_and_other_topics_are_ignored() -> None:
    updated = outcome_of("shopify", SAMPLE, {**HEADERS, "x-shopify-topic": "customers/update"})
    ignored = outcome_of("shopify", SAMPLE, {**HEADERS, "x-shopify-topic": "orders/create"})

    assert isinstance(updated, list)
    assert isinstance(ignored, Ignored)


def test_a_json_body_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedPayload):
        customers_of("shopify", [SAMPLE], HEADERS)


def test_the_signature_and_webhook_id_headers_are_read() -> None:
    source = source_for("shopify")
    body = b'{"id": 1}'
    request = webhook_request(
        body,
        {
            "X-Shopify-Hmac-Sha256": "bP9xOV3K4qBaD7cWkR4n0o+9ygOsw6aq5Gxl8OhM8Qs=",
            "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        },
    )
    config = endpoint_config("shopify")

    assert source.delivery_id(request, {}, config) == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert not source.verify(request, ["some-other-secret"], config, request.received_at)


def test_a_mapping_expression_that_fails_on_a_payload_keeps_the_built_in_value() -> None:
    # join() needs strings; this customer's tags are a number, so the expression cannot apply.
    [customer] = customers_of("shopify", sample(tags=5, note="n"), HEADERS, mapping={"remark": "join(', ', [tags])"})

    assert customer["remark"] == "n"
