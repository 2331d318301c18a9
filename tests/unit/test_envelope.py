"""The queue message: versioned, read on trust when current and in shape, validated in full otherwise."""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import json
from typing import Any

import pytest

from nxbridge.contract import Customer
from nxbridge.envelope import (
    ENVELOPE_VERSION,
    READABLE_VERSIONS,
    DlqRecord,
    Envelope,
    FailureReason,
    QueuedCustomer,
    Undecodable,
    dlq_attributes,
    dlq_message,
    dlq_message_attributes,
    read_current,
    read_message,
    read_messages,
)
from nxbridge.normalize.sqs_text import sqs_safe

AT = dt.datetime(2024, 5, 1, 11, 59, 58, tzinfo=dt.UTC)
# The SHA-256 of Customer's source (its fields and every rule). A message of ENVELOPE_VERSION is read on trust,
# its customer taken as its writer validated it: when a rule changes, messages written under the old rule must be
# validated again, which a new version does. So when this changes, bump ENVELOPE_VERSION (keep the old one in
# READABLE_VERSIONS), unless the change alters no rule (a comment); then only update the pin.
CUSTOMER_RULES_SHA256 = "a3b039cf2cab84a95e11da99edf5b91efff7d9165d530521505cb5124d891ac0"
PINNED_FOR_VERSION = 2


def written(**changes: Any) -> dict[str, Any]:
    """An envelope as the ingest writes it today, parsed, with ``changes``."""
    envelope = Envelope(
        endpoint="shop",
        kind="shopify",
        delivery_id="d-1",
        customer=Customer(full_name="Ada Lovelace", whats_app_phone="447700900123", email="ada@example.com"),
        event_at=AT,
        identity="email:ada@example.com",
        event="update",
    )
    return {**json.loads(envelope.to_message()), **changes}


def test_the_ingest_writes_the_current_version() -> None:
    assert written()["v"] == ENVELOPE_VERSION == max(READABLE_VERSIONS)


def test_a_current_message_is_read_on_trust() -> None:
    read = read_message(json.dumps(written()))

    assert read == QueuedCustomer(
        endpoint="shop",
        customer=Customer(full_name="Ada Lovelace", whats_app_phone="447700900123", email="ada@example.com"),
        identity="email:ada@example.com",
        event_at=AT,
        trusted=True,
    )


def test_a_current_message_keeps_its_customer_as_written() -> None:
    # No writer stores this (the normalizers would trim and deduplicate it): on trust it is not normalized again.
    body = written()
    body["customer"]["tagStr"] = " vip,vip "

    read = read_message(json.dumps(body))

    assert isinstance(read, QueuedCustomer) and read.trusted
    assert read.customer.tagStr == " vip,vip "


def test_an_old_version_is_validated_in_full() -> None:
    body = written(v=1)
    body["customer"]["whats_app_phone"] = "+44 7700 900123"
    body["customer"]["tagStr"] = " vip,vip "

    read = read_message(json.dumps(body))

    assert isinstance(read, QueuedCustomer) and not read.trusted
    assert (read.customer.whats_app_phone, read.customer.tagStr) == ("447700900123", "vip")


def test_a_current_message_with_an_unqualified_event_time_is_validated_and_read_as_utc() -> None:
    read = read_message(json.dumps(written(event_at="2024-05-01T11:59:58")))

    assert isinstance(read, QueuedCustomer) and not read.trusted
    assert read.event_at == AT


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sms_phone": "1" * 31}, "customer.sms_phone"),
        ({"gender": 7}, "customer.gender"),
        ({"weight": "heavy"}, "customer.weight"),
        ({"favourite_colour": "teal"}, "customer.favourite_colour"),
        ({"full_name": None}, "customer.full_name"),
    ],
)
def test_a_current_message_out_of_shape_is_undecodable_with_the_field_named(change: dict[str, Any], field: str) -> None:
    body = written()
    body["customer"].update(change)

    read = read_message(json.dumps(body))

    assert isinstance(read, Undecodable)
    assert read.code == "decode"
    assert field in read.reason
    assert "teal" not in read.reason


def test_a_message_without_its_endpoint_is_undecodable() -> None:
    body = written()
    del body["endpoint"]

    read = read_message(json.dumps(body))

    assert read == Undecodable("decode", "not an envelope: endpoint: Field required")


@pytest.mark.parametrize("version", [0, 3, "2", None])
def test_an_unknown_version_is_undecodable_as_such(version: Any) -> None:
    read = read_message(json.dumps(written(v=version)))

    assert isinstance(read, Undecodable)
    assert read.code == "unknown_version"
    assert read.reason.startswith("not an envelope version this drain reads (1, 2)")


@pytest.mark.parametrize("body", ["", "not json {", "[1, 2]", '{"hello": "world"}', "null"])
def test_what_is_no_envelope_at_all_is_undecodable(body: str) -> None:
    read = read_message(body)

    assert isinstance(read, Undecodable)
    assert read.code == "decode"
    assert read.reason.startswith("not an envelope")


def good(n: int) -> str:
    """The n-th current message of a batch, as a writer stores it."""
    body = written(delivery_id=f"d-{n}", identity=f"email:ada{n}@example.com")
    body["customer"]["email"] = f"ada{n}@example.com"
    return json.dumps(body, ensure_ascii=False)


def test_a_batch_of_current_messages_is_read_on_trust_as_each_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = [good(n) for n in range(5)]
    expected = [read_message(body) for body in bodies]

    def not_alone(body: str) -> QueuedCustomer | Undecodable:
        raise AssertionError("a batch of current messages is read in one call")

    monkeypatch.setattr("nxbridge.envelope.read_message", not_alone)

    read = read_messages(bodies)

    assert read == expected
    assert all(isinstance(one, QueuedCustomer) and one.trusted for one in read)
    assert [one.identity for one in read if isinstance(one, QueuedCustomer)] == [
        f"email:ada{n}@example.com" for n in range(5)
    ]


def test_a_batch_with_messages_not_read_on_trust_gives_each_what_it_gets_alone() -> None:
    old = written(v=1)
    old["customer"]["whats_app_phone"] = "+44 7700 900123"
    out_of_shape = written()
    out_of_shape["customer"]["sms_phone"] = "1" * 31
    bodies = [good(0), "this is not json {", good(1), json.dumps(old), good(2), json.dumps(out_of_shape), good(3)]

    read = read_messages(bodies)

    assert read_current(bodies) is None
    assert read == [read_message(body) for body in bodies]
    assert [type(one).__name__ for one in read] == [
        "QueuedCustomer",
        "Undecodable",
        "QueuedCustomer",
        "QueuedCustomer",
        "QueuedCustomer",
        "Undecodable",
        "QueuedCustomer",
    ]
    assert [one.trusted for one in read if isinstance(one, QueuedCustomer)] == [True, True, False, True, True]
    assert read[3] == QueuedCustomer(
        endpoint="shop",
        customer=Customer(full_name="Ada Lovelace", whats_app_phone="447700900123", email="ada@example.com"),
        identity="email:ada@example.com",
        event_at=AT,
        trusted=False,
    )
    assert isinstance(read[5], Undecodable) and read[5].code == "decode" and "customer.sms_phone" in read[5].reason


@pytest.mark.parametrize(
    "bodies",
    [
        # Each body is a document of its own: joined, these two would read as one envelope with an odd field.
        [good(0)[:-1] + ', "note": "', '"}', good(1)],
        # Two envelopes in one body are no envelope, though they would be two elements of a joined array.
        [good(0) + ", " + good(1), good(2)],
        [good(0), "", good(1), " ", "null", "[1, 2]", '"' + good(2).replace('"', '\\"') + '"'],
        [
            good(0),
            json.dumps(written(v=3)),
            json.dumps(written(v="2")),
            json.dumps(written(event_at="2024-05-01T11:59:58")),
        ],
        [good(0).replace('"v": 2', '"v": 2.0'), good(1).replace('"v": 2', '"v": true'), good(2)],
        [good(0)[:-1] + ', "customer": {"full_name": "Bob"}}', good(1)[:-1] + ', "weight": NaN}'],
        [" " + good(0) + "\n", good(1).replace('"shop"', '"sh\\u006fp"'), good(2)],
        ["\ufeff" + good(0), good(1)[:-1] + ', "x": "\ud800"}', good(2)],
    ],
    ids=[
        "split-text",
        "two-in-one",
        "no-envelopes",
        "versions-and-times",
        "version-types",
        "repeated-keys-and-nan",
        "padded-and-escaped",
        "bom-and-lone-surrogate",
    ],
)
def test_a_batch_reads_each_message_as_it_reads_alone(bodies: list[str]) -> None:
    assert read_messages(bodies) == [read_message(body) for body in bodies]


def test_an_empty_batch_reads_as_nothing() -> None:
    assert read_messages([]) == []


def test_an_envelope_validated_in_full_is_written_as_the_current_version() -> None:
    envelope = Envelope.model_validate(written(v=1))

    assert envelope.v == ENVELOPE_VERSION
    assert json.loads(envelope.to_message())["v"] == ENVELOPE_VERSION


def test_a_dlq_message_around_the_received_envelope_reads_back_as_the_record() -> None:
    body = json.dumps(written(), ensure_ascii=False)
    error = FailureReason(stage="nxcloud", errorCode="12001", errorMessage="bad", traceId="t-1", failed_at=AT)

    message = dlq_message(error, envelope=body, source_message_id="m-1")

    # The envelope's text is kept byte for byte, never parsed and dumped again.
    assert f'"envelope":{body},' in message
    assert DlqRecord.model_validate_json(message) == DlqRecord(
        envelope=Envelope.model_validate_json(body), error=error, source_message_id="m-1"
    )


def test_a_dlq_message_of_an_undecodable_body_keeps_it_as_raw_text() -> None:
    error = FailureReason(stage="decode", errorCode="decode", errorMessage="not an envelope", failed_at=AT)

    message = dlq_message(error, raw_body='{"v": 1, "café": "\\u00e9', source_message_id="m-2")

    assert DlqRecord.model_validate_json(message) == DlqRecord(
        raw_body='{"v": 1, "café": "\\u00e9', error=error, source_message_id="m-2"
    )


def test_a_dlq_message_holds_only_text_sqs_accepts() -> None:
    error = FailureReason(stage="nxcloud", errorCode="1", errorMessage="odd \uffff answer\x00", failed_at=AT)

    message = dlq_message(error, envelope=json.dumps(written()))

    # U+FFFF is dropped; the NUL travels JSON-escaped, which SQS accepts.
    assert sqs_safe(message) == message
    assert json.loads(message)["error"]["errorMessage"] == "odd  answer\x00"


def test_dlq_attributes_name_stage_code_and_endpoint() -> None:
    error = FailureReason(stage="bisect", errorCode="12148", errorMessage="seat", failed_at=AT)
    record = DlqRecord(envelope=Envelope.model_validate(written()), error=error)

    assert dlq_message_attributes(record) == dlq_attributes(error, "shop")
    assert dlq_attributes(error, None) == {
        "stage": {"DataType": "String", "StringValue": "bisect"},
        "errorCode": {"DataType": "String", "StringValue": "12148"},
    }


def test_the_envelope_version_follows_the_customer_rules() -> None:
    source = inspect.getsource(Customer)

    assert (hashlib.sha256(source.encode()).hexdigest(), ENVELOPE_VERSION) == (
        CUSTOMER_RULES_SHA256,
        PINNED_FOR_VERSION,
    ), "Customer's rules changed: bump ENVELOPE_VERSION (see nxbridge.envelope), then update this pin"
