"""The ``form`` options block: what a configuration may say about redirects, CORS and spam defences."""

from __future__ import annotations

from typing import Any

import pytest

from nxbridge.endpoints import ConfigError, FormEndpoint, InvalidConfig
from nxbridge.forms import FormOptions
from tests.fixtures.ingest import endpoint_config


def options(**form: Any) -> FormOptions:
    config = endpoint_config("form", form=form)
    assert isinstance(config, FormEndpoint)
    return config.form


def test_the_defaults_keep_a_form_endpoint_as_it_was_plus_a_honeypot() -> None:
    defaults = options()

    assert (defaults.success_url, defaults.error_url, defaults.allowed_origins) == (None, None, ())
    assert defaults.honeypot_field == "_gotcha"
    assert defaults.min_fill_seconds is None
    assert defaults.unknown_fields == "ignore"


def test_origins_are_normalized_the_way_browsers_send_them() -> None:
    configured = options(
        allowed_origins=["HTTPS://WWW.Example.com/", "https://www.example.com:443", "http://x.test:8080"]
    )

    assert configured.allowed_origins == ("https://www.example.com", "http://x.test:8080")


@pytest.mark.parametrize(
    "form",
    [
        {"allowed_origins": ["https://www.example.com/contact"]},
        {"allowed_origins": ["www.example.com"]},
        {"allowed_origins": ["*", "https://www.example.com"]},
        {"allowed_origins": ["*"], "allow_credentials": True},
        {"allow_credentials": True},
        {"success_url": "/thanks"},
        {"success_url": "javascript:alert(1)"},
        {"error_url": "https://user:pw@example.com/error"},
        {"success_url": "https://example.com/dankë"},
        {"honeypot_field": "email"},
        {"honeypot_field": "message"},
        {"honeypot_field": "_x", "fill_token_field": "_x"},
        {"min_fill_seconds": 120, "fill_token_max_age_seconds": 60},
        {"max_body_bytes": 10},
        {"unknown_fields": "keep"},
    ],
    ids=[
        "origin-with-path",
        "origin-without-scheme",
        "wildcard-with-others",
        "wildcard-with-credentials",
        "credentials-without-origins",
        "relative-redirect",
        "script-redirect",
        "redirect-with-credentials",
        "non-ascii-redirect",
        "honeypot-is-a-customer-field",
        "honeypot-is-a-typical-name",
        "honeypot-is-the-token-field",
        "min-fill-over-token-age",
        "tiny-body-limit",
        "unknown-unknown-fields",
    ],
)
def test_unsafe_or_inconsistent_form_options_are_refused(form: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        endpoint_config("form", form=form)

    assert isinstance(caught.value, InvalidConfig)


def test_a_minimum_fill_time_needs_a_key_the_bridge_can_sign_with() -> None:
    with pytest.raises(ConfigError, match="fill_token_secret"):
        endpoint_config("form", secret=None, form={"min_fill_seconds": 3})

    endpoint_config("form", form={"min_fill_seconds": 3})
    endpoint_config("form", secret=None, form={"min_fill_seconds": 3, "fill_token_secret": "contact-token"})
