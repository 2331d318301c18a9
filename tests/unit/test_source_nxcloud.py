"""Bulk imports in NXCloud's own customer shape."""

from __future__ import annotations

import pytest

from nxbridge.contract import CustomerValidationError
from nxbridge.sources import InvalidPayload
from tests.fixtures.ingest import customers_of

ONE = {"full_name": "Ahmed Hassan", "whats_app_phone": "+971 50 123 4567", "tagStr": ["vip", "import"]}


def test_a_customers_list_and_a_single_customer_object_are_both_accepted() -> None:
    expected = {"full_name": "Ahmed Hassan", "whats_app_phone": "971501234567", "tagStr": "vip,import"}

    assert customers_of("nxcloud", {"customers": [ONE, ONE]}) == [expected, expected]
    assert customers_of("nxcloud", ONE) == [expected]


@pytest.mark.parametrize(
    "payload",
    [{"customers": []}, {"customers": [ONE] * 101}, {"customers": {"full_name": "x"}}],
    ids=["empty", "over-100", "not-a-list"],
)
def test_between_1_and_100_customers_are_accepted(payload: object) -> None:
    with pytest.raises(InvalidPayload):
        customers_of("nxcloud", payload)


def test_the_per_endpoint_limit_can_be_lower() -> None:
    with pytest.raises(InvalidPayload):
        customers_of("nxcloud", {"customers": [ONE] * 3}, nxcloud={"max_customers": 2})


def test_non_object_customers_are_reported_by_index() -> None:
    with pytest.raises(InvalidPayload) as caught:
        customers_of("nxcloud", {"customers": [ONE, "Ahmed"]})

    assert [(p.index, p.reason) for p in caught.value.problems] == [(1, "is not a JSON object")]


def test_text_is_not_trimmed_and_unknown_fields_are_refused() -> None:
    with pytest.raises(CustomerValidationError) as too_long:
        customers_of("nxcloud", dict(ONE, address="x" * 101))
    with pytest.raises(CustomerValidationError) as unknown:
        customers_of("nxcloud", dict(ONE, nickname="Ahmed"))

    assert [e.field for e in too_long.value.errors] == ["address"]
    assert [(e.field, e.reason) for e in unknown.value.errors] == [("nickname", "is not a field NXCloud knows")]


def test_endpoint_defaults_still_apply() -> None:
    [customer] = customers_of("nxcloud", ONE, defaults={"tagStr": "bulk", "time_zone": "GMT+4"})

    assert customer["tagStr"] == "vip,import,bulk"
    assert customer["time_zone"] == "GMT+4"
