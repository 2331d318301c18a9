"""Phone numbers as NXCloud needs them: E.164 digits without ``+``, read by Google's libphonenumber (its Python port).

The region a national number is read in comes from the number itself (``+`` or ``00``), else the first region
the caller gives (the customer's country, then the endpoint's default). Separators of every kind, ``(0)``, trunk
prefixes, full-width digits and extensions are the library's business. A number is never guessed: one that
cannot be read, is not possible for its region, or is ambiguous comes back as a ``PhoneProblem``.

Imported at module level: every webhook but NXCloud-shaped imports reads phones, so a lazy import would only
move the library's import time to the first webhook.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import phonenumbers
from phonenumbers import Leniency, NumberParseException, PhoneNumberFormat, PhoneNumberMatcher, PhoneNumberType

Strictness = Literal["possible", "valid", "mobile"]
# What every phone the bridge sends looks like: E.164 without '+', 7 to 15 digits, no leading zero.
E164_DIGITS = re.compile(r"[1-9][0-9]{6,14}")
SUPPORTED_REGIONS: frozenset[str] = frozenset(phonenumbers.SUPPORTED_REGIONS)
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# "00" is the international prefix of most of the world; the library knows it only in the regions that dial it,
# and reads "0044 ..." in the US as a national number. Written before a number, it always means "+".
_LEADING_PUNCTUATION = re.compile(r"[\s(\[]*")
# Longer texts are not one phone number, and the library's parse is linear in its input.
MAX_PHONE_TEXT = 100

PhoneReason = Literal[
    "phone_unreadable",  # not a phone number at all
    "phone_no_region",  # a national number, and no country to read it in
    "phone_not_possible",  # the wrong length for its country (or only dialable locally, without an area code)
    "phone_invalid",  # strictness valid/mobile: not in a range its country assigns
    "phone_not_mobile",  # strictness mobile: cannot be a mobile number (only for messaging fields)
    "phone_ambiguous",  # several numbers, and not exactly one of them mobile
]
REASON_TEXT: dict[PhoneReason, str] = {
    "phone_unreadable": "is not a phone number",
    "phone_no_region": "is a national number: give it with its country code (+33 ...), or give the country",
    "phone_not_possible": "is not a possible phone number for its country",
    "phone_invalid": "is not a valid phone number",
    "phone_not_mobile": "is not a mobile number",
    "phone_ambiguous": "holds several phone numbers",
}


@dataclass(frozen=True)
class Phone:
    """A phone number read for one region: what NXCloud is sent, and what the endpoint's policy checks."""

    e164_digits: str  # 33612345678
    national_digits: str  # 0612345678: the number as dialled inside its country
    valid: bool
    can_be_mobile: bool

    def passes(self, strictness: Strictness, *, messaging: bool) -> PhoneReason | None:
        """Why the number may not fill a field under ``strictness`` (None: it may); ``messaging`` for app fields."""
        if strictness == "possible":
            return None
        if not self.valid:
            return "phone_invalid"
        if strictness == "mobile" and messaging and not self.can_be_mobile:
            return "phone_not_mobile"
        return None


@dataclass(frozen=True)
class PhoneProblem:
    """Why a text cannot be made into a phone number."""

    reason: PhoneReason

    @property
    def message(self) -> str:
        """What a sender is told (never the value)."""
        return REASON_TEXT[self.reason]


def read_phone(text: str, regions: Sequence[str | None]) -> Phone | PhoneProblem:
    """The phone number in ``text``, read in the first of ``regions`` that is set unless it starts with + or 00.

    A region the library has no numbering plan for counts as no region: the next one is not tried, which would be
    a guess.
    """
    region = next((r for r in regions if r), None)
    return _read(text, region if region in SUPPORTED_REGIONS else None)


@lru_cache(maxsize=4096)
def _read(text: str, region: str | None) -> Phone | PhoneProblem:
    # Cached: one customer's phone fills sms_phone and whats_app_phone, and a shop sends the same customer again.
    if len(text) > MAX_PHONE_TEXT or not any(c.isdigit() for c in text):
        return PhoneProblem("phone_unreadable")
    text = _international(text)
    if region is None and not text.startswith("+"):
        return PhoneProblem("phone_no_region")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return _several(text, region) or PhoneProblem("phone_unreadable")
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return _several(text, region) or PhoneProblem("phone_not_possible")
    return _phone(number)


def _international(text: str) -> str:
    """``text`` with a leading "00" international prefix written as "+"."""
    start = _LEADING_PUNCTUATION.match(text)
    rest = text[start.end() :] if start else text
    if len(rest) > 2 and unicodedata.digit(rest[0], None) == 0 and unicodedata.digit(rest[1], None) == 0:
        return "+" + rest[2:]
    return text


def _several(text: str, region: str | None) -> Phone | PhoneProblem | None:
    """The one mobile number among several numbers in ``text``; None when ``text`` does not hold several."""
    found = [match.number for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID)]
    if len(found) < 2:
        return None
    mobiles = {phonenumbers.format_number(n, PhoneNumberFormat.E164): n for n in found if _can_be_mobile(n)}
    if len(mobiles) != 1:
        return PhoneProblem("phone_ambiguous")
    return _phone(next(iter(mobiles.values())))


def _can_be_mobile(number: phonenumbers.PhoneNumber) -> bool:
    return phonenumbers.number_type(number) in _MOBILE_TYPES


def _phone(number: phonenumbers.PhoneNumber) -> Phone | PhoneProblem:
    # The extension is the library's to separate; neither form NXCloud stores carries it.
    number.extension = None
    digits = phonenumbers.format_number(number, PhoneNumberFormat.E164).removeprefix("+")
    if not E164_DIGITS.fullmatch(digits):
        return PhoneProblem("phone_not_possible")
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    valid = phonenumbers.is_valid_number(number)
    return Phone(
        e164_digits=digits,
        national_digits="".join(c for c in national if c.isascii() and c.isdigit()),
        valid=valid,
        can_be_mobile=valid and _can_be_mobile(number),
    )
