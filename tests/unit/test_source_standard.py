"""Standard Webhooks senders: JMESPath mapping per record, lists of records, same-named fields as they are."""

from __future__ import annotations

from typing import Any

import pytest

from nxbridge.sources import InvalidPayload
from tests.fixtures.ingest import customers_of

# The spec's own "full payload" example.
CONTACT: dict[str, Any] = {
    "type": "contact.created",
    "timestamp": "2022-11-03T20:26:10.344522Z",
    "data": {
        "id": "1f81eb52-5198-4599-803e-771906343485",
        "type": "contact",
        "fullName": "John Smith",
        "address": "800 W NASA Pkwy, Webster, TX 77598, USA",
        "phoneNumber": "(281) 332-2575",
        "birthday": "1980-04-19",
        "occupation": "Engineer, ACME",
    },
}
MAPPING = {
    "full_name": "data.fullName",
    "phone": "data.phoneNumber",
    "address": "data.address",
    "birthday": "data.birthday",
    "remark": "join(': ', ['Occupation', data.occupation])",
}


def test_the_spec_example_payload_is_mapped_with_jmespath() -> None:
    # The example's national number has no country in the payload: the endpoint's default region reads it.
    assert customers_of("standard", CONTACT, mapping=MAPPING, normalize={"default_region": "US"}) == [
        {
            "full_name": "John Smith",
            "sms_phone": "12813322575",
            "whats_app_phone": "12813322575",
            "address": "800 W NASA Pkwy, Webster, TX 77598, USA",
            "birthday": "1980-04-19",
            "remark": "Occupation: Engineer, ACME",
        }
    ]


def test_records_found_by_an_expression_become_one_customer_each() -> None:
    payload = {
        "type": "contacts.imported",
        "data": {"contacts": [CONTACT["data"], dict(CONTACT["data"], fullName="Ann Lee")]},
    }
    mapping = {"full_name": "fullName", "phone": "phoneNumber"}

    customers = customers_of(
        "standard", payload, mapping=mapping, standard={"records": "data.contacts"}, normalize={"default_region": "US"}
    )

    assert [c["full_name"] for c in customers] == ["John Smith", "Ann Lee"]


def test_record_fields_named_like_nxcloud_fields_need_no_mapping() -> None:
    record = {"full_name": "Ann Lee", "email": "ann@example.com", "phone": "+65 8123 4567", "unrelated": 1}

    assert customers_of("standard", record) == [
        {"full_name": "Ann Lee", "email": "ann@example.com", "sms_phone": "6581234567", "whats_app_phone": "6581234567"}
    ]


def test_records_that_are_not_objects_are_reported_by_index() -> None:
    with pytest.raises(InvalidPayload) as caught:
        customers_of("standard", {"items": [{"email": "a@example.com"}, 7]}, standard={"records": "items"})

    assert [(p.index, p.field) for p in caught.value.problems] == [(1, "record")]


def test_a_records_expression_that_finds_nothing_is_reported() -> None:
    with pytest.raises(InvalidPayload):
        customers_of("standard", {"data": {}}, standard={"records": "data.contacts"})
