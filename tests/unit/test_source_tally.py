"""Tally FORM_RESPONSE: fields by key or label, option ids resolved to option texts."""

from __future__ import annotations

from typing import Any

import pytest

from nxbridge.sources import Ignored, MalformedPayload, source_for
from nxbridge.sources.verify import base64_hmac
from tests.fixtures.ingest import customers_of, endpoint_config, outcome_of, webhook_request

SWIMMING = "cb33303b-4e9d-4bb3-8b51-f16acbf573fe"
SKIING = "b42d4e8c-bdb6-4c82-b749-906706c251ff"
SOCCER = "9bbb6bd7-1e3b-4e48-b4b9-a221d5aad87e"


def tally_field(key: str, label: str, kind: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"key": key, "label": label, "type": kind, "value": value, **extra}


# The shape of Tally's published example event (help center, "Webhooks").
EXAMPLE: dict[str, Any] = {
    "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
    "eventType": "FORM_RESPONSE",
    "createdAt": "2023-06-28T15:00:21.889Z",
    "data": {
        "responseId": "2wgx4n",
        "submissionId": "2wgx4n",
        "respondentId": "dwQKYm",
        "formId": "VwbNEw",
        "formName": "Webhook payload",
        "createdAt": "2023-06-28T15:00:21.000Z",
        "fields": [
            tally_field("question_mVGEg3_8b5711e3", "utm_campaign", "HIDDEN_FIELDS", "newsletter"),
            tally_field("question_3EKz4n", "Text", "INPUT_TEXT", "Hello"),
            tally_field("question_nr5yNw", "Number", "INPUT_NUMBER", 10),
            tally_field("question_w4Q4Xn", "Email", "INPUT_EMAIL", "alice@example.com"),
            tally_field("question_3jZaa3", "Phone number", "INPUT_PHONE_NUMBER", "+32491223344"),
            tally_field("question_3xrXrn", "Date", "INPUT_DATE", "2023-06-28"),
            tally_field(
                "question_3qL4Gm",
                "Multiple choice",
                "MULTIPLE_CHOICE",
                ["e7bfbbc6-c2e6-4821-8670-72ed1cb31cd5"],
                options=[
                    {"id": "ec321dc4-b50d-4270-8df0-0e38c898762a", "text": "Not started"},
                    {"id": "e7bfbbc6-c2e6-4821-8670-72ed1cb31cd5", "text": "In progress"},
                ],
            ),
            tally_field(
                "question_wQ1K7w",
                "Checkboxes",
                "CHECKBOXES",
                [SWIMMING, SKIING],
                options=[
                    {"id": SOCCER, "text": "Soccer"},
                    {"id": SWIMMING, "text": "Swimming"},
                    {"id": SKIING, "text": "Skiing"},
                ],
            ),
            tally_field(f"question_wQ1K7w_{SOCCER}", "Checkboxes (Soccer)", "CHECKBOXES", False),
            tally_field(f"question_wQ1K7w_{SWIMMING}", "Checkboxes (Swimming)", "CHECKBOXES", True),
            tally_field(f"question_wQ1K7w_{SKIING}", "Checkboxes (Skiing)", "CHECKBOXES", True),
            tally_field("question_wa9QBw_name", "Payment (name)", "PAYMENT", "Alice Smith"),
            tally_field(
                "question_nW2ONw",
                "File upload",
                "FILE_UPLOAD",
                [{"id": "5mDNqw", "name": "Tally_Icon.png", "url": "https://storage.example/Tally_Icon.png"}],
            ),
        ],
    },
}


def test_without_a_mapping_the_email_and_phone_fields_make_the_customer() -> None:
    assert customers_of("tally", EXAMPLE) == [
        {
            "full_name": "alice@example.com",
            "email": "alice@example.com",
            "sms_phone": "32491223344",
            "whats_app_phone": "32491223344",
        }
    ]


def test_fields_are_mapped_by_label_or_key_and_options_become_their_texts() -> None:
    mapping = {
        "full_name": "Payment (name)",
        "tagStr": "question_wQ1K7w",
        "remark": "multiple choice",
        "birthday": "Date",
        "customize_field.utm_campaign": "utm_campaign",
    }

    [customer] = customers_of("tally", EXAMPLE, mapping=mapping)

    assert customer["full_name"] == "Alice Smith"
    assert customer["tagStr"] == "Swimming,Skiing"
    assert customer["remark"] == "In progress"
    assert customer["birthday"] == "2023-06-28"
    assert customer["customize_field"] == '{"utm_campaign":"newsletter"}'


def test_a_single_option_id_value_is_resolved_too() -> None:
    payload = {
        "eventId": "e2",
        "eventType": "FORM_RESPONSE",
        "data": {
            "fields": [
                tally_field("q1", "Email", "INPUT_EMAIL", "bob@example.com"),
                tally_field("q2", "Country", "DROPDOWN", "opt-be", options=[{"id": "opt-be", "text": "Belgium"}]),
            ]
        },
    }

    [customer] = customers_of("tally", payload, mapping={"country": "Country"})

    assert customer["country"] == "Belgium"


def test_uploads_are_mapped_as_their_urls() -> None:
    [customer] = customers_of("tally", EXAMPLE, mapping={"remark": "File upload"})

    assert customer["remark"] == "https://storage.example/Tally_Icon.png"


def test_other_event_types_are_ignored_and_missing_fields_are_malformed() -> None:
    assert isinstance(outcome_of("tally", dict(EXAMPLE, eventType="FORM_DELETED")), Ignored)
    with pytest.raises(MalformedPayload):
        customers_of("tally", {"eventId": "x", "eventType": "FORM_RESPONSE", "data": {}})


def test_the_signature_is_plain_base64_hmac_and_the_event_id_is_the_delivery_id() -> None:
    body = b'{"eventId":"a4cb511e-d513-4fa5-baee-b815d718dfd1","eventType":"FORM_RESPONSE"}'
    request = webhook_request(body, {"Tally-Signature": base64_hmac("tally-secret", body)})
    source = source_for("tally")
    config = endpoint_config("tally")

    assert source.verify(request, ["tally-secret"], config, request.received_at)
    assert source.delivery_id(request, source.parse(request, config), config) == "a4cb511e-d513-4fa5-baee-b815d718dfd1"
