"""What a person sees: content negotiation, redirects with reasons, and built-in pages that escape everything."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from nxbridge.endpoints import FormEndpoint, FormOptions
from nxbridge.sources.form_answers import FieldProblem, browser_answer, field_problems, wants_html
from tests.fixtures.ingest import endpoint_config

CHROME = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
SAFARI = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def options(**form: Any) -> FormOptions:
    config = endpoint_config("form", form=form)
    assert isinstance(config, FormEndpoint)
    return config.form


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (CHROME, True),
        (SAFARI, True),
        ("application/xhtml+xml", True),
        ("*/*", False),
        (None, False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html, application/json", False),
        ("text/html;q=0", False),
        ("text/html;q=bogus", False),
    ],
)
def test_only_clients_that_prefer_html_get_pages(accept: str | None, html: bool) -> None:
    assert wants_html(accept) is html


def test_success_redirects_with_303_to_the_configured_url_only() -> None:
    answer = browser_answer(202, {"accepted": 1}, options(success_url="https://www.example.com/thanks"), [])

    assert (answer.status, answer.headers["location"], answer.html) == (303, "https://www.example.com/thanks", "")


def test_a_duplicate_looks_like_a_success() -> None:
    answer = browser_answer(200, {"duplicate": True}, options(success_url="https://www.example.com/thanks"), [])

    assert answer.status == 303


def test_errors_redirect_with_the_code_and_field_pairs_appended_to_the_configured_query() -> None:
    problems = [FieldProblem("email", "invalid", "email"), FieldProblem("contact", "required", "contact")]

    answer = browser_answer(
        422, {"error": "validation_failed"}, options(error_url="https://ex.com/form?lang=es#top"), problems
    )

    location = urlsplit(answer.headers["location"])
    assert answer.status == 303
    assert (location.netloc, location.path, location.fragment) == ("ex.com", "/form", "top")
    assert parse_qsl(location.query) == [
        ("lang", "es"),
        ("error", "validation_failed"),
        ("email", "invalid"),
        ("contact", "required"),
    ]


def test_field_problems_use_form_names_codes_and_one_contact_problem() -> None:
    errors = [
        {"index": 0, "field": "sms_phone", "reason": "must contain digits only", "value": "***"},
        {"index": 0, "field": "whats_app_phone", "reason": "must contain digits only", "value": "***"},
        {"index": 0, "field": "email", "reason": "String should have at most 50 characters", "value": "***om"},
        {"index": 0, "field": "full_name", "reason": "Field required"},
        {"index": 0, "field": "customer", "reason": "at least one of sms_phone, email is required"},
    ]
    labels = {"sms_phone": "tel", "whats_app_phone": "tel", "email": "mail"}

    problems = field_problems(errors, lambda target: labels.get(target, target))

    assert problems == [
        FieldProblem("tel", "invalid", "sms_phone"),
        FieldProblem("mail", "too_long", "email"),
        FieldProblem("contact", "required", "contact"),
    ]


def test_the_built_in_thank_you_page_is_a_small_safe_html_page() -> None:
    answer = browser_answer(202, {"accepted": 1, "requestId": "r1"}, options(), [])

    assert answer.status == 200
    assert answer.html.startswith("<!doctype html>")
    assert "Thank you!" in answer.html
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"


def test_the_built_in_error_page_is_422_in_plain_words_with_everything_escaped() -> None:
    problems = [
        FieldProblem("<img src=x onerror=alert(1)>", "invalid", "email"),
        FieldProblem("tel", "invalid", "sms_phone"),
        FieldProblem("dob", "invalid", "birthday"),
        FieldProblem("message", "too_long", "remark"),
        FieldProblem("contact", "required", "contact"),
    ]
    body = {"error": "validation_failed", "requestId": "<script>"}

    answer = browser_answer(422, body, options(), problems)

    assert answer.status == 422
    assert "“&lt;img src=x onerror=alert(1)&gt;” is not a valid e-mail address." in answer.html
    assert "“tel” is not a valid phone number." in answer.html
    assert "“dob” must be a date like 1990-04-18." in answer.html
    assert "“message” is too long." in answer.html
    assert "Please give an e-mail address or a phone number." in answer.html
    assert "Reference: &lt;script&gt;" in answer.html
    assert "<img" not in answer.html and "<script>" not in answer.html


@pytest.mark.parametrize(
    ("status", "code", "words"),
    [
        (422, "fill_time_rejected", "wait a few seconds and send it again"),
        (413, "payload_too_large", "too large"),
        (503, "queue_unavailable", "try again in a minute"),
        (500, "something_new", "could not be sent"),
    ],
)
def test_other_errors_keep_their_status_on_the_built_in_page(status: int, code: str, words: str) -> None:
    answer = browser_answer(status, {"error": code, "requestId": "r1"}, options(), [])

    assert answer.status == status
    assert words in answer.html
