"""One customer's NXCloud fields made right under an endpoint's policy: phones in E.164 digits, one country form.

A value that cannot be made right is taken out and returned as a ``Refusal`` (the field, a metric reason and what
a sender is told); the caller decides whether that costs the customer or only the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nxbridge.normalize.countries import CountryForm, country_code, country_text
from nxbridge.normalize.phones import Phone, PhoneProblem, read_phone
from nxbridge.normalize.policy import NormalizePolicy
from nxbridge.record import Record

# The NXCloud fields that hold a number a person dials or messages (messenger and instagram hold account ids).
PHONE_NUMBER_FIELDS: tuple[str, ...] = ("sms_phone", "whats_app_phone", "viber_phone", "zalo")
# Apps that register mobile numbers: where strictness "mobile" keeps a landline out.
MESSAGING_FIELDS: frozenset[str] = frozenset({"whats_app_phone", "viber_phone", "zalo"})
UNKNOWN_COUNTRY = "is not a country of the ISO 3166 table (an English name or a code, such as France or FR)"


class Refusal(Record):
    """A value taken out of a customer: its NXCloud field, why (a metric dimension) and what a sender is told."""

    field: str
    reason: str
    message: str


def own_region(data: Mapping[str, Any]) -> str | None:
    """The ISO code of the customer's own country (its ``country`` field), the region its national numbers use."""
    country = data.get("country")
    return country_code(country) if isinstance(country, str) else None


def country_in_form(value: str, form: CountryForm) -> str | None:
    """``value`` (a country name or code) written in ``form``; None when the table does not know it."""
    code = country_code(value)
    return None if code is None else country_text(code, form)


def normalize_customer(
    data: Mapping[str, Any], policy: NormalizePolicy, *, phones: bool, region: str | None
) -> tuple[dict[str, Any], list[Refusal]]:
    """``data`` with its phone fields (when ``phones``) and country made right, and the values taken out.

    National numbers are read in ``region`` (the customer's own country), else in the policy's default region.
    """
    result = dict(data)
    refused: list[Refusal] = []
    if phones:
        for field in PHONE_NUMBER_FIELDS:
            value = result.get(field)
            if not isinstance(value, str):
                continue
            made = _phone_field(field, value, policy, region)
            if isinstance(made, Refusal):
                del result[field]
                refused.append(made)
            else:
                result[field] = made
    country = result.get("country")
    if isinstance(country, str):
        written = country_in_form(country, policy.country)
        if written is None:
            del result["country"]
            refused.append(Refusal("country", "country_unknown", UNKNOWN_COUNTRY))
        else:
            result["country"] = written
    return result, refused


def _phone_field(field: str, value: str, policy: NormalizePolicy, region: str | None) -> str | Refusal:
    phone = read_phone(value, (region, policy.default_region))
    if isinstance(phone, PhoneProblem):
        return Refusal(field, phone.reason, phone.message)
    reason = phone.passes(policy.phones, messaging=field in MESSAGING_FIELDS)
    if reason is not None:
        return Refusal(field, reason, PhoneProblem(reason).message)
    return _written(field, phone, policy)


def _written(field: str, phone: Phone, policy: NormalizePolicy) -> str:
    if field == "sms_phone" and policy.sms_phone == "national":
        return phone.national_digits
    return phone.e164_digits
