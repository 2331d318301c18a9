"""What a person sees: content negotiation, redirects with reasons, and built-in pages that escape everything."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from nxbridge.endpoints import Endpoint, FormEndpoint
from nxbridge.forms import FormOptions
from nxbridge.forms.answers import FieldProblem, browser_answer, field_problems, wants_html
from nxbridge.forms.gate import FormGate
from nxbridge.ingest.answers import respond
from nxbridge.outcomes import Duplicate
from nxbridge.rejections import (
    FieldIssue,
    FillTimeRejected,
    NotQueued,
    PayloadTooLarge,
    Rejection,
    ValidationFailed,
)
from nxbridge.sources import WebhookRequest
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


class _Unforeseen(Rejection):
    status = 500
    code = "something_new"


class _NoSecrets:
    def get(self, name: str, *, refresh: bool = False) -> tuple[str, ...] | None:
        return None


def test_success_redirects_with_303_to_the_configured_url_only() -> None:
    answer = browser_answer(None, options(success_url="https://www.example.com/thanks"), problems=[], request_id="r1")

    assert (answer.status, answer.headers["location"], answer.html) == (303, "https://www.example.com/thanks", "")


def test_a_duplicate_looks_like_a_success() -> None:
    config = endpoint_config("form", form={"success_url": "https://www.example.com/thanks"})
    request = WebhookRequest("test", "POST", {"accept": "text/html"}, b"", "r1", dt.datetime.now(dt.UTC))

    answer = FormGate(_NoSecrets()).answer(request, Endpoint("test", config), respond(request, Duplicate()))

    assert answer.status == 303


def test_errors_redirect_with_the_code_and_field_pairs_appended_to_the_configured_query() -> None:
    problems = [FieldProblem("email", "invalid", "email"), FieldProblem("contact", "required", "contact")]

    answer = browser_answer(
        ValidationFailed([]), options(error_url="https://ex.com/form?lang=es#top"), problems=problems, request_id="r1"
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
        FieldIssue("sms_phone", "must contain digits only", 0, "***", "value_error"),
        FieldIssue("whats_app_phone", "must contain digits only", 0, "***", "value_error"),
        FieldIssue("email", "String should have at most 50 characters", 0, "***om", "string_too_long"),
        FieldIssue("full_name", "Field required", 0, None, "missing"),
        FieldIssue("customer", "at least one of sms_phone, email is required", 0, None, "value_error"),
    ]
    labels = {"sms_phone": "tel", "whats_app_phone": "tel", "email": "mail"}

    problems = field_problems(errors, lambda target: labels.get(target, target))

    assert problems == [
        FieldProblem("tel", "invalid", "sms_phone"),
        FieldProblem("mail", "too_long", "email"),
        FieldProblem("contact", "required", "contact"),
    ]


def test_the_built_in_thank_you_page_is_a_small_safe_html_page() -> None:
    answer = browser_answer(None, options(), problems=[], request_id="r1")

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
    answer = browser_answer(ValidationFailed([]), options(), problems=problems, request_id="<script>")

    assert answer.status == 422
    assert "“&lt;img src=x onerror=alert(1)&gt;” is not a valid e-mail address." in answer.html
    assert "“tel” is not a valid phone number." in answer.html
    assert "“dob” must be a date like 1990-04-18." in answer.html
    assert "“message” is too long." in answer.html
    assert "Please give an e-mail address or a phone number." in answer.html
    assert "Reference: &lt;script&gt;" in answer.html
    assert "<img" not in answer.html and "<script>" not in answer.html


@pytest.mark.parametrize(
    ("status", "rejection", "words"),
    [
        (422, FillTimeRejected("fill_time_too_fast"), "wait a few seconds and send it again"),
        (413, PayloadTooLarge(2048), "too large"),
        (503, NotQueued(), "try again in a minute"),
        (500, _Unforeseen(), "could not be sent"),
    ],
)
def test_other_errors_keep_their_status_on_the_built_in_page(status: int, rejection: Rejection, words: str) -> None:
    answer = browser_answer(rejection, options(), problems=[], request_id="r1")

    assert answer.status == status
    assert words in answer.html
