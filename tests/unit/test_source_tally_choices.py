"""Tally choice answers are lists even for one option: a single choice maps to scalar fields (gender, weight)."""

from __future__ import annotations

from typing import Any

from tests.fixtures.ingest import customers_of


def tally_response(*fields: dict[str, Any]) -> dict[str, Any]:
    """A FORM_RESPONSE event as Tally sends it (abridged to the fields given, plus an e-mail)."""
    return {
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
                {"key": "question_w4Q4Xn", "label": "Email", "type": "INPUT_EMAIL", "value": "alice@example.com"},
                *fields,
            ],
        },
    }


GENDER = {
    "key": "question_mRO6Ql",
    "label": "Gender",
    "type": "MULTIPLE_CHOICE",
    "value": ["g2"],
    "options": [{"id": "g1", "text": "Male"}, {"id": "g2", "text": "Female"}],
}
LEVEL = {
    "key": "question_w4XAZN",
    "label": "Level",
    "type": "DROPDOWN",
    "value": ["o3"],
    "options": [{"id": "o1", "text": "1"}, {"id": "o3", "text": "3"}, {"id": "o5", "text": "5"}],
}
TOPICS = {
    "key": "question_wMbN7d",
    "label": "Topics",
    "type": "CHECKBOXES",
    "value": ["t2"],
    "options": [{"id": "t1", "text": "News"}, {"id": "t2", "text": "Events"}],
}


def test_a_multiple_choice_maps_to_gender_and_a_dropdown_to_weight() -> None:
    customers = customers_of("tally", tally_response(GENDER, LEVEL), mapping={"gender": "Gender", "weight": "Level"})

    assert customers == [{"full_name": "alice@example.com", "email": "alice@example.com", "gender": 0, "weight": 3}]


def test_a_single_checked_box_still_maps_to_tags_and_a_choice_to_text() -> None:
    customers = customers_of("tally", tally_response(TOPICS, LEVEL), mapping={"tagStr": "Topics", "remark": "Level"})

    assert customers[0]["tagStr"] == "Events"
    assert customers[0]["remark"] == "3"
