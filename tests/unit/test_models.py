"""The customer and batch models enforce every rule of docs/nxcloud-contract.md and normalize what users send."""

from __future__ import annotations

import json

import pytest

from nxbridge.contract import (
    BatchCreateRequest,
    BatchCreateResponse,
    Customer,
    CustomerValidationError,
    validate_customer,
)

BASE = {"full_name": "Zhang San", "email": "zhang.san@example.com"}


def errors_of(data: dict[str, object]) -> dict[str, str]:
    with pytest.raises(CustomerValidationError) as caught:
        validate_customer(data)
    return {e.field: e.reason for e in caught.value.errors}


def test_page_example_with_padded_values_is_trimmed_and_accepted() -> None:
    customer = validate_customer(
        {
            "full_name": " zhang san",
            "sms_phone": " 18163725558",
            "whats_app_phone": " 8618163725558",
            "email": " zhang.san@example.com ",
            "birthday": " 1976-04-12",
            "tagStr": " test,99",
            "time_zone": " GMT+8",
            "gender": 1,
            "weight": 5,
            "customize_field": ' {"customize_1_14" : "aa"}',
        }
    )
    assert customer.full_name == "zhang san"
    assert customer.sms_phone == "18163725558"
    assert customer.email == "zhang.san@example.com"
    assert customer.birthday == "1976-04-12"
    assert customer.tagStr == "test,99"
    assert customer.time_zone == "GMT+8"


def test_phone_punctuation_is_removed_and_country_code_kept() -> None:
    customer = validate_customer({**BASE, "sms_phone": "+86 181-6372-5558", "whats_app_phone": "(86) 181.6372.5558"})
    assert customer.sms_phone == "8618163725558"
    assert customer.whats_app_phone == "8618163725558"


@pytest.mark.parametrize("field", ["sms_phone", "whats_app_phone", "viber_phone", "messenger", "instagram", "zalo"])
def test_phone_like_fields_refuse_letters(field: str) -> None:
    assert "digits only" in errors_of({**BASE, field: "12ab34"})[field]


def test_non_ascii_digits_are_refused() -> None:
    assert "sms_phone" in errors_of({**BASE, "sms_phone": "١٢٣٤٥٦٧"})


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("full_name", 255),
        ("first_name", 128),
        ("last_name", 128),
        ("sms_phone", 30),
        ("whats_app_phone", 30),
        ("viber_phone", 30),
        ("messenger", 32),
        ("instagram", 32),
        ("zalo", 32),
        ("line", 50),
        ("country", 50),
        ("address", 100),
        ("remark", 2000),
        ("belong_seat_user", 128),
    ],
)
def test_max_lengths_are_enforced_at_the_boundary(field: str, limit: int) -> None:
    digits = field in {"sms_phone", "whats_app_phone", "viber_phone", "messenger", "instagram", "zalo"}
    fill = "1" if digits else "a"
    ok = validate_customer({**BASE, field: fill * limit})
    assert len(getattr(ok, field)) == limit
    assert field in errors_of({**BASE, field: fill * (limit + 1)})


def test_email_longer_than_50_is_refused() -> None:
    local = "a" * (50 - len("@example.com"))
    assert len(validate_customer({**BASE, "email": f"{local}@example.com"}).email or "") == 50
    assert "email" in errors_of({**BASE, "email": f"{local}x@example.com"})


def test_email_must_look_like_an_address() -> None:
    assert errors_of({**BASE, "email": "not-an-email"})["email"] == "is not an e-mail address"


@pytest.mark.parametrize("value", ["1976-02-30", "1976-13-01", "12-04-1976", "1976/04/12", "19760412"])
def test_birthday_must_be_a_real_yyyy_mm_dd_date(value: str) -> None:
    assert "birthday" in errors_of({**BASE, "birthday": value})


def test_leap_day_is_a_real_date() -> None:
    assert validate_customer({**BASE, "birthday": "2024-02-29"}).birthday == "2024-02-29"


@pytest.mark.parametrize(
    ("value", "expected"), [("male", 1), ("Female", 0), ("m", 1), ("F", 0), (1, 1), (0, 0), ("1", 1)]
)
def test_gender_accepts_words_and_numbers(value: object, expected: int) -> None:
    assert validate_customer({**BASE, "gender": value}).gender == expected


@pytest.mark.parametrize("value", [2, "other", True, -1])
def test_gender_refuses_anything_else(value: object) -> None:
    assert "gender" in errors_of({**BASE, "gender": value})


@pytest.mark.parametrize("value", [0, 6, "9", 2.5])
def test_weight_is_an_integer_from_1_to_5(value: object) -> None:
    assert "weight" in errors_of({**BASE, "weight": value})


def test_weight_accepts_a_numeric_string() -> None:
    assert validate_customer({**BASE, "weight": "3"}).weight == 3


def test_customize_field_dict_is_serialized_to_a_json_object_string() -> None:
    customer = validate_customer({**BASE, "customize_field": {"customize_1_14": "aa", "note": "李"}})
    assert customer.customize_field is not None
    assert json.loads(customer.customize_field) == {"customize_1_14": "aa", "note": "李"}
    assert "李" in customer.customize_field


@pytest.mark.parametrize("value", ["not json", "[1,2]", '"text"', "42"])
def test_customize_field_must_hold_a_json_object(value: str) -> None:
    assert "customize_field" in errors_of({**BASE, "customize_field": value})


def test_tags_accept_a_list_and_drop_blanks_and_repeats() -> None:
    assert validate_customer({**BASE, "tagStr": ["vip", " shop ", "", "vip"]}).tagStr == "vip,shop"


def test_full_name_is_required() -> None:
    assert "full_name" in errors_of({"email": "a@example.com"})
    assert "full_name" in errors_of({"full_name": "   ", "email": "a@example.com"})


def test_at_least_one_contact_field_is_required() -> None:
    reasons = errors_of({"full_name": "No Contact", "country": "China"})
    assert "at least one of" in reasons["customer"]


@pytest.mark.parametrize("field", ["sms_phone", "whats_app_phone", "viber_phone", "messenger", "instagram", "zalo"])
def test_any_phone_like_contact_is_enough(field: str) -> None:
    assert getattr(validate_customer({"full_name": "A", field: "12345"}), field) == "12345"


def test_line_alone_is_a_contact() -> None:
    assert validate_customer({"full_name": "A", "line": "line123456"}).line == "line123456"


def test_unknown_fields_are_refused() -> None:
    assert errors_of({**BASE, "nickname": "z"})["nickname"] == "is not a field NXCloud knows"


def test_errors_never_echo_pii_values() -> None:
    with pytest.raises(CustomerValidationError) as caught:
        validate_customer({"full_name": "Zhang San", "sms_phone": "+86 181-6372-555x", "email": "broken@@example"})
    text = json.dumps([e.model_dump() for e in caught.value.errors])
    assert "6372" not in text
    assert "broken" not in text
    assert "Zhang" not in text


def test_to_api_leaves_absent_fields_out() -> None:
    assert validate_customer(BASE).to_api() == BASE


def test_batch_body_is_compact_utf8_and_keeps_non_ascii() -> None:
    request = BatchCreateRequest(
        type=1, tenant_id=123, app_key="46oKF=os", customers=[Customer(full_name="张三", email="z@example.com")]
    )
    body = request.to_body()
    assert "张三".encode() in body
    assert b" " not in body
    assert json.loads(body) == {
        "type": 1,
        "tenant_id": 123,
        "app_key": "46oKF=os",
        "strict_binding": False,
        "customers": [{"full_name": "张三", "email": "z@example.com"}],
    }


def test_batch_body_holds_each_customer_exactly_as_to_api_serializes_it() -> None:
    customers = [
        validate_customer({**BASE, "whats_app_phone": "+34 600 000 001", "tagStr": "vip, vip,new", "gender": "f"}),
        validate_customer({"full_name": "张三", "email": "z@example.com", "weight": "3", "birthday": "1990-01-31"}),
    ]
    body = BatchCreateRequest(type=2, tenant_id=7, app_key="k", strict_binding=True, customers=customers).to_body()
    parts = ",".join(json.dumps(c.to_api(), ensure_ascii=False, separators=(",", ":")) for c in customers)
    expected = '{"type":2,"tenant_id":7,"app_key":"k","strict_binding":true,"customers":[' + parts + "]}"
    assert body == expected.encode("utf-8")


def test_batch_body_escapes_text_as_json_dumps_does() -> None:
    remark = 'say "hi" \\ back\ttab\nline\x01\x1f\x7f \u2028 \u00e9 \U0001f600 </script>'
    customers = [validate_customer({**BASE, "remark": remark, "address": 'Straße 1 \\ "B"'})]
    body = BatchCreateRequest(type=1, tenant_id=7, app_key='k="1"', customers=customers).to_body()
    expected = {
        "type": 1,
        "tenant_id": 7,
        "app_key": 'k="1"',
        "strict_binding": False,
        "customers": [customers[0].to_api()],
    }
    assert body == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.mark.parametrize("count", [0, 101])
def test_batch_holds_1_to_100_customers(count: int) -> None:
    customer = validate_customer(BASE)
    with pytest.raises(ValueError, match="customers"):
        BatchCreateRequest(type=0, tenant_id=1, app_key="k", customers=[customer] * count)


def test_batch_type_is_0_1_or_2() -> None:
    with pytest.raises(ValueError, match="type"):
        BatchCreateRequest(type=3, tenant_id=1, app_key="k", customers=[validate_customer(BASE)])  # type: ignore[arg-type]


def test_customer_id_above_2_to_the_53_stays_exact() -> None:
    raw = (
        b'{"code":0,"message":null,"traceId":"t","data":{"totalCount":1,"successCount":1,"failCount":0,'
        b'"failItems":[],"successItems":[{"index":0,"customerId":1214631327620775937,"whatsAppPhone":"86"}]}}'
    )
    response = BatchCreateResponse.model_validate_json(raw)
    assert response.data is not None
    assert response.data.successItems[0].customerId == 1214631327620775937


def test_whole_request_failure_has_no_data() -> None:
    response = BatchCreateResponse.model_validate_json(b'{"code":12148,"message":"seat","traceId":"x","data":null}')
    assert response.code == 12148
    assert response.data is None
