"""The simulator enforces docs/nxcloud-contract.md as strictly as NXCloud, over real loopback HTTP.

Requests here are built by hand (raw bodies, signed with nxbridge's signing, which is independent of the
simulator's own check) so that the server is tested on inputs the bridge's models would never produce.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nxbridge.cli import build_parser
from nxbridge.contract import BatchCreateRequest, CustomerValidationError, validate_customer
from nxbridge.nxcloud.client import PATH, NXCloudClient, NXCloudCredentials
from nxbridge.nxcloud.signing import signed_headers
from nxbridge.observability import logger
from nxbridge_dev.simulator import FIRST_CUSTOMER_ID, Simulator, expected_sign, record_errors, serve

AK = "fme2na3kdi3ki"
SECRET = "demo-secret"
NOW = 1_700_000_000.0  # a fixed simulator clock, in seconds
NOW_MS = 1_700_000_000_000
VALID = {"full_name": "Ada Lovelace", "email": "ada@example.com"}

Post = Callable[..., requests.Response]


def _body(customers: Any = None, **top: Any) -> bytes:
    payload: dict[str, Any] = {"type": 1, "tenant_id": 123, "app_key": "46oKF=os"}
    payload["customers"] = [VALID] if customers is None else customers
    payload.update(top)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


@pytest.fixture
def fixed(simulator_factory: Callable[..., Simulator]) -> Simulator:
    """A simulator whose clock stands still at NOW."""
    return simulator_factory(clock=lambda: NOW)


@pytest.fixture
def post(fixed: Simulator) -> Post:
    """POST raw bytes to ``fixed``, signed at NOW_MS unless told otherwise."""
    session = requests.Session()

    def send(
        body: bytes,
        *,
        ts_ms: int = NOW_MS,
        secret: str = SECRET,
        access_key: str = AK,
        override: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
        content_type: str = "application/json",
    ) -> requests.Response:
        headers = signed_headers(access_key, secret, body, ts_ms)
        headers.update(override or {})
        for name in drop:
            del headers[name]
        headers["Content-Type"] = content_type
        return session.post(fixed.base_url + PATH, data=body, headers=headers, timeout=2)

    return send


def _code(response: requests.Response) -> int:
    assert response.status_code == 200
    answer = response.json()
    assert re.fullmatch(r"[0-9a-f]{32}", answer["traceId"])
    if answer["code"] != 0:
        assert answer["data"] is None
        assert answer["message"]
    code: int = answer["code"]
    return code


def _data(response: requests.Response) -> dict[str, Any]:
    assert _code(response) == 0
    data: dict[str, Any] = response.json()["data"]
    return data


# --- headers, signature, clock ------------------------------------------------------------------------------


def test_the_simulator_signature_is_the_contract_worked_check() -> None:
    text = b'accessKey=fme2na3kdi3ki&action=mt&bizType=2&ts=1655710885431&body={"type":0}&accessSecret=demo-secret'

    assert expected_sign(AK, "1655710885431", b'{"type":0}', SECRET) == hashlib.md5(text).hexdigest()


def test_a_correctly_signed_request_is_accepted(post: Post, fixed: Simulator) -> None:
    data = _data(post(_body()))

    assert data["successCount"] == 1
    assert list(fixed.customers.values()) == [VALID]


@pytest.mark.parametrize("dropped", ["accessKey", "ts", "bizType", "action", "sign"])
def test_a_missing_header_is_1001(dropped: str, post: Post) -> None:
    assert _code(post(_body(), drop=(dropped,))) == 1001


def test_an_empty_header_counts_as_missing(post: Post) -> None:
    assert _code(post(_body(), override={"accessKey": ""})) == 1001


def test_missing_headers_are_checked_before_the_access_key(post: Post) -> None:
    assert _code(post(_body(), access_key="stranger", drop=("ts",))) == 1001


def test_an_unknown_access_key_is_1005_before_the_signature_is_checked(post: Post) -> None:
    assert _code(post(_body(), access_key="stranger", override={"sign": "0" * 32})) == 1005


@pytest.mark.parametrize("override", [{"bizType": "3"}, {"action": "mo"}, {"bizType": "02"}])
def test_wrong_biz_type_or_action_is_1002(override: dict[str, str], post: Post) -> None:
    assert _code(post(_body(), override=override)) == 1002


@pytest.mark.parametrize("delta_ms", [-60_000, 60_000, 0])
def test_a_ts_within_60_seconds_is_accepted(delta_ms: int, post: Post) -> None:
    assert _code(post(_body(), ts_ms=NOW_MS + delta_ms)) == 0


@pytest.mark.parametrize("delta_ms", [-60_001, 60_001, -NOW_MS + NOW_MS // 1000])
def test_a_ts_outside_60_seconds_or_in_seconds_is_1004(delta_ms: int, post: Post) -> None:
    assert _code(post(_body(), ts_ms=NOW_MS + delta_ms)) == 1004


@pytest.mark.parametrize("ts", ["abc", "1.7e12", "-1700000000000", "1700000000000.0", "0x18bcfe56800"])
def test_a_ts_that_is_not_an_integer_of_milliseconds_is_1004(ts: str, post: Post) -> None:
    assert _code(post(_body(), override={"ts": ts})) == 1004


def test_a_wrong_secret_is_1003(post: Post, fixed: Simulator) -> None:
    assert _code(post(_body(), secret="wrong")) == 1003
    assert fixed.customers == {}


def test_a_body_changed_by_one_byte_after_signing_is_1003(fixed: Simulator) -> None:
    signed = _body()
    headers = signed_headers(AK, SECRET, signed, NOW_MS)
    headers["Content-Type"] = "application/json"

    response = requests.post(fixed.base_url + PATH, data=signed + b" ", headers=headers, timeout=2)

    assert _code(response) == 1003


def test_a_re_serialized_body_does_not_match_its_signature(fixed: Simulator) -> None:
    # What requests.post(json=...) would do: sign the compact UTF-8 bytes, send ASCII-escaped ones.
    signed = _body([{"full_name": "张三", "email": "zs@example.com"}])
    sent = json.dumps(json.loads(signed)).encode()
    headers = signed_headers(AK, SECRET, signed, NOW_MS)
    headers["Content-Type"] = "application/json"

    response = requests.post(fixed.base_url + PATH, data=sent, headers=headers, timeout=2)

    assert _code(response) == 1003


def test_header_names_are_case_insensitive(fixed: Simulator) -> None:
    body = _body()
    headers = {k.upper(): v for k, v in signed_headers(AK, SECRET, body, NOW_MS).items()}
    headers["content-type"] = "application/json"

    response = requests.post(fixed.base_url + PATH, data=body, headers=headers, timeout=2)

    assert "ACCESSKEY" in fixed.calls[-1].headers
    assert _code(response) == 0


# --- body ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"\xff\xfe{}",
        b"[]",
        b'{"type":1,"tenant_id":123,"app_key":"46oKF=os","customers":[{"full_name":"a","email":"a@b.co"}],"x":NaN}',
        _body(type=3),
        _body(type="0"),
        _body(type=True),
        _body(tenant_id="123"),
        _body(tenant_id=123.0),
        _body(app_key=""),
        _body(app_key=None),
        _body([]),
        _body([VALID] * 101),
        _body(["not an object"]),
        _body(customers={"0": VALID}),
        _body(strict_binding="true"),
        _body(strict_binding=1),
    ],
    ids=lambda b: b[:60].decode("utf-8", "replace"),
)
def test_a_malformed_body_is_1002(body: bytes, post: Post, fixed: Simulator) -> None:
    assert _code(post(body)) == 1002
    assert fixed.customers == {}


def test_a_body_without_app_key_is_1002(post: Post) -> None:
    assert _code(post(json.dumps({"type": 1, "tenant_id": 123, "customers": [VALID]}).encode())) == 1002


@pytest.mark.parametrize("top", [{"tenant_id": 124}, {"app_key": "other"}])
def test_another_accounts_tenant_or_app_key_is_1005(top: dict[str, Any], post: Post) -> None:
    assert _code(post(_body(**top))) == 1005


def test_exactly_100_customers_are_accepted(post: Post) -> None:
    customers = [{"full_name": f"n{i}", "email": f"c{i}@example.com"} for i in range(100)]

    assert _data(post(_body(customers)))["successCount"] == 100


# --- per-record rules ------------------------------------------------------------------------------------

RULE_VIOLATIONS: list[tuple[dict[str, Any], str]] = [
    ({"email": "x@example.com"}, "full_name"),
    ({"full_name": "", "email": "x@example.com"}, "full_name"),
    ({"full_name": None, "email": "x@example.com"}, "full_name"),
    ({"full_name": 42, "email": "x@example.com"}, "full_name"),
    ({"full_name": "n" * 256, "email": "x@example.com"}, "full_name"),
    ({"full_name": "n", "first_name": "f" * 129, "email": "x@example.com"}, "first_name"),
    ({"full_name": "n", "last_name": "l" * 129, "email": "x@example.com"}, "last_name"),
    ({"full_name": "n", "sms_phone": "+8618163725558"}, "sms_phone"),
    ({"full_name": "n", "sms_phone": " 18163725558"}, "sms_phone"),
    ({"full_name": "n", "whats_app_phone": "86 181 6372"}, "whats_app_phone"),
    ({"full_name": "n", "whats_app_phone": "\uff11\uff18\uff11\uff16"}, "whats_app_phone"),  # full-width digits
    ({"full_name": "n", "whats_app_phone": 8618163725558}, "whats_app_phone"),
    ({"full_name": "n", "viber_phone": "1" * 31}, "viber_phone"),
    ({"full_name": "n", "messenger": "1" * 33}, "messenger"),
    ({"full_name": "n", "instagram": "insta_user"}, "instagram"),
    ({"full_name": "n", "zalo": "12-34"}, "zalo"),
    ({"full_name": "n", "line": "l" * 51}, "line"),
    ({"full_name": "n", "email": "e" * 39 + "@example.com"}, "email"),
    ({"full_name": "n", "email": "x@example.com", "country": "c" * 51}, "country"),
    ({"full_name": "n", "email": "x@example.com", "address": "a" * 101}, "address"),
    ({"full_name": "n", "email": "x@example.com", "remark": "r" * 2001}, "remark"),
    ({"full_name": "n", "email": "x@example.com", "belong_seat_user": "s" * 129}, "belong_seat_user"),
    ({"full_name": "n", "email": "x@example.com", "birthday": "1976-4-12"}, "birthday"),
    ({"full_name": "n", "email": "x@example.com", "birthday": "1976-02-30"}, "birthday"),
    ({"full_name": "n", "email": "x@example.com", "birthday": "12/04/1976"}, "birthday"),
    ({"full_name": "n", "email": "x@example.com", "gender": 2}, "gender"),
    ({"full_name": "n", "email": "x@example.com", "gender": "1"}, "gender"),
    ({"full_name": "n", "email": "x@example.com", "gender": True}, "gender"),
    ({"full_name": "n", "email": "x@example.com", "weight": 0}, "weight"),
    ({"full_name": "n", "email": "x@example.com", "weight": 6}, "weight"),
    ({"full_name": "n", "email": "x@example.com", "weight": 2.5}, "weight"),
    ({"full_name": "n", "email": "x@example.com", "customize_field": {"k": "v"}}, "customize_field"),
    ({"full_name": "n", "email": "x@example.com", "customize_field": '["k"]'}, "customize_field"),
    ({"full_name": "n", "email": "x@example.com", "customize_field": "{k: v}"}, "customize_field"),
    ({"full_name": "n", "email": "x@example.com", "tagStr": ["a", "b"]}, "tagStr"),
    ({"full_name": "n", "email": "x@example.com", "time_zone": 8}, "time_zone"),
    ({"full_name": "n", "email": "x@example.com", "nickname": "x"}, "nickname"),
    ({"full_name": "n"}, "at least one of"),
    ({"full_name": "n", "email": "", "sms_phone": ""}, "at least one of"),
]


@pytest.mark.parametrize(("record", "named"), RULE_VIOLATIONS, ids=[n for _, n in RULE_VIOLATIONS])
def test_a_record_breaking_a_rule_becomes_a_1002_fail_item_and_the_rest_is_stored(
    record: dict[str, Any], named: str, post: Post, fixed: Simulator
) -> None:
    data = _data(post(_body([VALID, record])))

    assert data["failItems"] == [{"index": 1, "errorCode": 1002, "errorMessage": data["failItems"][0]["errorMessage"]}]
    assert named in data["failItems"][0]["errorMessage"]
    assert [item["index"] for item in data["successItems"]] == [0]
    assert (data["totalCount"], data["successCount"], data["failCount"]) == (2, 1, 1)
    assert list(fixed.customers.values()) == [VALID]


def test_fail_item_messages_never_echo_the_value(post: Post) -> None:
    record = {"full_name": "n", "sms_phone": "+8618163725558", "birthday": "1976-02-30"}

    message = _data(post(_body([record])))["failItems"][0]["errorMessage"]

    assert "8618163725558" not in message
    assert "1976" not in message
    assert "sms_phone" in message
    assert "birthday" in message


def test_a_record_at_every_maximum_length_is_accepted(post: Post, fixed: Simulator) -> None:
    record = {
        "full_name": "n" * 255,
        "first_name": "f" * 128,
        "last_name": "l" * 128,
        "sms_phone": "1" * 30,
        "whats_app_phone": "2" * 30,
        "viber_phone": "3" * 30,
        "messenger": "4" * 32,
        "instagram": "5" * 32,
        "zalo": "6" * 32,
        "line": "L" * 50,
        "country": "C" * 50,
        "email": "e" * 38 + "@example.com",
        "address": "a" * 100,
        "birthday": "2000-02-29",
        "tagStr": "vip,99",
        "remark": "r" * 2000,
        "time_zone": "GMT+8",
        "gender": 0,
        "customize_field": '{"customize_1_14":"aa"}',
        "belong_seat_user": "agent@example.com",
        "weight": 5,
    }

    data = _data(post(_body([record])))

    assert data["failItems"] == []
    assert data["successItems"] == [{"index": 0, "customerId": FIRST_CUSTOMER_ID, "whatsAppPhone": "2" * 30}]
    assert fixed.customers == {FIRST_CUSTOMER_ID: record}


def test_values_are_stored_as_sent_without_trimming(post: Post, fixed: Simulator) -> None:
    _data(post(_body([{"full_name": " zhang san", "email": " zs@example.com "}])))

    assert list(fixed.customers.values()) == [{"full_name": " zhang san", "email": " zs@example.com "}]


def test_null_fields_count_as_absent(post: Post, fixed: Simulator) -> None:
    _data(post(_body([{**VALID, "country": None, "gender": None}])))

    assert list(fixed.customers.values()) == [VALID]


def test_per_record_failures_fail_the_matching_record_with_the_given_code(post: Post, fixed: Simulator) -> None:
    fixed.per_record_failures["8618163725558"] = (12004, "blocked number")
    customers = [VALID, {"full_name": "b", "email": "b@example.com", "whats_app_phone": "8618163725558"}]

    data = _data(post(_body(customers)))

    assert data["failItems"] == [{"index": 1, "errorCode": 12004, "errorMessage": "blocked number"}]
    assert data["successCount"] == 1


_PHONE_LIKE = st.text(alphabet="0123456789 +-().\u00a0\u0661\uff11a", max_size=36)
_OPTIONAL_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "first_name": st.text(max_size=135),
    "last_name": st.text(max_size=135),
    "sms_phone": _PHONE_LIKE,
    "whats_app_phone": _PHONE_LIKE,
    "viber_phone": _PHONE_LIKE,
    "messenger": _PHONE_LIKE,
    "instagram": _PHONE_LIKE,
    "zalo": _PHONE_LIKE,
    "country": st.text(max_size=55),
    "email": st.one_of(st.emails(), st.text(max_size=60)),
    "address": st.text(max_size=105),
    "birthday": st.one_of(st.dates().map(str), st.text(max_size=12)),
    "tagStr": st.one_of(st.lists(st.text(max_size=8), max_size=4), st.text(max_size=20)),
    "time_zone": st.text(max_size=8),
    "gender": st.sampled_from([0, 1, "m", "f", "male", "Female", "x", 2, True, " 1"]),
    "customize_field": st.one_of(
        st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), st.floats(), st.integers())),
        st.text(max_size=20),
    ),
    "belong_seat_user": st.text(max_size=130),
    "weight": st.one_of(st.integers(-1, 7), st.sampled_from(["3", " 4", "\uff13", True])),
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries({"full_name": st.text(min_size=1, max_size=12), "line": st.text()}, optional=_OPTIONAL_FIELDS)
)
def test_whatever_the_models_accept_the_simulator_accepts(raw: dict[str, Any]) -> None:
    try:
        customer = validate_customer(raw)
    except CustomerValidationError:
        return
    body = BatchCreateRequest(type=1, tenant_id=123, app_key="k", customers=[customer]).to_body()

    assert record_errors(json.loads(body)["customers"][0]) == []


@pytest.mark.parametrize("value", [{"score": float("nan")}, {"score": float("inf")}, '{"score": NaN}'])
def test_the_models_refuse_nan_in_customize_field_as_the_simulator_does(value: Any) -> None:
    # Python's json reads and writes NaN/Infinity; NXCloud's JSON parser does not.
    assert record_errors({"full_name": "n", "email": "x@example.com", "customize_field": '{"score":NaN}'}) != []
    with pytest.raises(CustomerValidationError, match="customize_field"):
        validate_customer({"full_name": "n", "email": "x@example.com", "customize_field": value})


# --- seats -----------------------------------------------------------------------------------------------


def test_strict_binding_turns_an_unknown_seat_into_a_12148_fail_item(post: Post) -> None:
    customers = [VALID, {**VALID, "email": "b@example.com", "belong_seat_user": "agent1"}]

    data = _data(post(_body(customers, strict_binding=True)))

    assert data["failItems"] == [
        {
            "index": 1,
            "errorCode": 12148,
            "errorMessage": "The belonging seat agent1 does not exist. Please go to Management->Members to confirm",
        }
    ]
    assert data["successCount"] == 1


@pytest.mark.parametrize("top", [{"strict_binding": False}, {}, {"strict_binding": None}])
def test_without_strict_binding_an_unknown_seat_fails_the_whole_request(
    top: dict[str, Any], post: Post, fixed: Simulator
) -> None:
    customers = [VALID, {**VALID, "email": "b@example.com", "belong_seat_user": "agent1"}]

    response = post(_body(customers, **top))

    assert _code(response) == 12148
    assert "agent1" in response.json()["message"]
    assert fixed.customers == {}


def test_seats_can_be_added_and_removed(post: Post, fixed: Simulator) -> None:
    record = {**VALID, "belong_seat_user": "new.agent@example.com"}
    assert _code(post(_body([record]))) == 12148

    fixed.add_seat("new.agent@example.com")
    assert _code(post(_body([record]))) == 0

    fixed.remove_seat("new.agent@example.com")
    assert _code(post(_body([record]))) == 12148


# --- upsert ----------------------------------------------------------------------------------------------


def test_customer_ids_are_exact_json_integers_above_2_pow_53(post: Post) -> None:
    response = post(_body([VALID, {"full_name": "b", "sms_phone": "4915112345678"}]))

    assert b'"customerId":1214631327620775936' in response.content
    assert b'"customerId":1214631327620775937' in response.content
    assert FIRST_CUSTOMER_ID > 2**53


def test_the_same_identity_in_one_batch_gets_one_customer_id(post: Post, fixed: Simulator) -> None:
    customers = [
        {"full_name": "a", "whats_app_phone": "8618163725558"},
        {"full_name": "b", "whats_app_phone": "8618163725558", "country": "CN"},
    ]

    data = _data(post(_body(customers)))

    assert {item["customerId"] for item in data["successItems"]} == {FIRST_CUSTOMER_ID}
    assert fixed.customers == {
        FIRST_CUSTOMER_ID: {"full_name": "b", "whats_app_phone": "8618163725558", "country": "CN"}
    }


def test_a_customer_found_by_email_keeps_its_id_when_a_phone_is_added(post: Post) -> None:
    first = _data(post(_body([VALID])))
    second = _data(post(_body([{**VALID, "whats_app_phone": "8618163725558"}])))
    third = _data(post(_body([{"full_name": "x", "whats_app_phone": "8618163725558"}])))

    ids = {d["successItems"][0]["customerId"] for d in (first, second, third)}
    assert ids == {FIRST_CUSTOMER_ID}


def test_replacing_a_record_releases_its_old_contact_values(post: Post) -> None:
    _data(post(_body([{"full_name": "a", "whats_app_phone": "111", "email": "old@example.com"}], type=0)))
    _data(post(_body([{"full_name": "a", "whats_app_phone": "111", "email": "new@example.com"}], type=0)))

    data = _data(post(_body([{"full_name": "c", "email": "old@example.com"}])))

    assert data["successItems"][0]["customerId"] == FIRST_CUSTOMER_ID + 1


def test_type_one_merges_only_non_empty_fields(post: Post, fixed: Simulator) -> None:
    _data(post(_body([{**VALID, "country": "UK", "remark": "first"}])))
    _data(post(_body([{**VALID, "country": "", "remark": "second", "weight": 3}])))

    assert fixed.customers[FIRST_CUSTOMER_ID] == {**VALID, "country": "UK", "remark": "second", "weight": 3}


def test_type_two_stores_a_new_customer_and_keeps_an_existing_one(post: Post, fixed: Simulator) -> None:
    new = _data(post(_body([{**VALID, "country": "UK"}], type=2)))
    kept = _data(post(_body([{**VALID, "full_name": "Other", "country": "FR"}], type=2)))

    assert new["successItems"][0]["customerId"] == kept["successItems"][0]["customerId"] == FIRST_CUSTOMER_ID
    assert fixed.customers[FIRST_CUSTOMER_ID] == {**VALID, "country": "UK"}


def test_type_zero_replaces_the_whole_record(post: Post, fixed: Simulator) -> None:
    _data(post(_body([{**VALID, "country": "UK", "remark": "old"}], type=0)))
    _data(post(_body([{**VALID, "full_name": "New Name"}], type=0)))

    assert fixed.customers == {FIRST_CUSTOMER_ID: {**VALID, "full_name": "New Name"}}


# --- faults ----------------------------------------------------------------------------------------------


def test_an_injected_fault_applies_to_the_next_n_calls_only(post: Post, fixed: Simulator) -> None:
    fixed.inject("http_500", count=2)

    statuses = [post(_body()).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert fixed.stats()["faults_injected"] == {"http_500": 2}


def test_injected_faults_are_served_in_order(post: Post, fixed: Simulator) -> None:
    fixed.inject("http_429")
    fixed.inject("code", code=1004, message="clock says no")
    fixed.inject("garbage")

    first, second, third, fourth = (post(_body()) for _ in range(4))

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "1"
    assert (_code(second), second.json()["message"]) == (1004, "clock says no")
    assert third.status_code == 200
    with pytest.raises(ValueError):
        third.json()
    assert _code(fourth) == 0


def test_a_code_fault_stores_nothing(post: Post, fixed: Simulator) -> None:
    fixed.inject("code", code=12148)

    response = post(_body())

    assert _code(response) == 12148
    assert "belonging seat" in response.json()["message"]
    assert fixed.customers == {}


def test_store_then_500_stores_the_customers_but_loses_the_answer(post: Post, fixed: Simulator) -> None:
    fixed.inject("store_then_500")

    response = post(_body())

    assert response.status_code == 500
    assert list(fixed.customers.values()) == [VALID]
    assert fixed.calls[-1].code == 0


def test_clear_faults_drops_pending_faults_and_chaos(post: Post, fixed: Simulator) -> None:
    fixed.inject("http_500", count=5)
    fixed.chaos(1, {"http_429": 1.0})

    fixed.clear_faults()

    assert _code(post(_body())) == 0


def test_chaos_is_reproducible_for_a_seed(simulator_factory: Callable[..., Simulator]) -> None:
    def run(seed: int) -> list[int | None]:
        sim = simulator_factory(clock=lambda: NOW)
        sim.chaos(seed, {"http_500": 0.3, "code:1004": 0.2, "garbage": 0.1})
        body = _body()
        headers = {**signed_headers(AK, SECRET, body, NOW_MS), "Content-Type": "application/json"}
        with requests.Session() as session:
            for _ in range(40):
                session.post(sim.base_url + PATH, data=body, headers=headers, timeout=2)
        return [call.http_status if call.code is None else call.code for call in sim.calls]

    first, again, other = run(7), run(7), run(8)

    assert first == again
    assert first != other
    assert {1004, 500, 0} <= set(first)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.inject("meteor"), "unknown fault"),
        (lambda s: s.inject("code"), "needs a code"),
        (lambda s: s.inject("http_500", count=0), "at least 1"),
        (lambda s: s.chaos(1, {"http_500": 0.7, "http_429": 0.4}), "more than 1"),
        (lambda s: s.chaos(1, {"code": 0.1}), "needs a code"),
    ],
)
def test_bad_fault_requests_are_refused(call: Callable[[Simulator], None], message: str, fixed: Simulator) -> None:
    with pytest.raises(ValueError, match=message):
        call(fixed)


def test_stop_returns_promptly_while_a_call_hangs(simulator_factory: Callable[..., Simulator]) -> None:
    sim = simulator_factory(hang_seconds=60)
    sim.inject("timeout")
    body = _body()
    headers = {**signed_headers(AK, SECRET, body, time.time_ns() // 1_000_000), "Content-Type": "application/json"}
    errors: list[BaseException] = []

    def call() -> None:
        try:
            requests.post(sim.base_url + PATH, data=body, headers=headers, timeout=30)
        except requests.RequestException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while not sim.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.calls[0].fault == "timeout"

    started = time.monotonic()
    sim.stop()
    caller.join(timeout=5)

    assert time.monotonic() - started < 2
    assert not caller.is_alive()
    assert len(errors) == 1


# --- records, stats, introspection -----------------------------------------------------------------------


def test_calls_record_what_was_received_and_answered(post: Post, fixed: Simulator) -> None:
    body = _body([VALID, VALID])
    response = post(body)

    (call,) = fixed.calls
    assert call.body == body
    assert call.headers["accessKey"] == AK
    assert call.headers["ts"] == str(NOW_MS)
    assert (call.http_status, call.code, call.customer_count) == (200, 0, 2)
    assert call.trace_id == response.json()["traceId"]
    assert call.time == NOW
    assert call.fault is None


def test_stats_count_calls_outcomes_items_and_faults(post: Post, fixed: Simulator) -> None:
    post(_body([VALID, {"full_name": "no contact"}]))
    post(_body(), secret="wrong")
    fixed.inject("http_500")
    post(_body())
    fixed.inject("garbage")
    post(_body())

    assert fixed.stats() == {
        "calls": 4,
        "ok": 1,
        "failed_by_code": {"1003": 1},
        "failed_by_http_status": {"500": 1},
        "unanswered": 0,
        "garbled": 1,
        "stored": 1,
        "success_items": 1,
        "fail_items": 1,
        "faults_injected": {"http_500": 1, "garbage": 1},
    }


def test_reset_forgets_calls_customers_faults_and_seat_changes(post: Post, fixed: Simulator) -> None:
    post(_body())
    fixed.inject("http_500")
    fixed.per_record_failures["ada@example.com"] = (1, "x")
    fixed.remove_seat("agent@example.com")

    fixed.reset()

    assert (fixed.calls, fixed.customers, fixed.per_record_failures) == ([], {}, {})
    assert "agent@example.com" in fixed.seats
    assert _data(post(_body()))["successItems"][0]["customerId"] == FIRST_CUSTOMER_ID


def test_introspection_endpoints_drive_and_show_the_state(post: Post, fixed: Simulator) -> None:
    base = fixed.base_url
    assert requests.post(base + "/_sim/faults", json={"fault": "code", "code": 1005}, timeout=2).status_code == 200
    assert _code(post(_body())) == 1005
    _data(post(_body()))

    state = requests.get(base + "/_sim/state", timeout=2)
    assert state.json()["stats"]["calls"] == 2
    assert state.json()["customers"] == [{"customerId": FIRST_CUSTOMER_ID, **VALID}]
    assert b'"customerId":1214631327620775936' in state.content

    requests.post(base + "/_sim/faults", json={"fault": "http_500", "count": 3}, timeout=2)
    assert requests.get(base + "/_sim/state", timeout=2).json()["pending_faults"] == [
        {"fault": "http_500", "remaining": 3, "code": None}
    ]
    assert requests.delete(base + "/_sim/faults", timeout=2).status_code == 200
    requests.post(base + "/_sim/chaos", json={"seed": 3, "rates": {"http_429": 1.0}}, timeout=2)
    assert post(_body()).status_code == 429

    assert requests.post(base + "/_sim/reset", timeout=2).status_code == 200
    assert fixed.stats()["calls"] == 0
    assert fixed.customers == {}


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/_sim/faults", {"fault": "meteor"}),
        ("/_sim/faults", {"fault": "code"}),
        ("/_sim/faults", ["http_500"]),
        ("/_sim/chaos", {"seed": 1}),
        ("/_sim/chaos", {"seed": 1, "rates": {"http_500": 2}}),
    ],
)
def test_bad_introspection_requests_get_400(path: str, payload: Any, fixed: Simulator) -> None:
    response = requests.post(fixed.base_url + path, json=payload, timeout=2)

    assert response.status_code == 400
    assert "error" in response.json()


def test_a_non_json_content_type_is_415(post: Post, fixed: Simulator) -> None:
    assert post(_body(), content_type="text/plain").status_code == 415
    assert fixed.calls[-1].http_status == 415


def test_wrong_method_and_path_are_refused(fixed: Simulator) -> None:
    assert requests.get(fixed.base_url + PATH, timeout=2).status_code == 405
    assert requests.post(fixed.base_url + "/saas/other", data=b"{}", timeout=2).status_code == 404


def test_nothing_secret_or_personal_is_logged(post: Post, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=logger.name)
    post(_body([{"full_name": "Ada Lovelace", "email": "ada@example.com", "sms_phone": "4915112345678"}]))
    post(_body([{"full_name": "Bad", "sms_phone": "+49 151"}]))

    # The raw records, before the logger's redaction: the simulator must not rely on it.
    logged = " ".join(str(record.__dict__) for record in caplog.records)
    assert "batch_create" in logged
    for secret_or_pii in ("demo-secret", "Ada Lovelace", "ada@example.com", "4915112345678", "+49 151"):
        assert secret_or_pii not in logged


# --- command line ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_simulator_subcommand_is_registered() -> None:
    args = build_parser().parse_args(["simulator", "--port", "0", "--seat", "a@example.com", "--tenant-id", "7"])

    assert args.func is serve
    assert (args.port, args.seats, args.tenant_id) == (0, ["a@example.com"], 7)


@pytest.mark.parametrize(
    ("command", "stop_with"),
    [(["-m", "nxbridge_dev.simulator"], signal.SIGINT), (["-m", "nxbridge", "simulator"], signal.SIGTERM)],
    ids=["python -m nxbridge_dev.simulator + Ctrl-C", "nxbridge simulator + SIGTERM"],
)
def test_the_command_serves_signed_requests_and_exits_cleanly(command: list[str], stop_with: signal.Signals) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, *command, "--port", str(port), "--access-secret", "s3cret", "--hang-seconds", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "POWERTOOLS_LOG_LEVEL": "WARNING"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(base + "/_sim/state", timeout=0.5)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.05)
        client = NXCloudClient(base, read_timeout=2)
        credentials = NXCloudCredentials.model_validate({"accessKey": AK, "accessSecret": "s3cret"})

        outcome = client.send(_body(), credentials)

        assert getattr(outcome, "result", None) is not None, outcome
    finally:
        process.send_signal(stop_with)
        stdout, stderr = process.communicate(timeout=10)

    assert process.returncode == 0, stderr
    assert f"listening on {base}" in stdout.decode()
    assert "/_sim/state" in stdout.decode()
