"""A messy phone or e-mail from a source: the phone library reads it (extension and all), an unusable one is dropped
if another contact remains, and a customer whose only contact is unusable stays invalid. NXCloud-shaped customers
stay strict, and a browser form's visitor is told what to correct instead of losing what they typed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nxbridge.contract import CustomerValidationError
from nxbridge.sources import BuiltCustomer, DroppedContact, build_customer, source_for
from tests.fixtures.ingest import endpoint_config, webhook_request

LONG_EMAIL = "firstname.middlename.lastname@subdomain.example-company.com"  # 59 characters
BAD_PHONE = "call me after 5"


def built(kind: str, payload: dict[str, Any], **config: Any) -> BuiltCustomer:
    """What ingest builds from the one customer of ``payload``."""
    source, endpoint = source_for(kind), endpoint_config(kind, **config)
    request = webhook_request(json.dumps(payload))
    found = source.candidates(source.parse(request, endpoint), request, endpoint)
    assert isinstance(found, list) and len(found) == 1
    return build_customer(
        found[0],
        endpoint,
        trim_text=source.trims_text,
        normalize_phones=source.normalizes_phones,
        drop_unusable=source.drops_unusable_contacts,
    )


def shopify(phone: str | None, email: str | None = "ann.lee@example.com") -> dict[str, Any]:
    """A Shopify customer whose phone is only in its default address (as the admin form stores it)."""
    address = {"address1": "1 Main St", "country": "Canada", "phone": phone, "default": True}
    return {"id": 5, "email": email, "phone": None, "first_name": "Ann", "last_name": "Lee", "default_address": address}


@pytest.mark.parametrize(
    "phone",
    [
        "613-555-0199 ext. 2",
        "+1 613-555-0199 ext 12",
        "+1 613 555 0199 #2",
        "(613) 555-0199 x204",
        "+1 613 555 0199 X 7",
    ],
)
def test_the_phone_library_separates_the_extension_and_reads_the_number_in_the_address_country(phone: str) -> None:
    result = built("shopify", shopify(phone, email=None))

    assert (result.customer.sms_phone, result.customer.whats_app_phone) == ("16135550199", "16135550199")
    assert result.dropped == ()


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        (BAD_PHONE, "phone_unreadable"),
        ("+1 613 555 0199 / 0200 / 0201 / 0202 / 0203 / 0204", "phone_unreadable"),
        ("555-0199", "phone_not_possible"),  # dialable only inside its area: no E.164 number
    ],
)
def test_an_unusable_phone_is_dropped_when_the_email_remains(phone: str, reason: str) -> None:
    result = built("shopify", shopify(phone))

    assert result.customer.sms_phone is None and result.customer.whats_app_phone is None
    assert result.customer.email == "ann.lee@example.com"
    assert result.dropped == (DroppedContact("phone", reason),)


@pytest.mark.parametrize(
    ("email", "reason"), [(LONG_EMAIL, "email_too_long"), ("ann.lee-at-example.com", "email_malformed")]
)
def test_an_unusable_email_is_dropped_when_the_phone_remains(email: str, reason: str) -> None:
    result = built("shopify", shopify("+1 613 555 0199", email=email))

    assert result.customer.email is None
    assert result.customer.sms_phone == "16135550199"
    assert result.dropped == (DroppedContact("email", reason),)


def test_a_nameless_customer_is_named_after_the_contact_that_remains() -> None:
    payload = {"id": 3, "email": LONG_EMAIL, "phone": "+14155550100"}

    result = built("shopify", payload)

    assert result.customer.full_name == "14155550100"
    assert LONG_EMAIL not in result.customer.model_dump_json()


def test_an_unusable_phone_is_dropped_when_a_mapped_phone_field_remains() -> None:
    payload = {**shopify(BAD_PHONE, email=None), "note": "+1 613 555 0142"}

    result = built("shopify", payload, mapping={"viber_phone": "note"})

    assert (result.customer.viber_phone, result.customer.sms_phone) == ("16135550142", None)
    assert result.dropped == (DroppedContact("phone", "phone_unreadable"),)


def test_a_customer_whose_only_contact_is_unusable_stays_invalid_with_the_phone_fields_named() -> None:
    with pytest.raises(CustomerValidationError) as refused:
        built("shopify", shopify(BAD_PHONE, email=None))

    assert [(e.field, e.code) for e in refused.value.errors] == [
        ("sms_phone", "phone_unreadable"),
        ("whats_app_phone", "phone_unreadable"),
    ]


def test_every_bad_optional_value_is_dropped_and_counted_when_the_customer_stays_valid() -> None:
    payload = {"eventId": "e1", "eventType": "FORM_RESPONSE", "data": {"fields": [
        {"key": "q1", "label": "Email", "type": "INPUT_EMAIL", "value": LONG_EMAIL},
        {"key": "q2", "label": "Phone", "type": "INPUT_PHONE_NUMBER", "value": "+32412345678"},
        {"key": "q3", "label": "Birthday", "type": "INPUT_DATE", "value": "1990-02-30"},
    ]}}  # fmt: skip

    result = built("tally", payload, mapping={"birthday": "Birthday"})

    assert (result.customer.sms_phone, result.customer.email, result.customer.birthday) == ("32412345678", None, None)
    assert sorted(result.dropped, key=lambda d: d.field) == [
        DroppedContact("birthday", "birthday_invalid"),
        DroppedContact("email", "email_too_long"),
    ]


def test_a_phone_mapped_straight_to_a_phone_field_is_made_right_or_dropped_like_the_sources_own() -> None:
    readable = built("shopify", {**shopify(None), "note": "613 555 0142"}, mapping={"sms_phone": "note"})
    unreadable = built("shopify", {**shopify(None), "note": BAD_PHONE}, mapping={"sms_phone": "note"})

    assert readable.customer.sms_phone == "16135550142"
    assert unreadable.customer.sms_phone is None
    assert unreadable.dropped == (DroppedContact("sms_phone", "phone_unreadable"),)


def test_nxcloud_shaped_customers_stay_strict() -> None:
    payload = {
        "full_name": "Ann Lee",
        "email": LONG_EMAIL,
        "phone": "613-555-0199 ext. 2",
        "viber_phone": "16135550142",
    }

    with pytest.raises(CustomerValidationError) as refused:
        built("nxcloud", payload)

    assert sorted(e.field for e in refused.value.errors) == ["email", "sms_phone", "whats_app_phone"]


def test_a_form_cuts_the_extension_but_refuses_an_unusable_email_for_the_visitor_to_correct() -> None:
    typed = {"name": "Ann Lee", "email": "ann.lee@example", "phone": "+1 613 555 0199 ext. 2"}

    with pytest.raises(CustomerValidationError) as refused:
        built("form", typed)
    fixed = built("form", {**typed, "email": "ann.lee@example.com"})

    assert [e.field for e in refused.value.errors] == ["email"]
    assert fixed.customer.sms_phone == "16135550199"


def test_a_mapping_can_give_a_contactless_customer_a_default_email_of_its_own() -> None:
    # The fallback documented in docs/sources.md: one address per Shopify customer id, so that NXCloud does not
    # merge every contactless customer into one.
    mapping = {"email": "email || join('', ['shopify-', to_string(id), '@no-email.invalid'])"}
    walk_in = {"id": 706405506930370084, "email": None, "phone": None, "first_name": "Walk-in", "last_name": "Customer"}

    result = built("shopify", walk_in, mapping=mapping)

    assert result.customer.email == "shopify-706405506930370084@no-email.invalid"
    assert built("shopify", shopify(None), mapping=mapping).customer.email == "ann.lee@example.com"
