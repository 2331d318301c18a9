"""parse_response: every NXCloud answer becomes a typed, classified outcome, without any network."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from nxbridge.contract.batch import BatchCreateResponse
from nxbridge.nxcloud.client import (
    CODE_CLASSES,
    Delivered,
    FailureClass,
    RequestFailed,
    classify_code,
    parse_response,
)

TRACE = "56bf81643292cd6a89ecde64ae00db13"
# Raw text, not json.dumps of a float: the ids are above 2**53 and must survive digit for digit.
SUCCESS = (
    b'{"code":0,"message":null,"traceId":"de31e85fdcc9489f9a7b8c99193b9a93","data":{"totalCount":3,'
    b'"successCount":2,"failCount":1,"failItems":[{"index":1,"errorCode":12148,"errorMessage":"The belonging seat '
    b'agent1 does not exist. Please go to Management->Members to confirm"}],"successItems":[{"index":0,'
    b'"customerId":1214631327620775936,"whatsAppPhone":"8618163725558"},{"index":2,'
    b'"customerId":9007199254740993,"whatsAppPhone":null}]}}'
)


def _error(code: int, message: str | None = "boom") -> bytes:
    return json.dumps({"code": code, "message": message, "traceId": TRACE, "data": None}).encode()


def test_code_zero_is_delivered_with_exact_customer_ids_and_per_index_items() -> None:
    outcome = parse_response(200, SUCCESS, 12.5)

    assert isinstance(outcome, Delivered)
    assert outcome.trace_id == "de31e85fdcc9489f9a7b8c99193b9a93"
    assert outcome.latency_ms == 12.5
    assert [(s.index, s.customerId) for s in outcome.result.successItems] == [
        (0, 1214631327620775936),
        (2, 9007199254740993),
    ]
    assert float(9007199254740993) != 9007199254740993  # the second id is not representable as a float
    assert [(f.index, f.errorCode) for f in outcome.result.failItems] == [(1, 12148)]
    assert outcome.result.totalCount == 3


def test_code_zero_without_data_is_retryable() -> None:
    outcome = parse_response(200, b'{"code":0,"message":null,"traceId":"t","data":null}')

    assert isinstance(outcome, RequestFailed)
    assert outcome.failure is FailureClass.RETRYABLE
    assert outcome.code == 0


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (1001, FailureClass.CONFIG),
        (1002, FailureClass.RECORD),
        (1003, FailureClass.AUTH),
        (1004, FailureClass.RETRYABLE),
        (1005, FailureClass.AUTH),
        (12148, FailureClass.RECORD),
        (99999, FailureClass.RECORD),
        (-1, FailureClass.RECORD),
    ],
)
def test_whole_request_codes_are_classified_per_the_contract(code: int, expected: FailureClass) -> None:
    outcome = parse_response(200, _error(code, "the message"))

    assert isinstance(outcome, RequestFailed)
    assert outcome.failure is expected
    assert outcome.code == code
    assert outcome.error_code == str(code)
    assert outcome.message == "the message"
    assert outcome.trace_id == TRACE
    assert outcome.http_status == 200


def test_a_null_message_becomes_an_empty_string() -> None:
    outcome = parse_response(200, _error(1003, None))

    assert isinstance(outcome, RequestFailed)
    assert outcome.message == ""


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_throttling_and_server_errors_are_retryable_whatever_the_body(status: int) -> None:
    # Even an NXCloud-shaped body: the status decides, nothing was necessarily stored.
    outcome = parse_response(status, _error(1003))

    assert isinstance(outcome, RequestFailed)
    assert outcome.failure is FailureClass.RETRYABLE
    assert outcome.code is None
    assert outcome.http_status == status
    assert outcome.error_code == f"http_{status}"


@pytest.mark.parametrize(
    "content",
    [b"<html>upstream hiccup", b"", b"[]", b'{"status":"ok"}', b'{"code":"zero"}', b"\xff\xfe"],
)
def test_a_200_that_is_not_nxcloud_json_is_retryable(content: bytes) -> None:
    outcome = parse_response(200, content)

    assert isinstance(outcome, RequestFailed)
    assert outcome.failure is FailureClass.RETRYABLE
    assert outcome.code is None
    assert outcome.error_code == "http_200"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 415])
def test_a_client_error_without_nxcloud_json_is_configuration(status: int) -> None:
    outcome = parse_response(status, b"<html>Not Found</html>")

    assert isinstance(outcome, RequestFailed)
    assert outcome.failure is FailureClass.CONFIG


def test_a_request_timeout_status_without_json_is_retryable() -> None:
    outcome = parse_response(408, b"Request Timeout")

    assert isinstance(outcome, RequestFailed)
    assert outcome.failure is FailureClass.RETRYABLE


def test_a_transport_failure_without_status_or_code_reports_transport() -> None:
    assert RequestFailed(FailureClass.RETRYABLE, None, "timeout").error_code == "transport"


def test_classify_code_knows_the_contract_codes_and_isolates_unknown_ones() -> None:
    assert {code: classify_code(code) for code in CODE_CLASSES} == CODE_CLASSES
    assert classify_code(424242) is FailureClass.RECORD


def test_code_0_with_null_lists_counts_and_numeric_phone_is_still_delivered() -> None:
    body = (
        b'{"code":0,"message":null,"traceId":"t","data":{"totalCount":1,"successCount":1,"failCount":null,'
        b'"failItems":null,"successItems":[{"index":0,"customerId":1214631327620775937,"whatsAppPhone":8618163725558}]}}'
    )
    outcome = parse_response(200, body)
    assert isinstance(outcome, Delivered)
    assert outcome.result.failItems == []
    assert outcome.result.failCount == 0
    assert outcome.result.successItems[0].customerId == 1214631327620775937
    assert outcome.result.successItems[0].whatsAppPhone == "8618163725558"


def test_customer_id_sent_as_a_string_stays_exact() -> None:
    body = (
        b'{"code":0,"traceId":"t","data":{"successItems":[{"index":0,"customerId":"1214631327620775937"}],'
        b'"failItems":[{"index":1,"errorCode":"12148","errorMessage":null}]}}'
    )
    outcome = parse_response(200, body)
    assert isinstance(outcome, Delivered)
    assert outcome.result.successItems[0].customerId == 1214631327620775937
    assert outcome.result.failItems[0].errorCode == 12148


# Answers that break the contract's shapes: each is "not NXCloud JSON", so a stored batch is never guessed at.
MALFORMED = [
    b'{"message":"no code","traceId":"t","data":null}',
    b'{"code":"zero","traceId":"t"}',
    b'{"code":0.5,"traceId":"t"}',
    b'{"code":0,"traceId":"t","data":"stored"}',
    b'{"code":0,"traceId":"t","data":{"successItems":{"index":0,"customerId":1}}}',
    b'{"code":0,"traceId":"t","data":{"successItems":[{"customerId":1}]}}',
    b'{"code":0,"traceId":"t","data":{"successItems":[{"index":0}]}}',
    b'{"code":0,"traceId":"t","data":{"successItems":[{"index":0,"customerId":1.5}]}}',
    b'{"code":0,"traceId":"t","data":{"successItems":[{"index":0,"customerId":null}]}}',
    b'{"code":0,"traceId":"t","data":{"successItems":[{"index":"first","customerId":1}]}}',
    b'{"code":0,"traceId":"t","data":{"failItems":[{"index":1}]}}',
    b'{"code":0,"traceId":"t","data":{"failItems":[{"index":1,"errorCode":"seat"}]}}',
    b'{"code":0,"traceId":"t","data":{"failItems":[7]}}',
    b'{"code":0,"traceId":"t","data":{"totalCount":"many"}}',
    b'[{"code":0}]',
]
# Answers the contract's lenient reading accepts: nulls, numbers for text, strings for numbers, unknown keys.
LENIENT = [
    SUCCESS,
    b'{"code":0,"message":7,"traceId":12,"data":{"failItems":null,"successItems":null,"totalCount":null}}',
    b'{"code":0,"traceId":"t","extra":{"a":1},"data":{"successItems":[{"index":"0","customerId":"12",'
    b'"whatsAppPhone":8618163725558,"new":true}],"failItems":[{"index":1,"errorCode":"1002","errorMessage":["x"]}]}}',
    b'{"code":0,"traceId":null,"data":{"successItems":[{"index":0,"customerId":1,"whatsAppPhone":{"cc":86}}]}}',
    b'{"code":0,"data":{}}',
    b'{"code":12148,"message":null,"traceId":"t","data":null}',
    b'{"code":1004}',
]


@pytest.mark.parametrize("content", MALFORMED)
def test_an_answer_out_of_the_contracts_shape_is_not_nxcloud_json(content: bytes) -> None:
    with pytest.raises(ValidationError):
        BatchCreateResponse.model_validate_json(content)
    outcome = parse_response(200, content)

    assert isinstance(outcome, RequestFailed)
    assert outcome.failure is FailureClass.RETRYABLE
    assert outcome.message == "HTTP 200 with a body that is not NXCloud JSON"


@pytest.mark.parametrize("content", LENIENT)
def test_the_drains_reading_of_an_answer_is_the_models_reading(content: bytes) -> None:
    model = BatchCreateResponse.model_validate_json(content)
    outcome = parse_response(200, content)

    if model.code != 0 or model.data is None:
        assert isinstance(outcome, RequestFailed)
        assert (outcome.code, outcome.trace_id) == (model.code, model.traceId)
        assert outcome.message == ("code 0 without data" if model.code == 0 else model.message or "")
        return
    assert isinstance(outcome, Delivered)
    assert outcome.trace_id == model.traceId
    assert outcome.result == model.data
    assert outcome.stored() == {item.index: item.customerId for item in model.data.successItems}
    assert outcome.refused() == {item.index: item for item in model.data.failItems}


def test_an_answer_naming_an_index_twice_keeps_the_last_item_in_either_form() -> None:
    content = (
        b'{"code":0,"traceId":"t","data":{"successItems":[{"index":0,"customerId":1},{"index":0,"customerId":2}],'
        b'"failItems":[{"index":1,"errorCode":1},{"index":1,"errorCode":2}]}}'
    )
    parsed = parse_response(200, content)
    assert isinstance(parsed, Delivered)
    model = Delivered(parsed.result, None, 0.0)

    for outcome in (parsed, model):
        assert outcome.stored() == {0: 2}
        assert {index: item.errorCode for index, item in outcome.refused().items()} == {1: 2}
