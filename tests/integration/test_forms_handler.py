"""Browser forms through IngestFunction (moto): redirects and built-in pages, CORS, spam defences, size limits."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from nxbridge.forms.spam import issue_fill_token
from tests.fixtures.forms import (
    SITE,
    TOKEN_KEY,
    TYPICAL_FORM,
    browser_event,
    form_endpoints,
    form_sample,
    query_of,
)
from tests.fixtures.ingest import FIXED_NOW, IngestStack, Invoke, documented_secrets, load_event, response_body

SUCCESS_URL = "https://www.example.com/thanks"
ERROR_URL = "https://www.example.com/contact?step=2#form"


def metric_reasons(capfd: pytest.CaptureFixture[str]) -> list[str]:
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if '"_aws"' in line]
    return [m["reason"] for m in lines if "WebhooksRejected" in m]


def customer(stack: IngestStack) -> dict[str, Any]:
    queued = stack.queued()
    assert len(queued) == 1, queued
    found: dict[str, Any] = queued[0]["customer"]
    return found


# --- redirects and built-in pages ------------------------------------------------------------------------------


def test_a_browser_post_is_redirected_to_the_success_url_and_queued(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    ingest_stack.put_endpoints(form_endpoints(success_url=SUCCESS_URL, error_url=ERROR_URL))

    result = ingest_handler(browser_event())

    assert result["statusCode"] == 303
    assert result["headers"]["location"] == SUCCESS_URL
    assert result["body"] == ""
    assert customer(ingest_stack)["full_name"] == "Lucía Fernández"


def test_without_a_success_url_a_browser_gets_the_built_in_thank_you_page(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    result = ingest_handler(browser_event())

    assert result["statusCode"] == 200
    assert result["headers"]["content-type"] == "text/html; charset=utf-8"
    assert "Thank you!" in result["body"]
    assert "script-src" not in result["headers"]["content-security-policy"]
    assert "default-src 'none'" in result["headers"]["content-security-policy"]
    assert customer(ingest_stack)["email"] == "lucia@example.es"


def test_field_errors_redirect_to_the_error_url_with_field_reason_pairs_and_no_values(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    ingest_stack.put_endpoints(form_endpoints(success_url=SUCCESS_URL, error_url=ERROR_URL))
    fields = [("name", "Ann"), ("email", "ann-at-example"), ("phone", "call me"), ("birthday", "31/12/1990")]

    result = ingest_handler(browser_event(fields))

    location = result["headers"]["location"]
    assert result["statusCode"] == 303
    assert location.startswith("https://www.example.com/contact?") and location.endswith("#form")
    assert query_of(location) == [
        ("step", "2"),
        ("error", "validation_failed"),
        ("phone", "invalid"),
        ("email", "invalid"),
        ("birthday", "invalid"),
    ]
    assert "ann-at-example" not in location and "call" not in location
    assert ingest_stack.depth() == 0


def test_a_form_without_any_contact_redirects_with_contact_required(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    ingest_stack.put_endpoints(form_endpoints(error_url=ERROR_URL))

    result = ingest_handler(browser_event([("message", "hi"), ("_gotcha", "")]))

    assert query_of(result["headers"]["location"])[1:] == [("error", "validation_failed"), ("contact", "required")]
    assert ingest_stack.depth() == 0


def test_the_built_in_error_page_lists_the_field_errors_in_plain_words_escaped(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    ingest_stack.put_endpoints(
        {"endpoints": {"contact": {"kind": "form", "secret": None, "mapping": {"email": "<b>mail</b>"}}}}
    )
    fields = [("name", "<script>alert(1)</script>"), ("<b>mail</b>", "not-an-address"), ("phone", "<i>x</i>")]

    result = ingest_handler(browser_event(fields))

    page = result["body"]
    assert result["statusCode"] == 422
    assert result["headers"]["content-type"] == "text/html; charset=utf-8"
    assert "“&lt;b&gt;mail&lt;/b&gt;” is not a valid e-mail address." in page
    assert "“phone” is not a valid phone number." in page
    assert "<script>" not in page and "<b>" not in page and "<i>" not in page
    assert "not-an-address" not in page
    assert ingest_stack.depth() == 0


def test_other_errors_give_a_browser_a_page_with_their_status_and_a_reference(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    result = ingest_handler(browser_event(b"a=%FF", request_id="unreadable"))

    assert result["statusCode"] == 400
    assert "The form could not be read." in result["body"]
    assert "Reference: unreadable" in result["body"]


def test_other_errors_redirect_to_the_error_url_with_their_code(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    ingest_stack.put_endpoints(form_endpoints(error_url=ERROR_URL))

    result = ingest_handler(browser_event(b"a=%FF"))

    assert result["statusCode"] == 303
    assert query_of(result["headers"]["location"])[1:] == [("error", "malformed_body")]


def test_fetch_and_api_clients_keep_the_json_answers(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    ingest_stack.put_endpoints(form_endpoints(success_url=SUCCESS_URL))

    accepted = ingest_handler(browser_event(accept="*/*"))
    invalid = ingest_handler(browser_event([("email", "nope")], accept="application/json", request_id="r2"))

    assert accepted["statusCode"] == 202
    assert response_body(accepted) == {"accepted": 1, "requestId": "form-request-1"}
    assert accepted["headers"]["content-type"] == "application/json"
    assert invalid["statusCode"] == 422
    assert response_body(invalid)["error"] == "validation_failed"
    assert response_body(invalid)["errors"] == [
        {"index": 0, "field": "email", "reason": "is not an e-mail address", "value": "***"}
    ]
    assert response_body(invalid)["fields"] == {"email": "invalid"}


def test_a_duplicate_browser_post_looks_like_success_and_is_queued_once(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    ingest_stack.put_endpoints(form_endpoints(success_url=SUCCESS_URL))
    keyed = {"idempotency-key": "submission-42"}

    first = ingest_handler(browser_event(headers=keyed, request_id="first"))
    again = ingest_handler(browser_event(headers=keyed, request_id="again"))

    assert (first["statusCode"], again["statusCode"]) == (303, 303)
    assert again["headers"]["location"] == SUCCESS_URL
    assert len(ingest_stack.queued()) == 1


def test_a_signed_server_side_form_keeps_its_401_as_a_page_for_a_browser(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    result = ingest_handler(browser_event(endpoint="form"))

    assert result["statusCode"] == 401
    assert "This form is not set up to send here." in result["body"]
    assert ingest_stack.depth() == 0


# --- CORS ------------------------------------------------------------------------------------------------------


def test_a_preflight_from_an_allowed_origin_is_answered_204_with_the_cors_headers(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = browser_event(
        b"", method="OPTIONS", accept=None, content_type=None, headers={"access-control-request-method": "POST"}
    )

    result = ingest_handler(event)

    headers = result["headers"]
    assert result["statusCode"] == 204
    assert result["body"] == ""
    assert headers["access-control-allow-origin"] == SITE
    assert headers["access-control-allow-methods"] == "POST"
    assert headers["access-control-allow-headers"] == "content-type, idempotency-key"
    assert headers["access-control-max-age"] == "600"
    assert headers["vary"] == "Origin"
    assert "access-control-allow-credentials" not in headers


def test_a_signed_form_endpoint_allows_its_secret_header_and_credentials_when_configured(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    document = form_endpoints()
    document["endpoints"]["form"]["form"] = {"allowed_origins": [SITE], "allow_credentials": True}
    ingest_stack.put_endpoints(document)

    result = ingest_handler(browser_event(b"", endpoint="form", method="OPTIONS", accept=None, content_type=None))

    assert result["statusCode"] == 204
    assert result["headers"]["access-control-allow-headers"] == "content-type, idempotency-key, x-webhook-secret"
    assert result["headers"]["access-control-allow-origin"] == SITE
    assert result["headers"]["access-control-allow-credentials"] == "true"


def test_a_preflight_from_another_origin_gets_403_and_no_allow_origin(
    ingest_handler: Invoke, ingest_stack: IngestStack, capfd: pytest.CaptureFixture[str]
) -> None:
    event = browser_event(b"", method="OPTIONS", origin="https://evil.example", accept=None, content_type=None)

    result = ingest_handler(event)

    assert result["statusCode"] == 403
    assert not any(name.startswith("access-control-") for name in result["headers"])
    assert result["headers"]["vary"] == "Origin"
    assert metric_reasons(capfd) == ["origin_not_allowed"]


def test_posts_carry_the_allow_origin_only_for_allowed_origins(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    allowed = ingest_handler(browser_event(accept="*/*"))
    other = ingest_handler(browser_event(accept="*/*", origin="https://evil.example", request_id="r2"))
    page = ingest_handler(browser_event(request_id="r3"))

    assert allowed["headers"]["access-control-allow-origin"] == SITE
    assert "access-control-allow-origin" not in other["headers"]
    assert other["headers"]["vary"] == "Origin"
    assert page["headers"]["access-control-allow-origin"] == SITE
    # CORS decides what a page's script may read; the posts themselves were taken.
    assert len(ingest_stack.queued()) == 3


def test_an_options_request_without_origin_is_no_preflight_and_says_what_the_route_takes(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    result = ingest_handler(browser_event(b"", method="OPTIONS", origin=None, accept=None, content_type=None))

    assert result["statusCode"] == 204
    assert result["headers"]["allow"] == "OPTIONS, POST"
    assert not any(name.startswith("access-control-") for name in result["headers"])


def test_preflights_and_gets_on_other_kinds_are_still_405(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    preflight = ingest_handler(browser_event(b"", endpoint="shopify", method="OPTIONS", content_type=None))
    token = ingest_handler(browser_event(b"", endpoint="shopify", method="GET", content_type=None))

    assert (preflight["statusCode"], token["statusCode"]) == (405, 405)
    assert "access-control-allow-origin" not in preflight["headers"]


# --- spam defences ---------------------------------------------------------------------------------------------


def test_a_filled_honeypot_looks_like_success_queues_nothing_and_is_counted(
    ingest_handler: Invoke, ingest_stack: IngestStack, capfd: pytest.CaptureFixture[str]
) -> None:
    ingest_stack.put_endpoints(form_endpoints(success_url=SUCCESS_URL))
    bot = [*TYPICAL_FORM[:-1], ("_gotcha", "http://spam.example")]

    browser = ingest_handler(browser_event(bot))
    script = ingest_handler(browser_event(bot, accept="*/*", request_id="r2"))

    assert (browser["statusCode"], browser["headers"]["location"]) == (303, SUCCESS_URL)
    assert (script["statusCode"], response_body(script)) == (202, {"accepted": 1, "requestId": "r2"})
    assert ingest_stack.depth() == 0
    assert metric_reasons(capfd) == ["honeypot", "honeypot"]


def test_the_honeypot_field_name_is_configurable(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    ingest_stack.put_endpoints(form_endpoints(honeypot_field="url_confirm"))

    old_name = ingest_handler(browser_event([*TYPICAL_FORM, ("_gotcha", "x")], accept="*/*"))
    new_name = ingest_handler(browser_event([*TYPICAL_FORM, ("url_confirm", "x")], accept="*/*", request_id="r2"))

    assert (old_name["statusCode"], new_name["statusCode"]) == (202, 202)
    assert ingest_stack.depth() == 1


def _timed_endpoints(ingest_stack: IngestStack, **form: Any) -> None:
    ingest_stack.put_secrets({**documented_secrets(), "contact-token": TOKEN_KEY})
    ingest_stack.put_endpoints(form_endpoints(min_fill_seconds=3, fill_token_secret="contact-token", **form))


def _token_from_the_bridge(ingest_handler: Invoke, at: dt.datetime) -> dict[str, Any]:
    result = ingest_handler(browser_event(b"", method="GET", accept="*/*", content_type=None, at=at))
    assert result["statusCode"] == 200
    assert result["headers"]["cache-control"] == "no-store"
    assert result["headers"]["access-control-allow-origin"] == SITE
    return response_body(result)


def test_a_fill_token_from_the_bridge_lets_a_post_through_after_the_minimum_fill_time(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    _timed_endpoints(ingest_stack)
    issued = _token_from_the_bridge(ingest_handler, FIXED_NOW)

    later = FIXED_NOW + dt.timedelta(seconds=4)
    result = ingest_handler(browser_event([*TYPICAL_FORM, (issued["field"], issued["token"])], at=later))

    assert issued["field"] == "_fill_token" and issued["minFillSeconds"] == 3
    assert result["statusCode"] == 200 and "Thank you!" in result["body"]
    assert "_fill_token" not in json.dumps(customer(ingest_stack))


@pytest.mark.parametrize(
    ("token", "age_seconds", "reason"),
    [
        ("bridge", 1, "fill_time_too_fast"),
        ("bridge", 86_401, "fill_time_expired"),
        (None, 60, "fill_time_missing"),
        ("forged", 60, "fill_time_invalid"),
        ("other-endpoint", 60, "fill_time_invalid"),
    ],
)
def test_fill_time_failures_are_rejected_alike_counted_by_reason_and_queue_nothing(
    token: str | None,
    age_seconds: int,
    reason: str,
    ingest_handler: Invoke,
    ingest_stack: IngestStack,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _timed_endpoints(ingest_stack, error_url=ERROR_URL)
    tokens = {
        "bridge": _token_from_the_bridge(ingest_handler, FIXED_NOW)["token"],
        "forged": issue_fill_token("not-the-key", "contact", FIXED_NOW),
        "other-endpoint": issue_fill_token(TOKEN_KEY, "form", FIXED_NOW),
    }
    fields = [*TYPICAL_FORM, *([("_fill_token", tokens[token])] if token else [])]
    at = FIXED_NOW + dt.timedelta(seconds=age_seconds)

    browser = ingest_handler(browser_event(fields, at=at))
    script = ingest_handler(browser_event(fields, at=at, accept="application/json", request_id="r2"))

    assert browser["statusCode"] == 303
    assert query_of(browser["headers"]["location"])[1:] == [("error", "fill_time_rejected")]
    assert script["statusCode"] == 422
    assert {k: v for k, v in response_body(script).items() if k != "message"} == {
        "error": "fill_time_rejected",
        "requestId": "r2",
    }
    assert ingest_stack.depth() == 0
    assert metric_reasons(capfd) == [reason, reason]


def test_a_too_fast_person_sees_a_page_that_says_to_wait_and_send_again(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    _timed_endpoints(ingest_stack)
    token = issue_fill_token(TOKEN_KEY, "contact", FIXED_NOW)

    result = ingest_handler(browser_event([*TYPICAL_FORM, ("_fill_token", token)]))

    assert result["statusCode"] == 422
    assert "wait a few seconds and send it again" in result["body"]


def test_a_missing_fill_token_key_is_a_configuration_error_not_a_rejected_visitor(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    ingest_stack.put_endpoints(form_endpoints(min_fill_seconds=3, fill_token_secret="nowhere"))

    post = ingest_handler(browser_event(accept="*/*"))
    token = ingest_handler(browser_event(b"", method="GET", accept="*/*", content_type=None))

    assert (post["statusCode"], token["statusCode"]) == (503, 503)
    assert response_body(post)["error"] == "config_unavailable"


def test_a_fill_token_key_added_after_the_secrets_were_cached_is_found_at_once(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    ingest_stack.put_endpoints(form_endpoints(min_fill_seconds=3, fill_token_secret="contact-token"))
    assert ingest_handler(load_event("form"))["statusCode"] == 202  # the secrets document is now cached
    ingest_stack.put_secrets({**documented_secrets(), "contact-token": TOKEN_KEY})

    result = ingest_handler(browser_event(b"", method="GET", accept="*/*", content_type=None))

    assert result["statusCode"] == 200
    token = response_body(result)["token"]
    assert token == issue_fill_token(TOKEN_KEY, "contact", FIXED_NOW)


def test_endpoints_without_a_minimum_fill_time_issue_no_token(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    result = ingest_handler(browser_event(b"", method="GET", accept="*/*", content_type=None))

    assert result["statusCode"] == 404
    assert response_body(result)["error"] == "no_fill_token"


def test_the_endpoint_size_limit_answers_413_and_a_page_to_a_browser(
    ingest_handler: Invoke, ingest_stack: IngestStack, capfd: pytest.CaptureFixture[str]
) -> None:
    ingest_stack.put_endpoints(form_endpoints(max_body_bytes=2048))
    big = [*TYPICAL_FORM, ("message", "x" * 2100)]

    script = ingest_handler(browser_event(big, accept="*/*"))
    browser = ingest_handler(browser_event(big, request_id="r2"))

    assert script["statusCode"] == 413
    assert response_body(script)["error"] == "payload_too_large"
    assert browser["statusCode"] == 413
    assert "The form is too large" in browser["body"]
    assert ingest_stack.depth() == 0
    assert metric_reasons(capfd) == ["payload_too_large", "payload_too_large"]


# --- samples ---------------------------------------------------------------------------------------------------


def test_the_browser_samples_are_answered_as_a_browser_and_a_fetch_expect(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    page = ingest_handler(form_sample("form-browser-urlencoded"))
    fetched = ingest_handler(form_sample("form-fetch-multipart"))

    assert page["statusCode"] == 200 and "Thank you!" in page["body"]
    assert fetched["statusCode"] == 202
    assert fetched["headers"]["access-control-allow-origin"] == SITE
    customers = {c["customer"]["email"]: c["customer"] for c in ingest_stack.queued()}
    assert customers == {
        "lucia.fernandez@example.es": {
            "full_name": "Lucía Fernández",
            "email": "lucia.fernandez@example.es",
            "sms_phone": "34622123456",
            "whats_app_phone": "34622123456",
            "remark": "¿Hacéis envíos a Canarias?",
            "tagStr": "website",
            "customize_field": '{"company":"Panadería Lucía"}',
        },
        "jan.kowalski@example.pl": {
            "full_name": "Jan Kowalski",
            "first_name": "Jan",
            "last_name": "Kowalski",
            "email": "jan.kowalski@example.pl",
            "sms_phone": "48601234567",
            "whats_app_phone": "48601234567",
            "remark": "Proszę o ofertę dla 3 sklepów.",
            "tagStr": "newsletter,events,website",
        },
    }
