"""Dates, countries, text SQS accepts, the endpoint's normalize policy, the Standard Webhooks default shape and the
template's app key: the value rules of issue 14 that are not phone numbers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from nxbridge.contract import CustomerValidationError, validate_customer
from nxbridge.endpoints import ConfigError, PhoneField
from nxbridge.normalize.countries import country_code, country_text
from nxbridge.normalize.customer import PHONE_NUMBER_FIELDS
from nxbridge.normalize.dates import iso_date
from nxbridge.normalize.sqs_text import sqs_safe
from tests.fixtures.ingest import customers_of, endpoint_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("written", "date"),
    [
        ("1976-04-12", "1976-04-12"),
        ("1976-04-12T00:00:00Z", "1976-04-12"),  # a shop's date-time field, a Typeform date answer
        ("1976-04-12T00:00:00.000Z", "1976-04-12"),
        ("1976-04-12 00:00:00", "1976-04-12"),
        ("1976-04-12T23:30:00-05:00", "1976-04-12"),  # the date as written, not moved to UTC
        ("1976-04-12T00:00+0200", "1976-04-12"),
        (" 1976-04-12 ", "1976-04-12"),
    ],
)
def test_iso_dates_with_or_without_a_time_are_read_as_the_date(written: str, date: str) -> None:
    assert iso_date(written) == date
    assert validate_customer({"full_name": "A", "email": "a@example.com", "birthday": written}).birthday == date


@pytest.mark.parametrize(
    "written", ["12/04/1976", "1976/04/12", "19760412", "1976-W15-1", "1976-02-30", "1976-04-12T25:00:00Z", "soon"]
)
def test_other_date_forms_are_not_guessed(written: str) -> None:
    assert iso_date(written) is None
    with pytest.raises(CustomerValidationError):
        validate_customer({"full_name": "A", "email": "a@example.com", "birthday": written})


@pytest.mark.parametrize(
    ("written", "code", "name"),
    [
        ("China", "CN", "China"),
        ("cn", "CN", "China"),
        ("CHN", "CN", "China"),
        ("France", "FR", "France"),
        ("United Kingdom", "GB", "United Kingdom"),
        ("GB", "GB", "United Kingdom"),
        ("United States", "US", "United States"),
        ("USA", "US", "United States"),
        ("Viet Nam", "VN", "Vietnam"),  # the common name where the standard's short name is a formal one
        ("Korea, Republic of", "KR", "South Korea"),
        ("Taiwan", "TW", "Taiwan"),
    ],
)
def test_a_country_is_read_from_any_of_its_names_or_codes(written: str, code: str, name: str) -> None:
    assert country_code(written) == code
    assert (country_text(code, "name"), country_text(code, "iso")) == (name, code)


@pytest.mark.parametrize("written", ["Atlantis", "XX", "UK", "Europe", ""])
def test_a_country_the_table_does_not_know_is_not_guessed(written: str) -> None:
    assert country_code(written) is None


def test_every_country_name_fits_nxclouds_country_field() -> None:
    import pycountry  # noqa: PLC0415 (only this test walks the whole table)

    assert max(len(country_text(c.alpha_2, "name")) for c in pycountry.countries) <= 50


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("María García 😀", "María García 😀"),
        ("tab\tnew\nline\rok", "tab\tnew\nline\rok"),
        ("a\ufffeb\uffffc", "abc"),
        ("a\ufdd0b\ufdefc", "abc"),  # the non-character block
        ("a\U0001fffeb\U0010ffffc\U0010fffd", "abc\U0010fffd"),  # every plane's last two code points
        ("a\x00b\x01c\x1fd\x7f", "abcd\x7f"),
        ("a\ud800b", "ab"),  # a lone surrogate
    ],
)
def test_text_keeps_only_what_sqs_accepts(text: str, kept: str) -> None:
    assert sqs_safe(text) == kept


def test_the_sqs_rule_matches_the_allowed_set_for_every_code_point() -> None:
    def allowed(code: int) -> bool:
        in_set = code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000
        return in_set and not 0xFDD0 <= code <= 0xFDEF and code & 0xFFFF not in (0xFFFE, 0xFFFF)

    wrong = [code for code in range(0x110000) if (sqs_safe(chr(code)) == chr(code)) != allowed(code)]

    assert wrong == []


def test_the_policy_defaults_keep_possible_numbers_international_and_countries_by_name() -> None:
    policy = endpoint_config("shopify").normalize

    assert (policy.default_region, policy.phones, policy.sms_phone, policy.country) == (
        None,
        "possible",
        "international",
        "name",
    )
    assert endpoint_config("form", normalize={"default_region": " fr "}).normalize.default_region == "FR"


@pytest.mark.parametrize(
    "policy",
    [{"default_region": "XX"}, {"default_region": "France"}, {"phones": "strict"}, {"sms_phone": "local"}, {"x": 1}],
)
def test_a_policy_the_bridge_cannot_follow_is_refused_when_the_configuration_loads(policy: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="normalize"):
        endpoint_config("shopify", normalize=policy)


def test_a_standard_webhook_with_a_mapping_still_maps_the_whole_body() -> None:
    body = {"type": "contact.created", "data": {"name": "Not This One"}, "contact": {"email": "ann@example.com"}}

    assert customers_of("standard", body, mapping={"email": "contact.email", "full_name": "'Ann Lee'"}) == [
        {"full_name": "Ann Lee", "email": "ann@example.com"}
    ]


def test_a_standard_record_maps_the_names_a_form_uses() -> None:
    record = {"name": "Ann Lee", "tel": "+65 8123 4567", "message": "hi", "tags": ["a", "b"], "company": "ACME"}

    assert customers_of("standard", record) == [
        {
            "full_name": "Ann Lee",
            "sms_phone": "6581234567",
            "whats_app_phone": "6581234567",
            "remark": "hi",
            "tagStr": "a,b",
        }
    ]


def test_the_fields_a_phone_can_fill_are_the_fields_the_phone_library_reads() -> None:
    assert get_args(PhoneField) == PHONE_NUMBER_FIELDS


def test_the_template_accepts_an_app_key_of_any_printable_characters() -> None:
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_IgnoreTags)
    pattern = re.compile(template["Parameters"]["NXCloudAppKey"]["AllowedPattern"])

    assert all(pattern.fullmatch(key) for key in ("46oKF=os", "", "a+b/c~d!e#f$%&'()*,-.:;<>?@[]^_`{|}"))
    assert not any(pattern.fullmatch(key) for key in ("46oKF =os", "key\n", "clé"))


class _IgnoreTags(yaml.SafeLoader):
    """Reads template.yaml with CloudFormation's short tags (!Ref, !Sub, ...) as plain values."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)
