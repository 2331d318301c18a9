"""Spam defences: the honeypot, and the signed fill token that proves a minimum fill time."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest

from nxbridge.endpoints import Endpoint, FormEndpoint, MissingSecret
from nxbridge.forms import FormOptions
from nxbridge.forms.gate import FormGate
from nxbridge.forms.spam import Spam, SpamReason, check_fill_token, issue_fill_token, screen
from nxbridge.rejections import ConfigUnavailable
from nxbridge.sources import WebhookRequest
from tests.fixtures.ingest import FIXED_NOW, endpoint_config

KEY = "fill-key"


def options(**form: object) -> FormOptions:
    config = endpoint_config("form", form={"min_fill_seconds": 3, **form})
    assert isinstance(config, FormEndpoint)
    return config.form


def at(seconds: float) -> dt.datetime:
    return FIXED_NOW + dt.timedelta(seconds=seconds)


def test_the_token_is_the_issue_time_and_an_hmac_a_site_server_can_compute_in_one_line() -> None:
    token = issue_fill_token(KEY, "contact", FIXED_NOW)

    issued = int(FIXED_NOW.timestamp())
    expected = hmac.new(KEY.encode(), f"contact.{issued}".encode(), hashlib.sha256).hexdigest()
    assert token == f"{issued}.{expected}"


@pytest.mark.parametrize(
    ("token", "age", "reason"),
    [
        (issue_fill_token(KEY, "contact", FIXED_NOW), 3, None),
        (issue_fill_token(KEY, "contact", FIXED_NOW), 86_400, None),
        (issue_fill_token(KEY, "contact", FIXED_NOW), 2.5, SpamReason.TOO_FAST),
        (issue_fill_token(KEY, "contact", FIXED_NOW), 86_401, SpamReason.EXPIRED),
        (None, 10, SpamReason.FILL_TIME_MISSING),
        ("", 10, SpamReason.FILL_TIME_MISSING),
        ("not-a-token", 10, SpamReason.FILL_TIME_INVALID),
        (issue_fill_token("other-key", "contact", FIXED_NOW), 10, SpamReason.FILL_TIME_INVALID),
        (issue_fill_token(KEY, "another-form", FIXED_NOW), 10, SpamReason.FILL_TIME_INVALID),
        (issue_fill_token(KEY, "contact", at(60)), 10, SpamReason.FILL_TIME_INVALID),
        (issue_fill_token(KEY, "contact", at(20)), 10, SpamReason.TOO_FAST),
    ],
    ids=[
        "at-the-minimum",
        "at-the-maximum-age",
        "too-fast",
        "expired",
        "missing",
        "empty",
        "malformed",
        "wrong-key",
        "other-endpoint",
        "issued-in-the-future",
        "site-clock-slightly-ahead",
    ],
)
def test_a_fill_token_is_checked_for_signature_endpoint_and_age(
    token: str | None, age: float, reason: SpamReason | None
) -> None:
    assert check_fill_token(token, [KEY], "contact", at(age), options()) == reason


def test_a_token_signed_with_any_current_key_is_accepted_during_a_rotation() -> None:
    old = issue_fill_token("old-key", "contact", FIXED_NOW)

    assert check_fill_token(old, ["new-key", "old-key"], "contact", at(10), options()) is None
    assert check_fill_token(old, ["new-key"], "contact", at(10), options()) == SpamReason.FILL_TIME_INVALID


def test_a_filled_honeypot_is_silent_spam_and_checked_before_the_fill_time() -> None:
    asked: list[bool] = []

    def keys() -> list[str]:
        asked.append(True)
        return [KEY]

    verdict = screen({"_gotcha": " http://spam ", "email": "a@b.co"}, options(), "contact", FIXED_NOW, keys)

    assert verdict == Spam(SpamReason.HONEYPOT)
    assert verdict.silent
    assert asked == []


def test_fill_time_failures_are_not_silent_and_an_empty_honeypot_passes() -> None:
    token = issue_fill_token(KEY, "contact", FIXED_NOW)
    form: dict[str, str | list[str]] = {"_gotcha": "", "_fill_token": token}

    too_fast = screen(form, options(), "contact", at(1), lambda: [KEY])

    assert too_fast == Spam(SpamReason.TOO_FAST) and not too_fast.silent
    assert screen(form, options(), "contact", at(5), lambda: [KEY]) is None


def test_without_a_minimum_fill_time_no_token_is_needed_and_no_key_is_read() -> None:
    def no_keys() -> list[str]:
        raise AssertionError("the keys must not be read")

    config = endpoint_config("form")
    assert isinstance(config, FormEndpoint)

    assert screen({"email": "a@b.co"}, config.form, "contact", FIXED_NOW, no_keys) is None


def test_a_disabled_honeypot_lets_any_value_through() -> None:
    config = endpoint_config("form", form={"honeypot_field": None})
    assert isinstance(config, FormEndpoint)

    assert screen({"_gotcha": "anything"}, config.form, "contact", FIXED_NOW, lambda: [KEY]) is None


class _Secrets:
    def __init__(self, secrets: dict[str, tuple[str, ...]]) -> None:
        self.secrets = secrets

    def get(self, name: str, *, refresh: bool = False) -> tuple[str, ...] | None:
        return self.secrets.get(name)


def test_a_missing_fill_token_key_is_an_unavailable_configuration_not_a_spam_verdict() -> None:
    endpoint = Endpoint("contact", endpoint_config("form", form={"min_fill_seconds": 3}))
    form: dict[str, str | list[str]] = {"email": "a@b.co", "_fill_token": issue_fill_token(KEY, "contact", FIXED_NOW)}
    request = WebhookRequest("contact", "POST", {}, b"", "r1", at(10))
    gate = FormGate(_Secrets({"other": (KEY,)}))

    for ask in (lambda: gate.screen(request, endpoint, form), lambda: gate.fill_token(request, endpoint)):
        with pytest.raises(ConfigUnavailable) as caught:
            ask()
        assert isinstance(caught.value.__cause__, MissingSecret)

    assert FormGate(_Secrets({"contact": (KEY,)})).screen(request, endpoint, form) is None
