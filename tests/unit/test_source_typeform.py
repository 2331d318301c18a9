"""Typeform form_response: answers joined to the definition, typed values, mapping by ref, id or hidden field."""

from __future__ import annotations

from typing import Any

import pytest

from nxbridge.sources import Ignored, MalformedPayload, source_for
from nxbridge.sources.verify import base64_hmac
from tests.fixtures.ingest import customers_of, endpoint_config, outcome_of, webhook_request


def field(field_id: str, ref: str, kind: str) -> dict[str, Any]:
    return {"id": field_id, "title": ref, "type": kind, "ref": ref}


# The shape of Typeform's published example payload: answers name their field by id (no ref).
EXAMPLE: dict[str, Any] = {
    "event_id": "LtWXD3crgy",
    "event_type": "form_response",
    "form_response": {
        "form_id": "lT4Z3j",
        "token": "a3a12ec67a1365927098a606107fac15",
        "submitted_at": "2018-01-18T18:17:02Z",
        "landed_at": "2018-01-18T18:07:02Z",
        "calculated": {"score": 9},
        "variables": [
            {"key": "score", "type": "number", "number": 4},
            {"key": "name", "type": "text", "text": "typeform"},
        ],
        "hidden": {"user_id": "abc123456"},
        "definition": {
            "id": "lT4Z3j",
            "title": "Webhooks example",
            "fields": [
                field("DlXFaesGBpoF", "readable_ref_long_text", "long_text"),
                field("SMEUb7VJz92Q", "readable_ref_email", "email"),
                field("JwWggjAKtOkA", "readable_ref_short_text", "short_text"),
                field("KoJxDM3c6x8h", "readable_ref_date", "date"),
                field("PNe8ZKBK8C2Q", "readable_ref_picture_choice", "picture_choice"),
                field("Q7M2XAwY04dW", "readable_ref_number1", "number"),
                field("gFFf3xAkJKsr", "readable_ref_legal", "legal"),
                field("k6TP9oLGgHjl", "readable_ref_multiple_choice", "multiple_choice"),
                field("PhOnE0000001", "readable_ref_phone", "phone_number"),
            ],
        },
        "answers": [
            {"type": "text", "text": "It's cold right now!", "field": {"id": "DlXFaesGBpoF", "type": "long_text"}},
            {"type": "email", "email": "laura@example.com", "field": {"id": "SMEUb7VJz92Q", "type": "email"}},
            {"type": "text", "text": "Laura", "field": {"id": "JwWggjAKtOkA", "type": "short_text"}},
            {"type": "date", "date": "2005-10-15", "field": {"id": "KoJxDM3c6x8h", "type": "date"}},
            {
                "type": "choices",
                "choices": {"labels": ["London", "Sydney"]},
                "field": {"id": "PNe8ZKBK8C2Q", "type": "picture_choice"},
            },
            {"type": "number", "number": 5, "field": {"id": "Q7M2XAwY04dW", "type": "number"}},
            {"type": "boolean", "boolean": True, "field": {"id": "gFFf3xAkJKsr", "type": "legal"}},
            {
                "type": "choice",
                "choice": {"label": "London"},
                "field": {"id": "k6TP9oLGgHjl", "type": "multiple_choice"},
            },
            {
                "type": "phone_number",
                "phone_number": "+15551234567",
                "field": {"id": "PhOnE0000001", "type": "phone_number", "ref": "readable_ref_phone"},
            },
        ],
    },
}


def test_without_a_mapping_the_email_and_phone_answers_make_the_customer() -> None:
    assert customers_of("typeform", EXAMPLE) == [
        {
            "full_name": "laura@example.com",
            "email": "laura@example.com",
            "sms_phone": "15551234567",
            "whats_app_phone": "15551234567",
        }
    ]


def test_refs_from_the_definition_name_answers_that_carry_only_a_field_id() -> None:
    mapping = {
        "first_name": "readable_ref_short_text",
        "birthday": "readable_ref_date",
        "tagStr": "readable_ref_picture_choice",
        "address": "readable_ref_multiple_choice",
        "remark": "DlXFaesGBpoF",
    }

    [customer] = customers_of("typeform", EXAMPLE, mapping=mapping)

    assert customer["full_name"] == "Laura"
    assert customer["first_name"] == "Laura"
    assert customer["birthday"] == "2005-10-15"
    assert customer["tagStr"] == "London,Sydney"
    assert customer["address"] == "London"
    assert customer["remark"] == "It's cold right now!"


def test_hidden_fields_and_variables_can_be_mapped() -> None:
    mapping = {"customize_field.customize_1_14": "hidden.user_id", "weight": "variables.score"}

    [customer] = customers_of("typeform", EXAMPLE, mapping=mapping)

    assert customer["customize_field"] == '{"customize_1_14":"abc123456"}'
    assert customer["weight"] == 4


def test_a_number_answer_mapped_to_a_text_field_becomes_text() -> None:
    [customer] = customers_of("typeform", EXAMPLE, mapping={"remark": "readable_ref_number1"})

    assert customer["remark"] == "5"


def test_an_other_choice_answer_gives_its_text() -> None:
    payload: dict[str, Any] = {
        "event_id": "e1",
        "event_type": "form_response",
        "form_response": {
            "definition": {"fields": []},
            "answers": [
                {"type": "email", "email": "a@example.com", "field": {"id": "e", "type": "email", "ref": "email"}},
                {
                    "type": "choice",
                    "choice": {"other": "Lisbon"},
                    "field": {"id": "c", "type": "dropdown", "ref": "city"},
                },
            ],
        },
    }

    [customer] = customers_of("typeform", payload, mapping={"address": "city"})

    assert customer["address"] == "Lisbon"


def test_partial_responses_are_ignored_unless_configured() -> None:
    partial = dict(EXAMPLE, event_type="form_response_partial")

    assert isinstance(outcome_of("typeform", partial), Ignored)
    assert isinstance(
        outcome_of("typeform", partial, typeform={"event_types": ["form_response", "form_response_partial"]}), list
    )


def test_a_form_response_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedPayload):
        customers_of("typeform", {"event_id": "x", "event_type": "form_response", "form_response": []})


def test_the_signature_is_sha256_prefixed_base64_and_the_event_id_is_the_delivery_id() -> None:
    body = b'{"event_id":"LtWXD3crgy","event_type":"form_response"}'
    request = webhook_request(body, {"Typeform-Signature": "sha256=" + base64_hmac("tf-secret", body)})
    bare = webhook_request(body, {"Typeform-Signature": base64_hmac("tf-secret", body)})
    source = source_for("typeform")
    config = endpoint_config("typeform")

    assert source.verify(request, ["tf-secret"], config, request.received_at)
    assert not source.verify(bare, ["tf-secret"], config, request.received_at)
    assert source.delivery_id(request, source.parse(request, config), config) == "LtWXD3crgy"


def test_answers_and_definitions_of_unexpected_shapes_are_skipped() -> None:
    payload: dict[str, Any] = {
        "event_id": "e3",
        "event_type": "form_response",
        "form_response": {
            "definition": {"fields": 5},
            "answers": [
                {"type": "email", "email": "a@example.com", "field": {"id": ["not", "an", "id"], "ref": {"x": 1}}},
                "not an answer",
                {"type": "choices", "choices": {"labels": 7}, "field": {"id": "c", "ref": "tags"}},
            ],
            "variables": "none",
        },
    }

    [customer] = customers_of("typeform", payload, mapping={"tagStr": "tags"})

    assert customer == {"full_name": "a@example.com", "email": "a@example.com"}
