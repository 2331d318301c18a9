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
from functools import cached_property, lru_cache
from typing import Literal

import phonenumbers
from phonenumbers import (
    CountryCodeSource,
    Leniency,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberFormat,
    PhoneNumberMatcher,
    PhoneNumberType,
    ValidationResult,
)

from nxbridge.record import Record

Strictness = Literal["possible", "valid", "mobile"]
# What every phone the bridge sends looks like: E.164 without '+', 7 to 15 digits, no leading zero.
E164_DIGITS = re.compile(r"[1-9][0-9]{6,14}")
SUPPORTED_REGIONS: frozenset[str] = frozenset(phonenumbers.SUPPORTED_REGIONS)
_E164 = PhoneNumberFormat.E164
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# "00" is the international prefix of most of the world; the library knows it only in the regions that dial it,
# and reads "0044 ..." in the US as a national number. Written before a number, it is read as "+" first.
_LEADING_PUNCTUATION = re.compile(r"[\s(\[]*")
# Where the library starts reading a number: the first plus sign (ASCII or full-width) or digit.
_FIRST_SIGN = re.compile(r"[+\uff0b\d]")
# National significant numbers are at least 4 digits long (Saint Helena, Niue), usually 7 to 10.
_SHORTEST_NATIONAL_NUMBER = 4
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


class Phone(Record):
    """A phone number read for one region: what NXCloud is sent, and what the endpoint's policy checks.

    Only the E.164 digits are made at once: the other forms and checks cost the library tens of microseconds each,
    and the default policy needs none of them. The digits are the number: ``number`` (the library's parse) is left
    out of the repr, equality and hash, as a dataclass's ``field(repr=False, compare=False)`` leaves it out.
    """

    e164_digits: str  # 33612345678
    number: phonenumbers.PhoneNumber

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}(e164_digits={self.e164_digits!r})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.e164_digits == other.e164_digits

    def __hash__(self) -> int:
        return hash((self.e164_digits,))

    @cached_property
    def national_digits(self) -> str:
        """The number as dialled inside its country (0612345678)."""
        national = phonenumbers.format_number(self.number, PhoneNumberFormat.NATIONAL)
        return "".join(c for c in national if c.isascii() and c.isdigit())

    @cached_property
    def valid(self) -> bool:
        """Whether the number is in a range its country assigns."""
        return phonenumbers.is_valid_number(self.number)

    @cached_property
    def can_be_mobile(self) -> bool:
        """Whether the number is valid and can be a mobile number."""
        return self.valid and _can_be_mobile(self.number)

    def passes(self, strictness: Strictness, *, messaging: bool) -> PhoneReason | None:
        """Why the number may not fill a field under ``strictness`` (None: it may); ``messaging`` for app fields."""
        if strictness == "possible":
            return None
        if not self.valid:
            return "phone_invalid"
        if strictness == "mobile" and messaging and not self.can_be_mobile:
            return "phone_not_mobile"
        return None


class PhoneProblem(Record):
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
    if region is None and not _is_international(_with_plus(text)):
        return PhoneProblem("phone_no_region")
    number = _parse(text, region)
    if number is None:
        return _several(text, region) or PhoneProblem("phone_unreadable")
    if not _is_possible(number):
        return _several(text, region) or PhoneProblem("phone_not_possible")
    return _phone(number)


def _is_international(text: str) -> bool:
    first = _FIRST_SIGN.search(text)
    return first is not None and not first.group().isdigit()


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """``text`` read in ``region``, a leading "00" as "+"; None when the library cannot read it."""
    written = _with_plus(text)
    number = _try(written, region if written is text else None)
    if written is text or region is None or (number is not None and _is_possible(number)):
        return number
    # Not a number after "+": the region's own international prefix may be longer (Australia dials 0011, so
    # "0011 61 ..." is +61). Only as a second reading: Brazil's "00 55" picks carrier 55, yet "0055 11 ..." on a
    # Brazilian form is +55.
    own = _try(text, region, keep_raw_input=True)
    if own is not None and own.country_code_source == CountryCodeSource.FROM_NUMBER_WITH_IDD and _is_possible(own):
        return own
    return number


def _try(text: str, region: str | None, *, keep_raw_input: bool = False) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region, keep_raw_input=keep_raw_input)
    except NumberParseException:
        return None


def _is_possible(number: phonenumbers.PhoneNumber) -> bool:
    """Whether the number can exist: a possible length (not only dialable locally, without its area code: that
    has no E.164 form) and the shape of its country's numbers (a US number never starts with 0).

    Looser than the library's validity (a range the country assigns), which is the policy's ``valid``.
    """
    code = number.country_code
    if code is None or phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
        return False
    pattern = _national_pattern(code)
    return pattern is not None and pattern.fullmatch(phonenumbers.national_significant_number(number)) is not None


@lru_cache(maxsize=512)
def _national_pattern(code: int) -> re.Pattern[str] | None:
    """The shape of every national number of calling code ``code`` (its metadata's general description)."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, phonenumbers.region_code_for_country_code(code))
    general = None if metadata is None else metadata.general_desc
    pattern = None if general is None else general.national_number_pattern
    return None if pattern is None else re.compile(pattern)


def _with_plus(text: str) -> str:
    """``text`` with a leading "00" international prefix written as "+" (``text`` itself when there is none)."""
    start = _LEADING_PUNCTUATION.match(text)
    rest = text[start.end() :] if start else text
    if len(rest) > 2 and unicodedata.digit(rest[0], None) == 0 and unicodedata.digit(rest[1], None) == 0:
        return "+" + rest[2:]
    return text


def _several(text: str, region: str | None) -> Phone | PhoneProblem | None:
    """The one mobile number among several numbers in ``text``; None when ``text`` does not hold several."""
    # The matcher costs a few hundred microseconds: not for texts too short to hold two national numbers.
    if sum(c.isdigit() for c in text) < 2 * _SHORTEST_NATIONAL_NUMBER:
        return None
    found = [match.number for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID)]
    if len(found) < 2:
        return None
    mobiles = {phonenumbers.format_number(n, _E164): n for n in found if _can_be_mobile(n)}
    if len(mobiles) != 1:
        return PhoneProblem("phone_ambiguous")
    return _phone(next(iter(mobiles.values())))


def _can_be_mobile(number: phonenumbers.PhoneNumber) -> bool:
    return phonenumbers.number_type(number) in _MOBILE_TYPES


def _phone(number: phonenumbers.PhoneNumber) -> Phone | PhoneProblem:
    # The extension is the library's to separate; neither form NXCloud stores carries it.
    number.extension = None
    e164 = phonenumbers.format_number(number, _E164)
    digits = e164.removeprefix("+")
    if not E164_DIGITS.fullmatch(digits) or (number.italian_leading_zero and not _reads_back(e164)):
        return PhoneProblem("phone_not_possible")
    return Phone(digits, number)


def _reads_back(e164: str) -> bool:
    # What is sent must read back as the same number; only a national number's leading zeros can make it differ.
    again = _try(e164, None)
    return again is not None and phonenumbers.format_number(again, _E164) == e164
