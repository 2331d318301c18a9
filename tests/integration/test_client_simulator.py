"""NXCloudClient against the strict simulator over real loopback HTTP: what the client sends is what NXCloud
accepts, and every way a call can fail comes back as the right FailureClass."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

import pytest
import requests

from nxbridge.contract import BatchCreateRequest, Customer, validate_customer
from nxbridge.nxcloud.client import (
    PATH,
    Delivered,
    FailureClass,
    NXCloudClient,
    NXCloudCredentials,
    Outcome,
    RequestFailed,
    parse_response,
)
from nxbridge.nxcloud.signing import signed_headers
from nxbridge_dev.simulator import FIRST_CUSTOMER_ID, Simulator

TENANT = 123
APP_KEY = "46oKF=os"


def _customer(**fields: Any) -> Customer:
    return validate_customer({"full_name": "Ada Lovelace", **fields})


def _request(*customers: Customer, kind: Literal[0, 1, 2] = 1, strict: bool = False) -> BatchCreateRequest:
    return BatchCreateRequest(
        type=kind,
        tenant_id=TENANT,
        app_key=APP_KEY,
        strict_binding=strict,
        customers=list(customers),
    )


def _delivered(outcome: Outcome) -> Delivered:
    assert isinstance(outcome, Delivered), outcome
    return outcome


def _failed(outcome: Outcome) -> RequestFailed:
    assert isinstance(outcome, RequestFailed), outcome
    return outcome


def _other(credentials: NXCloudCredentials, **changes: str) -> NXCloudCredentials:
    data = {
        "accessKey": credentials.access_key,
        "accessSecret": credentials.access_secret.get_secret_value(),
        "tenantId": credentials.tenant_id,
        "appKey": credentials.app_key,
    }
    return NXCloudCredentials.model_validate({**data, **changes})


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_a_signed_request_gets_code_zero_and_exact_64_bit_customer_ids(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    request = _request(
        _customer(whats_app_phone="+86 181-6372-5558"),
        _customer(full_name="Grace Hopper", email="grace@example.com"),
    )

    outcome = _delivered(nxcloud_client.batch_create(request, nxcloud_credentials))

    assert outcome.result.successCount == 2
    assert outcome.result.failItems == []
    ids = [item.customerId for item in outcome.result.successItems]
    assert ids == [FIRST_CUSTOMER_ID, FIRST_CUSTOMER_ID + 1]
    assert all(isinstance(i, int) and i > 2**53 for i in ids)
    assert sorted(simulator.customers) == ids
    assert outcome.result.successItems[0].whatsAppPhone == "8618163725558"
    assert outcome.trace_id is not None
    assert outcome.trace_id == simulator.calls[-1].trace_id


def test_the_simulator_receives_exactly_the_bytes_of_to_body(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    request = _request(_customer(full_name="张三", email="zs@example.com", customize_field={"k": "値"}))

    _delivered(nxcloud_client.batch_create(request, nxcloud_credentials))

    (call,) = simulator.calls
    assert call.body == request.to_body()
    assert call.headers["Content-Type"] == "application/json"
    assert call.customer_count == 1


@pytest.mark.parametrize("name", ["张三", "Zoë Ångström", "Đặng Thị Hương", "محمد", "🙂 smile"])
def test_non_ascii_names_are_signed_correctly_and_stored_unchanged(
    name: str, simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    request = _request(_customer(full_name=name, first_name=name, sms_phone="4915112345678"))

    outcome = _delivered(nxcloud_client.batch_create(request, nxcloud_credentials))

    stored = simulator.customers[outcome.result.successItems[0].customerId]
    assert stored["full_name"] == name
    assert stored["first_name"] == name
    assert name.encode("utf-8") in simulator.calls[-1].body


def test_a_request_signed_with_another_secret_gets_1003_classified_auth(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    wrong = _other(nxcloud_credentials, accessSecret="not-the-secret")

    outcome = _failed(nxcloud_client.batch_create(_request(_customer(email="a@example.com")), wrong))

    assert (outcome.code, outcome.failure) == (1003, FailureClass.AUTH)
    assert simulator.customers == {}


def test_a_body_tampered_after_signing_gets_1003(simulator: Simulator) -> None:
    signed = _request(_customer(email="a@example.com")).to_body()
    sent = signed.replace(b"Ada Lovelace", b"Eve Attacker")
    headers = signed_headers("fme2na3kdi3ki", "demo-secret", signed, _now_ms())

    with requests.Session() as session:
        response = session.post(
            simulator.base_url + PATH,
            data=sent,
            headers={**headers, "Content-Type": "application/json"},
            timeout=2,
        )

    assert response.status_code == 200
    assert response.json()["code"] == 1003
    assert response.json()["data"] is None
    assert simulator.customers == {}


@pytest.mark.parametrize("skew_ms", [-120_000, 120_000])
def test_a_ts_two_minutes_off_gets_1004_classified_retryable(
    skew_ms: int, simulator: Simulator, nxcloud_credentials: NXCloudCredentials
) -> None:
    client = NXCloudClient(simulator.base_url, read_timeout=1.0, clock_ms=lambda: _now_ms() + skew_ms)

    outcome = _failed(client.batch_create(_request(_customer(email="a@example.com")), nxcloud_credentials))

    assert (outcome.code, outcome.failure) == (1004, FailureClass.RETRYABLE)


def test_an_unknown_access_key_gets_1005_classified_auth(
    nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    stranger = _other(nxcloud_credentials, accessKey="someone-else")

    outcome = _failed(nxcloud_client.batch_create(_request(_customer(email="a@example.com")), stranger))

    assert (outcome.code, outcome.failure) == (1005, FailureClass.AUTH)


def test_another_tenant_gets_1005_classified_auth(
    nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    request = BatchCreateRequest(type=1, tenant_id=999, app_key=APP_KEY, customers=[_customer(email="a@example.com")])

    outcome = _failed(nxcloud_client.batch_create(request, nxcloud_credentials))

    assert (outcome.code, outcome.failure) == (1005, FailureClass.AUTH)


@pytest.mark.parametrize("dropped", ["accessKey", "ts", "bizType", "action", "sign"])
def test_a_missing_header_gets_1001_classified_config(dropped: str, simulator: Simulator) -> None:
    body = _request(_customer(email="a@example.com")).to_body()
    headers = signed_headers("fme2na3kdi3ki", "demo-secret", body, _now_ms())
    del headers[dropped]

    with requests.Session() as session:
        response = session.post(
            simulator.base_url + PATH, data=body, headers={**headers, "Content-Type": "application/json"}, timeout=2
        )

    outcome = _failed(parse_response(response.status_code, response.content))
    assert (outcome.code, outcome.failure) == (1001, FailureClass.CONFIG)
    assert dropped in outcome.message


def test_every_attempt_is_signed_with_a_fresh_ts(simulator: Simulator, nxcloud_credentials: NXCloudCredentials) -> None:
    ticks = iter(range(_now_ms(), _now_ms() + 10_000, 1_000))
    client = NXCloudClient(simulator.base_url, read_timeout=1.0, clock_ms=lambda: next(ticks))
    request = _request(_customer(email="a@example.com"))

    _delivered(client.batch_create(request, nxcloud_credentials))
    _delivered(client.batch_create(request, nxcloud_credentials))

    first, second = simulator.calls
    assert first.headers["ts"] != second.headers["ts"]
    assert first.headers["sign"] != second.headers["sign"]
    assert first.body == second.body


@pytest.mark.parametrize(
    ("fault", "code", "expected"),
    [
        ("http_500", None, FailureClass.RETRYABLE),
        ("http_429", None, FailureClass.RETRYABLE),
        ("timeout", None, FailureClass.RETRYABLE),
        ("garbage", None, FailureClass.RETRYABLE),
        ("store_then_500", None, FailureClass.RETRYABLE),
        ("code", 1002, FailureClass.RECORD),
        ("code", 12148, FailureClass.RECORD),
        ("code", 99999, FailureClass.RECORD),
        ("code", 1001, FailureClass.CONFIG),
        ("code", 1003, FailureClass.AUTH),
        ("code", 1005, FailureClass.AUTH),
        ("code", 1004, FailureClass.RETRYABLE),
    ],
)
def test_every_fault_is_classified(
    fault: str,
    code: int | None,
    expected: FailureClass,
    simulator: Simulator,
    nxcloud_credentials: NXCloudCredentials,
) -> None:
    client = NXCloudClient(simulator.base_url, connect_timeout=0.5, read_timeout=0.3)
    request = _request(_customer(email="a@example.com"))
    simulator.inject(fault, code=code)

    outcome = _failed(client.batch_create(request, nxcloud_credentials))

    assert outcome.failure is expected
    assert outcome.code == code
    # The fault was for one call only: the next one is delivered.
    _delivered(client.batch_create(request, nxcloud_credentials))


def test_a_timeout_comes_back_within_the_read_timeout(
    simulator: Simulator, nxcloud_credentials: NXCloudCredentials
) -> None:
    client = NXCloudClient(simulator.base_url, connect_timeout=0.5, read_timeout=0.3)
    simulator.inject("timeout")

    started = time.monotonic()
    outcome = _failed(client.batch_create(_request(_customer(email="a@example.com")), nxcloud_credentials))

    assert outcome.message == "timeout"
    assert time.monotonic() - started < simulator.hang_seconds


def test_a_refused_connection_is_retryable(simulator_factory: Callable[..., Simulator]) -> None:
    closed = simulator_factory()
    url = closed.base_url
    closed.stop()
    client = NXCloudClient(url, connect_timeout=0.5, read_timeout=0.5)
    credentials = NXCloudCredentials.model_validate({"accessKey": "k", "accessSecret": "s"})

    outcome = _failed(client.batch_create(_request(_customer(email="a@example.com")), credentials))

    assert outcome.failure is FailureClass.RETRYABLE
    assert outcome.error_code == "transport"


def test_a_lost_answer_is_retried_safely_because_upserts_keep_the_customer_id(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    request = _request(_customer(whats_app_phone="8618163725558"))
    simulator.inject("store_then_500")

    lost = _failed(nxcloud_client.batch_create(request, nxcloud_credentials))
    retried = _delivered(nxcloud_client.batch_create(request, nxcloud_credentials))

    assert lost.http_status == 500
    assert retried.result.successItems[0].customerId == FIRST_CUSTOMER_ID
    assert list(simulator.customers) == [FIRST_CUSTOMER_ID]


def test_strict_binding_fails_only_the_seatless_record(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    request = _request(
        _customer(email="a@example.com", belong_seat_user="agent@example.com"),
        _customer(email="b@example.com", belong_seat_user="agent1"),
        _customer(email="c@example.com"),
        strict=True,
    )

    outcome = _delivered(nxcloud_client.batch_create(request, nxcloud_credentials))

    assert [(f.index, f.errorCode) for f in outcome.result.failItems] == [(1, 12148)]
    assert outcome.result.failItems[0].errorMessage == (
        "The belonging seat agent1 does not exist. Please go to Management->Members to confirm"
    )
    assert [s.index for s in outcome.result.successItems] == [0, 2]
    assert (outcome.result.totalCount, outcome.result.successCount, outcome.result.failCount) == (3, 2, 1)
    assert len(simulator.customers) == 2


def test_without_strict_binding_a_seatless_record_fails_the_whole_request_and_stores_nothing(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    request = _request(
        _customer(email="a@example.com"),
        _customer(email="b@example.com", belong_seat_user="agent1"),
        strict=False,
    )

    outcome = _failed(nxcloud_client.batch_create(request, nxcloud_credentials))

    assert (outcome.code, outcome.failure) == (12148, FailureClass.RECORD)
    assert "agent1" in outcome.message
    assert simulator.customers == {}


def test_upsert_keeps_the_customer_id_and_type_zero_replaces_the_record(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    first = _request(_customer(whats_app_phone="8618163725558", country="China"), kind=0)
    second = _request(_customer(full_name="Ada King", whats_app_phone="8618163725558"), kind=0)

    id_1 = _delivered(nxcloud_client.batch_create(first, nxcloud_credentials)).result.successItems[0].customerId
    id_2 = _delivered(nxcloud_client.batch_create(second, nxcloud_credentials)).result.successItems[0].customerId

    assert id_1 == id_2
    assert simulator.customers == {id_1: {"full_name": "Ada King", "whats_app_phone": "8618163725558"}}


def test_type_one_merges_new_fields_over_the_old_record(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    _delivered(
        nxcloud_client.batch_create(_request(_customer(email="a@example.com", country="UK")), nxcloud_credentials)
    )
    outcome = nxcloud_client.batch_create(_request(_customer(email="a@example.com", remark="VIP")), nxcloud_credentials)

    customer_id = _delivered(outcome).result.successItems[0].customerId
    assert simulator.customers[customer_id] == {
        "full_name": "Ada Lovelace",
        "email": "a@example.com",
        "country": "UK",
        "remark": "VIP",
    }


def test_type_two_keeps_the_old_data_and_returns_the_existing_id(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    old = _request(_customer(sms_phone="4915112345678", country="DE"), kind=2)
    new = _request(_customer(full_name="Somebody Else", sms_phone="4915112345678", country="FR"), kind=2)

    id_old = _delivered(nxcloud_client.batch_create(old, nxcloud_credentials)).result.successItems[0].customerId
    id_new = _delivered(nxcloud_client.batch_create(new, nxcloud_credentials)).result.successItems[0].customerId

    assert id_old == id_new
    assert simulator.customers[id_old] == {"full_name": "Ada Lovelace", "sms_phone": "4915112345678", "country": "DE"}


def test_101_customers_get_1002(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    # The models refuse 101 customers, so the body is built by hand to prove the server refuses it too.
    body = json.dumps(
        {
            "type": 1,
            "tenant_id": TENANT,
            "app_key": APP_KEY,
            "customers": [{"full_name": f"n{i}", "email": f"c{i}@example.com"} for i in range(101)],
        }
    ).encode()

    outcome = _failed(nxcloud_client.send(body, nxcloud_credentials))

    assert (outcome.code, outcome.failure) == (1002, FailureClass.RECORD)
    assert simulator.customers == {}


def test_100_customers_are_accepted(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    request = _request(*[_customer(email=f"c{i}@example.com") for i in range(100)])

    outcome = _delivered(nxcloud_client.batch_create(request, nxcloud_credentials))

    assert outcome.result.successCount == 100
    assert len(set(simulator.customers)) == 100


def test_per_record_rule_violations_become_fail_items_while_the_rest_is_stored(
    simulator: Simulator, nxcloud_client: NXCloudClient, nxcloud_credentials: NXCloudCredentials
) -> None:
    # Raw records the bridge's models would refuse (or normalize): the simulator must catch them itself.
    customers = [
        {"full_name": "ok", "email": "ok@example.com"},
        {"full_name": "spaced", "sms_phone": " 18163725558"},
        {"full_name": "", "email": "b@example.com"},
        {"full_name": "no contact"},
        {"full_name": "bad date", "email": "c@example.com", "birthday": "1976-02-30"},
        {"full_name": "nick", "email": "d@example.com", "nickname": "x"},
    ]
    body = json.dumps({"type": 1, "tenant_id": TENANT, "app_key": APP_KEY, "customers": customers}).encode()

    outcome = _delivered(nxcloud_client.send(body, nxcloud_credentials))

    fails = {f.index: (f.errorCode, f.errorMessage or "") for f in outcome.result.failItems}
    assert sorted(fails) == [1, 2, 3, 4, 5]
    assert all(code == 1002 for code, _ in fails.values())
    assert "sms_phone" in fails[1][1]
    assert "full_name" in fails[2][1]
    assert "at least one of" in fails[3][1]
    assert "birthday" in fails[4][1]
    assert "nickname" in fails[5][1]
    assert [s.index for s in outcome.result.successItems] == [0]
    assert len(simulator.customers) == 1
