"""What each kind says about the change a delivery carries (event time, event, the source's customer id), Shopify's
privacy notices, and type 2 refused at configuration load for endpoints that receive updates."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from nxbridge.endpoints import InvalidConfig, parse_endpoints
from nxbridge.sources import EventFacts, PrivacyNotice, source_for
from tests.fixtures.ingest import endpoint_config, webhook_request

UTC = dt.UTC


def facts(kind: str, payload: Any, headers: dict[str, str] | None = None, **config: Any) -> EventFacts:
    source = source_for(kind)  # type: ignore[arg-type]
    endpoint = endpoint_config(kind, **config)
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = webhook_request(body, {"content-type": "application/json", **(headers or {})})
    return source.event_facts(request, source.parse(request, endpoint), endpoint)


def notice(topic: str, payload: Any) -> PrivacyNotice | None:
    source = source_for("shopify")
    endpoint = endpoint_config("shopify")
    request = webhook_request(json.dumps(payload), {"content-type": "application/json", "x-shopify-topic": topic})
    return source.privacy_notice(request, source.parse(request, endpoint), endpoint)


def test_shopify_takes_updated_at_then_the_triggered_at_header_and_the_topics_event() -> None:
    headers = {"x-shopify-topic": "customers/update", "x-shopify-triggered-at": "2022-01-01T00:00:05.000Z"}
    resource = {"id": 706405506930370084, "updated_at": "2021-12-31T19:00:00-05:00"}

    assert facts("shopify", resource, headers) == EventFacts(
        at=dt.datetime(2022, 1, 1, tzinfo=UTC), event="update", customer_id="706405506930370084"
    )
    assert facts("shopify", {"id": 1}, headers).at == dt.datetime(2022, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert facts("shopify", {"id": 1}, {"x-shopify-topic": "customers/create"}).event == "create"


def test_woocommerce_takes_date_modified_gmt_as_utc_and_the_resource_id() -> None:
    resource = {"id": 42, "date_modified": "2025-06-02T12:20:11", "date_modified_gmt": "2025-06-02T10:20:11"}

    assert facts("woocommerce", resource, {"x-wc-webhook-topic": "customer.updated"}) == EventFacts(
        at=dt.datetime(2025, 6, 2, 10, 20, 11, tzinfo=UTC), event="update", customer_id="42"
    )
    # The legacy API v3 body wraps the customer.
    legacy = facts("woocommerce", {"customer": resource}, {"x-wc-webhook-topic": "customer.created"})
    assert (legacy.customer_id, legacy.event) == ("42", "create")


def test_typeform_takes_submitted_at_and_tally_created_at_of_the_event_or_its_data() -> None:
    typeform = {
        "event_id": "e",
        "event_type": "form_response",
        "form_response": {"submitted_at": "2025-06-02T10:01:07Z"},
    }
    assert facts("typeform", typeform) == EventFacts(at=dt.datetime(2025, 6, 2, 10, 1, 7, tzinfo=UTC), event="submit")
    tally_top = {"eventId": "e", "eventType": "FORM_RESPONSE", "createdAt": "2025-06-02T10:05:12.345Z", "data": {}}
    tally_data = {"eventId": "e", "eventType": "FORM_RESPONSE", "data": {"createdAt": "2025-06-02T10:05:12Z"}}
    assert facts("tally", tally_top).at == dt.datetime(2025, 6, 2, 10, 5, 12, 345000, tzinfo=UTC)
    assert facts("tally", tally_data).at == dt.datetime(2025, 6, 2, 10, 5, 12, tzinfo=UTC)


def test_standard_webhooks_take_the_signed_timestamp_and_forms_and_imports_the_receive_time() -> None:
    assert facts("standard", {"email": "j@example.com"}, {"webhook-timestamp": "1748859330"}).at == dt.datetime(
        2025, 6, 2, 10, 15, 30, tzinfo=UTC
    )
    assert facts("nxcloud", {"customers": []}) == EventFacts()
    form = source_for("form")
    endpoint = endpoint_config("form")
    request = webhook_request(b"email=j%40example.com", {"content-type": "application/x-www-form-urlencoded"})
    assert form.event_facts(request, form.parse(request, endpoint), endpoint) == EventFacts(event="submit")


def test_shopify_privacy_topics_become_notices_and_customer_topics_do_not() -> None:
    customer = {"id": 207119551, "email": "john@example.com", "phone": "555-625-1199"}
    redact = {"shop_id": 954889, "shop_domain": "s.myshopify.com", "customer": customer, "orders_to_redact": [299938]}

    assert notice("customers/redact", redact) == PrivacyNotice(
        "customers/redact", "207119551", "john@example.com", "555-625-1199"
    )
    assert notice("customers/data_request", {**redact, "data_request": {"id": 9999}}) == PrivacyNotice(
        "customers/data_request", "207119551", "john@example.com", "555-625-1199"
    )
    assert notice("shop/redact", {"shop_id": 954889, "shop_domain": "s.myshopify.com"}) == PrivacyNotice("shop/redact")
    assert notice("customers/delete", {"id": 207119551, "phone": None}) == PrivacyNotice(
        "customers/delete", "207119551"
    )
    assert notice("customers/update", customer) is None


def endpoints(**configs: dict[str, Any]) -> str:
    return json.dumps({"endpoints": configs})


def test_type_2_is_refused_at_load_for_an_endpoint_that_receives_updates() -> None:
    document = endpoints(shop={"kind": "shopify"}, woo={"kind": "woocommerce"}, contact={"kind": "form"})

    with pytest.raises(InvalidConfig) as refused:
        parse_endpoints(document, nxcloud_type=2)

    message = str(refused.value)
    assert "NXCLOUD_TYPE is 2 (keep old data)" in message
    assert "shop (customers/update)" in message and "woo (customer.updated)" in message
    assert "contact" not in message and "use type 1" in message
    assert parse_endpoints(document, nxcloud_type=1).endpoints.keys() == {"shop", "woo", "contact"}


@pytest.mark.parametrize(
    "config",
    [
        {"kind": "form"},
        {"kind": "typeform"},
        {"kind": "shopify", "shopify": {"topics": ["customers/create"]}},
        {"kind": "woocommerce", "woocommerce": {"topics": ["customer.created", "order.created"]}},
    ],
)
def test_type_2_is_accepted_where_no_update_topic_is_configured(config: dict[str, Any]) -> None:
    assert parse_endpoints(endpoints(only=config), nxcloud_type=2).endpoints["only"].kind == config["kind"]
