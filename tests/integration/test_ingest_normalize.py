"""IngestFunction makes customers right for WhatsApp (issue 14), seen in the bodies it queues: E.164 phones, one
country form, forgiving optional fields, dates with a time, text SQS accepts and the Standard Webhooks shape."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest

from nxbridge.envelope import DlqRecord, FailureReason
from tests.fixtures.ingest import (
    IngestStack,
    Invoke,
    body_of,
    documented_secrets,
    endpoints_document,
    load_event,
    resign,
    response_body,
    with_body,
)

DELIVERY_ID_HEADERS = ("x-shopify-webhook-id", "x-wc-webhook-delivery-id", "webhook-id", "idempotency-key")


def signed(kind: str, body: bytes, *, endpoint: str | None = None) -> dict[str, Any]:
    """The sample event of ``kind`` carrying ``body`` as a delivery of its own, signed with the kind's secret."""
    event = with_body(load_event(kind), body)
    for header in DELIVERY_ID_HEADERS:
        if header in event["headers"]:
            event["headers"][header] = uuid.uuid4().hex
    if endpoint is not None:
        event["rawPath"] = f"/webhooks/{endpoint}"
        event["pathParameters"] = {"endpoint": endpoint}
        event["requestContext"]["http"]["path"] = event["rawPath"]
    return resign(event, documented_secrets()[kind], dt.datetime.now(dt.UTC))


def shopify(changes: dict[str, Any], address: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sample Shopify delivery with ``changes`` to its customer and ``address`` as its only address."""
    customer = {**json.loads(body_of(load_event("shopify"))), **changes}
    if address is not None:
        customer["default_address"] = address
        customer["addresses"] = [{**address, "default": True}]
    return signed("shopify", json.dumps(customer).encode())


def woocommerce(billing: dict[str, Any]) -> dict[str, Any]:
    """The sample WooCommerce delivery with ``billing`` changes."""
    resource = json.loads(body_of(load_event("woocommerce")))
    resource["billing"] = {**resource["billing"], **billing}
    return signed("woocommerce", json.dumps(resource).encode())


def form(fields: list[tuple[str, str]]) -> dict[str, Any]:
    """A signed post of ``fields`` to the ``form`` endpoint."""
    return signed("form", urlencode(fields).encode())


def with_endpoints(stack: IngestStack, **configs: dict[str, Any]) -> None:
    """Add each of ``configs`` to the configuration of the endpoint it names (created when absent)."""
    document = endpoints_document()
    for name, config in configs.items():
        document["endpoints"][name] = {**document["endpoints"].get(name, {}), **config}
    stack.put_endpoints(document)


def one_customer(result: dict[str, Any], stack: IngestStack) -> dict[str, Any]:
    assert result["statusCode"] == 202, response_body(result)
    [envelope] = stack.queued()
    customer: dict[str, Any] = envelope["customer"]
    return customer


def phones(customer: dict[str, Any]) -> tuple[str | None, str | None]:
    return customer.get("sms_phone"), customer.get("whats_app_phone")


def metrics(out: str, name: str) -> list[str]:
    """The ``reason`` of every EMF metric ``name`` printed in ``out``."""
    lines = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    return [line["reason"] for line in lines if name in line]


# The table of issue 14: what NXCloud received before, and what is right.
ISSUE_ROWS: dict[str, tuple[str, Any, str]] = {
    "woocommerce FR national": ("woocommerce", {"country": "FR", "phone": "06 12 34 56 78"}, "33612345678"),
    "shopify US address": (
        "shopify",
        ({"phone": None}, {"phone": "(415) 555-0100", "country_code": "US", "country": "United States"}),
        "14155550100",
    ),
    "shopify +33 (0)": ("shopify", ({"phone": "+33 (0)6 12 34 56 78"}, None), "33612345678"),
    "shopify 0044 GB": (
        "shopify",
        ({"phone": None}, {"phone": "0044 7911 123456", "country_code": "GB", "country": "United Kingdom"}),
        "447911123456",
    ),
    "woocommerce GB national": ("woocommerce", {"country": "GB", "phone": "07911 123456"}, "447911123456"),
    "two numbers: the mobile": ("shopify", ({"phone": "+49 30 1234567 / +49 170 1234567"}, None), "491701234567"),
    "en dashes": ("shopify", ({"phone": "+1 415\u2013555\u20130100"}, None), "14155550100"),
}


@pytest.mark.parametrize("row", ISSUE_ROWS)
def test_each_row_of_the_issue_reaches_the_queue_as_the_right_number(
    row: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    kind, change, right = ISSUE_ROWS[row]
    event = woocommerce(change) if kind == "woocommerce" else shopify(*change)

    assert phones(one_customer(ingest_handler(event), ingest_stack)) == (right, right)


def test_a_browser_forms_national_number_is_read_in_the_endpoints_default_region(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    with_endpoints(ingest_stack, form={"normalize": {"default_region": "FR"}})

    customer = one_customer(ingest_handler(form([("name", "Léa Martin"), ("phone", "06 12 34 56 78")])), ingest_stack)

    assert phones(customer) == ("33612345678", "33612345678")


def test_one_customer_is_one_number_whichever_event_carries_it(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    france = {"country_code": "FR", "country": "France"}
    events = [
        shopify({"phone": "+33612345678"}),
        shopify({"phone": None}, {**france, "phone": "06 12 34 56 78"}),
        shopify({"phone": None}, {**france, "phone": "0033 6.12.34.56.78"}),
        woocommerce({"country": "FR", "phone": "+33 (0) 6 12 34 56 78"}),
    ]

    sent = {phones(one_customer(ingest_handler(event), ingest_stack)) for event in events}

    assert sent == {("33612345678", "33612345678")}


def test_a_number_that_cannot_be_made_right_is_dropped_counted_and_never_logged(
    ingest_handler: Invoke,
    ingest_stack: IngestStack,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A national number, and neither the customer nor the endpoint says which country it belongs to.
    event = shopify({"phone": None}, {"phone": "0612345678", "country_code": None, "country": None})

    customer = one_customer(ingest_handler(event), ingest_stack)

    assert phones(customer) == (None, None) and customer["email"]
    out = capfd.readouterr().out
    assert metrics(out, "ContactsDropped") == ["phone_no_region"]
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records) + out
    assert "0612345678" not in logged and "612345678" not in logged


def test_bad_optional_fields_of_a_shop_customer_are_dropped_and_counted_not_refused(
    ingest_handler: Invoke,
    ingest_stack: IngestStack,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with_endpoints(ingest_stack, shopify={"mapping": {"gender": "gender", "birthday": "birthday", "weight": "level"}})
    changes = {"gender": "Prefer not to say", "birthday": "12/04/1976", "level": 7}
    event = shopify(changes, {"phone": "+34 612 345 678", "country_code": "XX", "country": "Atlantis"})

    customer = one_customer(ingest_handler(event), ingest_stack)

    assert not {"gender", "birthday", "weight", "country"} & set(customer)
    assert customer["email"] == "maria.garcia@example.com" and customer["sms_phone"] == "34612345678"
    out = capfd.readouterr().out
    assert sorted(metrics(out, "FieldsDropped")) == [
        "birthday_invalid",
        "country_unknown",
        "gender_invalid",
        "weight_invalid",
    ]
    dropped = [r for r in caplog.records if r.getMessage() == "field dropped"]
    assert sorted(vars(r)["field"] for r in dropped) == ["birthday", "country", "gender", "weight"]
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records) + out
    assert "Prefer not to say" not in logged and "Atlantis" not in logged and "12/04/1976" not in logged


def test_a_browser_form_still_names_the_optional_field_to_fix(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    fields = [
        ("name", "Ann Lee"),
        ("email", "ann@example.com"),
        ("gender", "Prefer not to say"),
        ("country", "Atlantis"),
    ]

    result = ingest_handler(form(fields))

    assert result["statusCode"] == 422
    assert sorted(e["field"] for e in response_body(result)["errors"]) == ["country", "gender"]
    assert ingest_stack.depth() == 0


def test_a_typeform_date_answer_with_a_time_is_sent_as_the_date(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    body = body_of(load_event("typeform")).replace(b'"date":"1990-04-18"', b'"date":"1976-04-12T00:00:00Z"')
    assert b"1976-04-12T00:00:00Z" in body

    customer = one_customer(ingest_handler(signed("typeform", body)), ingest_stack)

    assert customer["birthday"] == "1976-04-12"


@pytest.mark.parametrize(("form", "shown"), [("name", "United Kingdom"), ("iso", "GB")])
def test_the_country_is_written_in_the_endpoints_one_form(
    form: str, shown: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    with_endpoints(ingest_stack, woocommerce={"normalize": {"country": form}}, tally={"normalize": {"country": form}})

    shop = one_customer(ingest_handler(woocommerce({"country": "GB"})), ingest_stack)
    tally = one_customer(ingest_handler(load_event("tally")), ingest_stack)

    assert shop["country"] == shown
    assert tally["country"] == ("France" if form == "name" else "FR")


def sqs_accepts(body: str) -> bool:
    """Whether every character of ``body`` is in SQS's allowed set (and no Unicode non-character)."""
    for char in body:
        code = ord(char)
        allowed = code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000
        if not allowed or 0xFDD0 <= code <= 0xFDEF or code & 0xFFFF in (0xFFFE, 0xFFFF):
            return False
    return True


def raw_bodies(stack: IngestStack) -> list[str]:
    """The message bodies on CustomersQueue exactly as queued (moto takes what real SQS refuses)."""
    messages = stack.sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [message["Body"] for message in messages]


REFUSED = "\ufffe\uffff\ufdd0\U0001fffe\U0010ffff\x01\x1f"


def test_text_sqs_refuses_is_removed_before_the_message_is_queued(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = shopify({"note": f"Call{REFUSED} me\ttoday", "last_name": f"Garc{REFUSED}ía", "tags": f"vip{REFUSED}"})

    result = ingest_handler(event)

    assert result["statusCode"] == 202
    [body] = raw_bodies(ingest_stack)
    assert sqs_accepts(body)
    customer = json.loads(body)["customer"]
    assert (customer["remark"], customer["last_name"], customer["tagStr"]) == ("Call me\ttoday", "García", "vip")


def test_an_email_holding_a_character_sqs_refuses_is_dropped_never_altered(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    result = ingest_handler(shopify({"email": "maria\uffff.garcia@example.com"}))

    assert result["statusCode"] == 202
    [body] = raw_bodies(ingest_stack)
    assert sqs_accepts(body) and "email" not in json.loads(body)["customer"]


def test_a_dlq_record_of_an_error_message_with_any_text_is_a_body_sqs_accepts() -> None:
    reason = FailureReason(stage="nxcloud", errorCode="12148", errorMessage=f"seat {REFUSED}agent1 does not exist")

    body = DlqRecord(raw_body="{}", error=reason).to_message()

    assert sqs_accepts(body)
    # The non-characters are gone; JSON writes the control characters as escapes (\u0001), which SQS accepts.
    assert json.loads(body)["error"]["errorMessage"] == "seat \x01\x1fagent1 does not exist"


def test_a_standard_webhook_without_a_mapping_is_read_from_the_specs_data_object(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    with_endpoints(ingest_stack, plain={"kind": "standard", "secret": "standard"})
    data = {"name": "Kenji Tanaka", "mobile": "+81 90-1234-5678", "email": "kenji@example.jp", "country": "JP"}
    body = {"type": "contact.created", "timestamp": "2025-06-02T10:07:44.512Z", "data": {**data, "company": "ACME"}}

    customer = one_customer(
        ingest_handler(signed("standard", json.dumps(body).encode(), endpoint="plain")), ingest_stack
    )

    assert customer == {
        "full_name": "Kenji Tanaka",
        "sms_phone": "819012345678",
        "whats_app_phone": "819012345678",
        "email": "kenji@example.jp",
        "country": "Japan",
    }
