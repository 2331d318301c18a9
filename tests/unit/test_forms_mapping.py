"""A typical website form maps with no configuration; unknown fields go to customize_field only when asked."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from nxbridge.sources.form import field_of, parse_urlencoded
from tests.fixtures.ingest import customers_of, endpoint_config

URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


def form(*pairs: tuple[str, str]) -> bytes:
    return urlencode(list(pairs)).encode()


def test_a_typical_contact_form_maps_by_field_name_without_any_mapping() -> None:
    body = form(
        ("name", "Ana Souza"),
        ("email", "ana@example.com.br"),
        ("phone", "+55 11 91234-5678"),
        ("message", "Call me after 5 pm"),
        ("tags", "newsletter"),
        ("tags", "demo"),
        ("country", "Brazil"),
        ("birthday", "1990-04-18"),
        ("_gotcha", ""),
        ("company", "Souza Ltda"),
    )

    assert customers_of("form", body, URLENCODED) == [
        {
            "full_name": "Ana Souza",
            "email": "ana@example.com.br",
            "sms_phone": "5511912345678",
            "whats_app_phone": "5511912345678",
            "remark": "Call me after 5 pm",
            "tagStr": "newsletter,demo",
            "country": "Brazil",
            "birthday": "1990-04-18",
        }
    ]


def test_first_and_last_name_make_the_full_name_and_tel_or_mobile_is_the_phone() -> None:
    tel = form(("first_name", "Jan"), ("last_name", "Kowalski"), ("tel", "+48 601 234 567"))
    mobile = form(("full_name", "Eve Adams"), ("name", "Eve"), ("mobile", "+44 7700 900123"))

    assert customers_of("form", tel, URLENCODED) == [
        {
            "full_name": "Jan Kowalski",
            "first_name": "Jan",
            "last_name": "Kowalski",
            "sms_phone": "48601234567",
            "whats_app_phone": "48601234567",
        }
    ]
    assert customers_of("form", mobile, URLENCODED)[0]["full_name"] == "Eve Adams"
    assert customers_of("form", mobile, URLENCODED)[0]["whats_app_phone"] == "447700900123"


def test_the_nxcloud_name_wins_over_the_typical_name_and_an_explicit_mapping_wins_over_both() -> None:
    body = form(("remark", "from remark"), ("message", "from message"), ("email", "a@example.com"), ("notes", "n"))

    assert customers_of("form", body, URLENCODED)[0]["remark"] == "from remark"
    assert customers_of("form", body, URLENCODED, mapping={"remark": "notes"})[0]["remark"] == "n"


def test_blank_typical_fields_do_not_hide_the_next_name() -> None:
    body = form(("phone", "  "), ("tel", "+1 613 555 0142"), ("email", "b@example.com"))

    assert customers_of("form", body, URLENCODED)[0]["sms_phone"] == "16135550142"


def test_unknown_fields_go_to_customize_field_when_the_endpoint_says_so_but_internal_fields_never() -> None:
    body = form(
        ("email", "c@example.com"),
        ("company", "Acme"),
        ("interests", "a"),
        ("interests", "b"),
        ("_gotcha", ""),
        ("_fill_token", "123.abc"),
        ("_subject", "New lead"),
        ("url_confirm", "bot"),
        ("empty", ""),
        ("plan", "gold"),
    )
    options = {"form": {"unknown_fields": "customize", "honeypot_field": "url_confirm"}}

    customize = customers_of("form", body, URLENCODED, mapping={"customize_field.plan_id": "plan"}, **options)
    ignore = customers_of("form", body, URLENCODED)

    assert json.loads(customize[0]["customize_field"]) == {"company": "Acme", "interests": "a, b", "plan_id": "gold"}
    assert "customize_field" not in ignore[0]


def test_an_explicitly_mapped_custom_key_wins_over_a_leftover_of_the_same_name() -> None:
    body = form(("email", "d@example.com"), ("company", "From field"), ("org", "Mapped"))

    customers = customers_of(
        "form", body, URLENCODED, mapping={"customize_field.company": "org"}, form={"unknown_fields": "customize"}
    )

    assert json.loads(customers[0]["customize_field"]) == {"company": "Mapped"}


def test_field_of_names_the_form_field_an_nxcloud_field_came_from() -> None:
    config = endpoint_config("form", mapping={"email": "your-mail"})
    fields = parse_urlencoded(form(("your-mail", "x"), ("tel", "1"), ("name", "N"), ("sms_phone", "")))

    assert field_of("email", fields, config) == "your-mail"
    assert field_of("sms_phone", fields, config) == "tel"
    assert field_of("whats_app_phone", fields, config) == "tel"
    assert field_of("full_name", fields, config) == "name"
    assert field_of("birthday", fields, config) == "birthday"
    assert field_of("customize_field", fields, config) == "customize_field"
