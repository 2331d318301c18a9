"""CORS per form endpoint: an origin allowlist, echoed origins, never a wildcard with credentials."""

from __future__ import annotations

from typing import Any

from nxbridge.endpoints import FormEndpoint
from nxbridge.forms import FormOptions
from nxbridge.forms.cors import allowed_origin, preflight_headers, response_headers
from tests.fixtures.ingest import endpoint_config

SITE = "https://www.example.com"


def options(**form: Any) -> FormOptions:
    config = endpoint_config("form", form=form)
    assert isinstance(config, FormEndpoint)
    return config.form


def test_an_allowed_origin_is_echoed_and_others_get_nothing() -> None:
    allowlist = options(allowed_origins=[SITE, "http://localhost:8000"])

    assert allowed_origin(SITE, allowlist) == SITE
    assert allowed_origin("HTTPS://WWW.EXAMPLE.COM", allowlist) == SITE
    assert allowed_origin("http://localhost:8000", allowlist) == "http://localhost:8000"
    assert allowed_origin("https://example.com", allowlist) is None
    assert allowed_origin("https://www.example.com.evil.test", allowlist) is None
    assert allowed_origin("null", allowlist) is None
    assert allowed_origin(None, allowlist) is None


def test_no_allowlist_allows_no_origin() -> None:
    assert allowed_origin(SITE, options()) is None
    assert response_headers(SITE, options()) == {"vary": "Origin"}


def test_the_wildcard_answers_any_origin_with_a_literal_star() -> None:
    assert allowed_origin("https://anyone.test", options(allowed_origins=["*"])) == "*"


def test_credentials_are_announced_with_the_echoed_origin_only() -> None:
    headers = response_headers(SITE, options(allowed_origins=[SITE], allow_credentials=True))

    assert headers == {
        "vary": "Origin",
        "access-control-allow-origin": SITE,
        "access-control-allow-credentials": "true",
    }


def test_a_preflight_lists_post_the_headers_and_the_max_age_or_is_refused() -> None:
    allowlist = options(allowed_origins=[SITE], cors_max_age_seconds=7200)

    allowed = preflight_headers(SITE, allowlist, ["content-type", "idempotency-key"])
    refused = preflight_headers("https://other.test", allowlist, ["content-type"])

    assert allowed == {
        "vary": "Origin",
        "access-control-allow-origin": SITE,
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "content-type, idempotency-key",
        "access-control-max-age": "7200",
    }
    assert refused is None
