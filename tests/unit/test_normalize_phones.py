"""Phone numbers read by the phone library into E.164 digits: per country, under each policy, and as a property."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nxbridge.normalize.phones import Phone, PhoneProblem, read_phone
from nxbridge.sources import DroppedContact, build_customer
from tests.fixtures.ingest import endpoint_config

SENT_PHONE = re.compile(r"^[1-9][0-9]{6,14}$")
# The full-width plus sign and digits that East Asian keyboards type.
FULL_WIDTH = str.maketrans("+0123456789", "\uff0b" + "".join(chr(0xFF10 + digit) for digit in range(10)))

# region, E.164 digits, then the number as written: nationally (with the trunk prefix where the country dials
# one), internationally, after "00", and with the trunk prefix left inside the international form (None where the
# country has no trunk prefix: Spain, Italy and Mexico dial every digit).
COUNTRIES: list[tuple[str, str, str, str, str, str | None]] = [
    ("US", "12015550123", "(201) 555-0123", "+1 201-555-0123", "001 201 555 0123", "1 (201) 555-0123"),
    ("CA", "15062345678", "(506) 234-5678", "+1 506-234-5678", "001 506 234 5678", "1-506-234-5678"),
    ("MX", "522221234567", "222 123 4567", "+52 222 123 4567", "0052 222 123 4567", None),
    ("BR", "5511961234567", "(11) 96123-4567", "+55 11 96123-4567", "0055 11 96123-4567", "0 11 96123-4567"),
    ("GB", "447400123456", "07400 123456", "+44 7400 123456", "0044 7400 123456", "+44 (0)7400 123456"),
    ("FR", "33612345678", "06 12 34 56 78", "+33 6 12 34 56 78", "0033 6 12 34 56 78", "+33 (0)6 12 34 56 78"),
    ("DE", "4915123456789", "01512 3456789", "+49 1512 3456789", "0049 1512 3456789", "+49 (0)1512 3456789"),
    ("ES", "34612345678", "612 34 56 78", "+34 612 34 56 78", "0034 612 34 56 78", None),
    ("IT", "393123456789", "312 345 6789", "+39 312 345 6789", "0039 312 345 6789", None),
    ("NL", "31612345678", "06 12345678", "+31 6 12345678", "0031 6 12345678", "+31 (0)6 12345678"),
    ("IN", "918123456789", "081234 56789", "+91 81234 56789", "0091 81234 56789", "+91 (0)81234 56789"),
    ("ID", "62812345678", "0812-345-678", "+62 812-345-678", "0062 812-345-678", "+62 (0)812-345-678"),
    ("PH", "639051234567", "0905 123 4567", "+63 905 123 4567", "0063 905 123 4567", "+63 (0)905 123 4567"),
    ("VN", "84912345678", "0912 345 678", "+84 912 345 678", "0084 912 345 678", "+84 (0)912 345 678"),
    ("TH", "66812345678", "081 234 5678", "+66 81 234 5678", "0066 81 234 5678", "+66 (0)81 234 5678"),
    ("CN", "8613123456789", "131 2345 6789", "+86 131 2345 6789", "0086 131 2345 6789", None),
    ("CN", "861065529988", "010 6552 9988", "+86 10 6552 9988", "0086 10 6552 9988", "+86 (0)10 6552 9988"),
    ("NG", "2348021234567", "0802 123 4567", "+234 802 123 4567", "00234 802 123 4567", "+234 (0)802 123 4567"),
    ("ZA", "27711234567", "071 123 4567", "+27 71 123 4567", "0027 71 123 4567", "+27 (0)71 123 4567"),
    ("AU", "61412345678", "0412 345 678", "+61 412 345 678", "0061 412 345 678", "+61 (0)412 345 678"),
]


def digits(text: str, *regions: str | None) -> str | None:
    phone = read_phone(text, regions)
    return phone.e164_digits if isinstance(phone, Phone) else None


def reason(text: str, *regions: str | None) -> str | None:
    phone = read_phone(text, regions)
    return phone.reason if isinstance(phone, PhoneProblem) else None


@pytest.mark.parametrize(
    ("region", "e164", "national", "international", "zero_zero", "trunk"),
    COUNTRIES,
    ids=[f"{row[0]}-{row[1]}" for row in COUNTRIES],
)
def test_every_way_a_country_writes_a_number_gives_its_e164_digits(
    region: str, e164: str, national: str, international: str, zero_zero: str, trunk: str | None
) -> None:
    written = [national, international, zero_zero, *([trunk] if trunk else [])]

    assert [digits(text, region) for text in written] == [e164] * len(written)
    # The international forms need no region at all, and another region's does not change them.
    assert [digits(text, None) for text in (international, zero_zero)] == [e164, e164]
    assert digits(international, "JP") == e164


def test_the_region_is_the_numbers_own_then_the_first_one_given() -> None:
    assert digits("06 12 34 56 78", "FR", "DE") == "33612345678"
    assert digits("06 12 34 56 78", None, "FR") == "33612345678"
    assert digits("+44 7911 123456", "FR") == "447911123456"
    # The first region given is the one used: trying the next would be a guess.
    assert reason("06 12 34 56 78", "US", "FR") == "phone_not_possible"


def test_a_national_number_without_a_region_is_not_guessed() -> None:
    # 4155550100 read as international would be a Swiss number.
    assert reason("4155550100", None) == "phone_no_region"
    assert reason("4155550100", "AQ") == "phone_no_region"  # a region without a numbering plan is none


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        ("+1 415\u2013555\u20130100", None, "14155550100"),  # en dashes
        ("+1\u00a0415\u00a0555\u00a00100", None, "14155550100"),  # non-breaking spaces
        ("+1.415.555.0100", None, "14155550100"),
        ("+86 181 6372 5558".translate(FULL_WIDTH), None, "8618163725558"),
        ("18163725558".translate(FULL_WIDTH), "CN", "8618163725558"),
        ("+1 415 555 0100 ext. 12", None, "14155550100"),
        ("(613) 555-0199 x204", "CA", "16135550199"),
        ("0011 61 412 345 678", "AU", "61412345678"),  # Australia's own international prefix
        ("0044 7911 123456", "US", "447911123456"),  # "00" where the region dials 011
        ("tel: +33 6 12 34 56 78", None, "33612345678"),
    ],
)
def test_separators_extensions_and_prefixes_are_the_librarys_business(text: str, region: str | None, e164: str) -> None:
    assert digits(text, region) == e164


@pytest.mark.parametrize(
    ("text", "region", "why"),
    [
        ("n/a", "US", "phone_unreadable"),
        ("call me after 5", "US", "phone_unreadable"),
        ("12", "US", "phone_not_possible"),
        ("555-0100", "US", "phone_not_possible"),  # only dialable inside its area code: no E.164 form
        ("0044123456", "US", "phone_not_possible"),
        ("+52 1 222 123 4567", None, "phone_not_possible"),  # Mexico's mobile "1" is gone since 2019
        ("+49 170 1234567 / +49 171 1234567", None, "phone_ambiguous"),
        ("1" * 101, "US", "phone_unreadable"),
    ],
)
def test_a_number_that_cannot_be_made_right_is_refused_with_a_reason(text: str, region: str, why: str) -> None:
    assert reason(text, region) == why


def test_of_two_numbers_the_one_mobile_is_kept() -> None:
    assert digits("+49 30 1234567 / +49 170 1234567", None) == "491701234567"


def test_the_national_form_is_the_number_as_dialled_inside_its_country() -> None:
    phones = [read_phone(text, (region,)) for text, region in [("+33 6 12 34 56 78", None), ("18163725558", "CN")]]

    assert [p.national_digits for p in phones if isinstance(p, Phone)] == ["0612345678", "18163725558"]


def customer(phone: str, *, policy: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """What a Shopify endpoint with ``policy`` sends for a customer with ``phone`` (and an e-mail)."""
    config = endpoint_config("shopify", normalize=policy or {})
    built = build_customer({"full_name": "Ann Lee", "email": "ann@example.com", "phone": phone, **extra}, config)
    return {**built.customer.to_api(), "dropped": built.dropped}


def test_possible_keeps_shopifys_own_sample_number_and_valid_drops_it() -> None:
    kept = customer("555-555-5555", country="US")
    dropped = customer("555-555-5555", country="US", policy={"phones": "valid"})

    assert (kept["sms_phone"], kept["whats_app_phone"], kept["dropped"]) == ("15555555555", "15555555555", ())
    assert "sms_phone" not in dropped and "whats_app_phone" not in dropped
    assert dropped["dropped"] == (DroppedContact("phone", "phone_invalid"),)


def test_mobile_keeps_a_landline_out_of_whatsapp_only() -> None:
    landline = customer("+33 1 42 68 53 00", policy={"phones": "mobile"})
    mobile = customer("+33 6 12 34 56 78", policy={"phones": "mobile"})

    assert landline["sms_phone"] == "33142685300" and "whats_app_phone" not in landline
    assert landline["dropped"] == (DroppedContact("whats_app_phone", "phone_not_mobile"),)
    assert (mobile["sms_phone"], mobile["whats_app_phone"]) == ("33612345678", "33612345678")


def test_sms_phone_can_be_sent_in_the_national_form() -> None:
    sent = customer("+86 181 6372 5558", policy={"sms_phone": "national"})

    # The API page's own example: sms_phone 18163725558, whats_app_phone 8618163725558.
    assert (sent["sms_phone"], sent["whats_app_phone"]) == ("18163725558", "8618163725558")


def test_the_default_region_reads_national_numbers_of_customers_without_a_country() -> None:
    assert customer("06 12 34 56 78", policy={"default_region": "fr"})["sms_phone"] == "33612345678"
    assert customer("06 12 34 56 78", policy={"default_region": "FR"}, country="US")["dropped"] == (
        DroppedContact("phone", "phone_not_possible"),
    )
    assert customer("06 12 34 56 78")["dropped"] == (DroppedContact("phone", "phone_no_region"),)


# Texts a person might type into a phone field: digits in runs, every separator, prefixes, letters, noise.
PHONE_TEXT = st.lists(
    st.one_of(
        st.text("0123456789", min_size=1, max_size=5),
        st.sampled_from(
            [" ", "-", "\u2013", ".", "/", "(", ")", "+", "00", "(0)", "\u00a0", "ext. ", "x", "#", "tel:"]
        ),
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=2),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=PHONE_TEXT, region=st.sampled_from([None, "US", "FR", "GB", "IN", "BR", "CN", "AU", "DE"]))
def test_every_phone_sent_is_e164_digits_that_parse_back_to_the_same_number_or_is_absent_and_counted(
    text: str, region: str | None
) -> None:
    config = endpoint_config("shopify", normalize={"default_region": region} if region else {})

    built = build_customer({"full_name": "Ann Lee", "email": "ann@example.com", "phone": text}, config)

    sent = built.customer.to_api()
    for field in ("sms_phone", "whats_app_phone"):
        if field in sent:
            assert SENT_PHONE.fullmatch(sent[field]), (text, sent[field])
            again = phonenumbers.parse("+" + sent[field], None)
            assert phonenumbers.format_number(again, phonenumbers.PhoneNumberFormat.E164) == "+" + sent[field]
        elif text.strip():
            assert [d.field for d in built.dropped if d.field in ("phone", field)], (text, built.dropped)
