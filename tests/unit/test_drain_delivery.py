"""The drain delivers a batch in one NXCloud call and maps successItems/failItems back to messages."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from nxbridge.contract import BatchCreateResult, FailItem, SuccessItem
from nxbridge.drain.report import failed_by_code
from nxbridge.envelope import DlqRecord, FailureReason
from nxbridge.nxcloud.client import Delivered, NXCloudCredentials
from nxbridge.observability import SERVICE, logger, metrics
from tests.fixtures.drain import (
    FIXED_NOW,
    PLENTY_MS,
    DrainKit,
    FakeCredentials,
    ScriptedNXCloud,
    make_envelope,
    phone_of,
    records_for,
    sqs_record,
    stored,
)

MakeDrain = Callable[..., DrainKit]


def plenty() -> int:
    return PLENTY_MS


def test_full_batch_of_100_is_sent_in_one_call_and_acknowledged(
    make_drain: MakeDrain, drain_metrics: Callable[[str], list[float]]
) -> None:
    kit = make_drain()
    envelopes = [make_envelope(n) for n in range(100)]

    result = kit.drainer.drain(records_for(envelopes), plenty)

    assert len(kit.nxcloud.requests) == 1
    request = kit.nxcloud.requests[0]
    assert [c.whats_app_phone for c in request.customers] == [phone_of(n) for n in range(100)]
    assert (request.type, request.tenant_id, request.app_key, request.strict_binding) == (1, 123, "46oKF=os", False)
    assert result.response() == {"batchItemFailures": []}
    assert [s.message_id for s in result.synced] == [f"m-{n}" for n in range(100)]
    assert kit.sqs.calls == []
    assert drain_metrics("BatchSize") == [100.0]
    assert drain_metrics("CustomersSynced") == [100.0]
    assert drain_metrics("NXCloudLatency") == [12.5]


def test_fail_items_go_to_dlq_with_error_code_and_the_rest_are_acknowledged(make_drain: MakeDrain) -> None:
    envelopes = [make_envelope(n) for n in range(5)]
    failures = {phone_of(1): (12001, "whats_app_phone invalid"), phone_of(3): (12002, "email duplicated")}
    kit = make_drain(nxcloud=ScriptedNXCloud(lambda request, _c: stored(request, failures)))
    records = [sqs_record(e.to_message(), f"m-{n}", receive_count=n + 1) for n, e in enumerate(envelopes)]

    result = kit.drainer.drain(records, plenty)

    assert result.response() == {"batchItemFailures": []}
    assert [s.message_id for s in result.synced] == ["m-0", "m-2", "m-4"]
    assert [DlqRecord.model_validate(body) for body in kit.sqs.bodies()] == [
        DlqRecord(
            envelope=envelopes[1],
            source_message_id="m-1",
            error=FailureReason(
                stage="nxcloud",
                errorCode="12001",
                errorMessage="whats_app_phone invalid",
                traceId="trace-ok",
                attempts=2,
                failed_at=FIXED_NOW,
            ),
        ),
        DlqRecord(
            envelope=envelopes[3],
            source_message_id="m-3",
            error=FailureReason(
                stage="nxcloud",
                errorCode="12002",
                errorMessage="email duplicated",
                traceId="trace-ok",
                attempts=4,
                failed_at=FIXED_NOW,
            ),
        ),
    ]
    attributes = [entry["MessageAttributes"] for entry in kit.sqs.written]
    assert [a["errorCode"]["StringValue"] for a in attributes] == ["12001", "12002"]
    assert {a["stage"]["StringValue"] for a in attributes} == {"nxcloud"}


def test_dlq_record_keeps_the_envelope_history(make_drain: MakeDrain) -> None:
    history = [FailureReason(stage="nxcloud", errorCode="12001", errorMessage="old", failed_at=FIXED_NOW)]
    envelope = make_envelope(0).model_copy(update={"history": history, "replay_count": 1})
    kit = make_drain(nxcloud=ScriptedNXCloud(lambda request, _c: stored(request, {phone_of(0): (12001, "again")})))

    kit.drainer.drain(records_for([envelope]), plenty)

    (body,) = kit.sqs.bodies()
    assert body["envelope"]["history"][0]["errorMessage"] == "old"
    assert body["envelope"]["replay_count"] == 1
    assert body["error"]["errorMessage"] == "again"


def test_customer_ids_above_2_pow_53_stay_exact(make_drain: MakeDrain) -> None:
    kit = make_drain()

    result = kit.drainer.drain(records_for([make_envelope(5)]), plenty)

    assert result.synced[0].customer_id == 1214631327620775936 + int(phone_of(5))


def test_records_the_answer_does_not_mention_are_retried(make_drain: MakeDrain) -> None:
    partial = BatchCreateResult(
        successItems=[SuccessItem(index=0, customerId=1)], failItems=[FailItem(index=2, errorCode=12001)]
    )
    kit = make_drain(nxcloud=ScriptedNXCloud.answering(Delivered(partial, "t", 1.0)))

    result = kit.drainer.drain(records_for([make_envelope(n) for n in range(4)]), plenty)

    assert [s.message_id for s in result.synced] == ["m-0"]
    assert [d.message_id for d in result.dead_lettered] == ["m-2"]
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-3"}]}


def test_undecodable_messages_go_to_dlq_with_stage_decode_and_the_batch_goes_on(make_drain: MakeDrain) -> None:
    kit = make_drain()
    good = make_envelope(0)
    # Written before the trusted read (version 1): validated in full, its customer's rules apply again.
    invalid_customer = {**json.loads(make_envelope(1).to_message()), "v": 1}
    invalid_customer["customer"]["whats_app_phone"] = "not-a-phone"
    records = [
        sqs_record("this is not json {", "m-garbage", receive_count=3),
        sqs_record(good.to_message(), "m-good"),
        sqs_record(json.dumps(invalid_customer), "m-invalid"),
        sqs_record(json.dumps({"hello": "world"}), "m-other"),
    ]

    result = kit.drainer.drain(records, plenty)

    assert [s.message_id for s in result.synced] == ["m-good"]
    assert len(kit.nxcloud.requests[0].customers) == 1
    assert result.response() == {"batchItemFailures": []}
    bodies = {b["source_message_id"]: b for b in kit.sqs.bodies()}
    assert set(bodies) == {"m-garbage", "m-invalid", "m-other"}
    assert bodies["m-garbage"]["raw_body"] == "this is not json {"
    assert bodies["m-garbage"]["error"]["attempts"] == 3
    for body in bodies.values():
        assert body["error"]["stage"] == "decode"
        assert body["error"]["errorCode"] == "decode"
        assert "envelope" not in body
    assert "customer.whats_app_phone" in bodies["m-invalid"]["error"]["errorMessage"]
    assert "not-a-phone" not in bodies["m-invalid"]["error"]["errorMessage"]


def test_undecodable_and_rejected_records_are_listed_in_the_batch_line(
    make_drain: MakeDrain, caplog: pytest.LogCaptureFixture
) -> None:
    failures = {phone_of(1): (12001, "bad")}
    kit = make_drain(nxcloud=ScriptedNXCloud(lambda request, _c: stored(request, failures)))
    records = [
        sqs_record("this is not json {", "m-garbage"),
        sqs_record(make_envelope(0).to_message(), "m-good"),
        sqs_record(make_envelope(1).to_message(), "m-refused"),
    ]

    kit.drainer.drain(records, plenty)

    lines = [r for r in caplog.records if r.getMessage() == "batch drained"]
    assert [r.getMessage() for r in caplog.records] == ["batch drained"]
    assert lines[0].levelname == "WARNING"
    assert json.loads(logger.registered_formatter.format(lines[0]))["deadLetters"] == [
        {"messageId": "m-garbage", "stage": "decode", "errorCode": "decode"},
        {"messageId": "m-refused", "stage": "nxcloud", "errorCode": "12001", "traceId": "trace-ok"},
    ]
    assert {b["source_message_id"] for b in kit.sqs.bodies()} == {"m-garbage", "m-refused"}


def test_a_current_envelope_out_of_shape_and_an_unknown_version_go_to_dlq_with_stage_decode(
    make_drain: MakeDrain,
) -> None:
    kit = make_drain()
    current = json.loads(make_envelope(0).to_message())
    too_long = {**current, "customer": {**current["customer"], "sms_phone": "1" * 31}}
    unknown_field = {**current, "customer": {**current["customer"], "favourite_colour": "teal"}}
    newer = {**current, "v": 99}
    records = [
        sqs_record(json.dumps(too_long), "m-long"),
        sqs_record(json.dumps(unknown_field), "m-field"),
        sqs_record(json.dumps(newer), "m-newer"),
    ]

    result = kit.drainer.drain(records, plenty)

    assert kit.nxcloud.requests == []
    assert result.response() == {"batchItemFailures": []}
    errors = {b["source_message_id"]: b["error"] for b in kit.sqs.bodies()}
    assert {m: e["stage"] for m, e in errors.items()} == {"m-long": "decode", "m-field": "decode", "m-newer": "decode"}
    assert {m: e["errorCode"] for m, e in errors.items()} == {
        "m-long": "decode",
        "m-field": "decode",
        "m-newer": "unknown_version",
    }
    assert "customer.sms_phone" in errors["m-long"]["errorMessage"]
    assert "customer.favourite_colour" in errors["m-field"]["errorMessage"]
    assert "teal" not in errors["m-field"]["errorMessage"]
    assert "(1, 2)" in errors["m-newer"]["errorMessage"]
    written = {json.loads(e["MessageBody"])["source_message_id"]: e["MessageAttributes"] for e in kit.sqs.written}
    assert written["m-newer"]["errorCode"] == {"DataType": "String", "StringValue": "unknown_version"}


def test_an_envelope_of_version_1_still_queued_is_validated_and_delivered(make_drain: MakeDrain) -> None:
    kit = make_drain()
    old = {**json.loads(make_envelope(0).to_message()), "v": 1}
    # Version 1 was written before the normalizers were trusted: they run again (punctuation dropped).
    old["customer"]["whats_app_phone"] = "+86 13 000000000"

    result = kit.drainer.drain([sqs_record(json.dumps(old), "m-old")], plenty)

    assert [s.message_id for s in result.synced] == ["m-old"]
    assert kit.nxcloud.requests[0].customers[0].whats_app_phone == "8613000000000"


def test_a_current_envelope_is_sent_as_its_writer_validated_it_without_normalizing_again(
    make_drain: MakeDrain,
) -> None:
    kit = make_drain()
    current = json.loads(make_envelope(0).to_message())
    # Not a value any writer stores (the normalizer makes it "vip"); read on trust, it is sent as it is.
    current["customer"]["tagStr"] = " vip, vip "

    kit.drainer.drain([sqs_record(json.dumps(current), "m-0")], plenty)

    assert kit.nxcloud.requests[0].customers[0].tagStr == " vip, vip "


def test_a_batch_of_only_undecodable_messages_makes_no_nxcloud_call(make_drain: MakeDrain) -> None:
    kit = make_drain()

    result = kit.drainer.drain([sqs_record("[]", "m-0")], plenty)

    assert kit.nxcloud.requests == []
    assert [d.message_id for d in result.dead_lettered] == ["m-0"]


def test_tenant_and_app_key_from_configuration_override_the_secret(make_drain: MakeDrain) -> None:
    kit = make_drain(tenant_id=999, app_key="configured", nxcloud_type=0, strict_binding=True)

    kit.drainer.drain(records_for([make_envelope(0)]), plenty)

    request = kit.nxcloud.requests[0]
    assert (request.type, request.tenant_id, request.app_key, request.strict_binding) == (0, 999, "configured", True)


def test_missing_tenant_is_a_configuration_failure_not_a_crash(
    make_drain: MakeDrain, drain_metrics: Callable[[str], list[float]]
) -> None:
    bare = NXCloudCredentials(accessKey="ak", accessSecret="s")
    kit = make_drain(credentials=FakeCredentials(current=bare))

    result = kit.drainer.drain(records_for([make_envelope(0), make_envelope(1)]), plenty)

    assert kit.nxcloud.requests == []
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}
    assert drain_metrics("ConfigurationFailures") == [1.0]


def test_unreadable_secret_is_a_configuration_failure(
    make_drain: MakeDrain, drain_metrics: Callable[[str], list[float]]
) -> None:
    kit = make_drain(credentials=FakeCredentials(current=None))

    result = kit.drainer.drain(records_for([make_envelope(0)]), plenty)

    assert kit.nxcloud.requests == []
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert drain_metrics("ConfigurationFailures") == [1.0]


def test_logs_carry_ids_and_counts_but_no_customer_pii(make_drain: MakeDrain, caplog: pytest.LogCaptureFixture) -> None:
    failures = {phone_of(0): (12001, "bad"), phone_of(1): (12001, "bad")}
    kit = make_drain(nxcloud=ScriptedNXCloud(lambda request, _c: stored(request, failures)))
    # Message ids are UUIDs, some with phone-like digit runs: they must still be logged whole.
    message_ids = ["05963612-3456-7890-8c15-1f2d5a9c8e3b", "a1b2c3d4-0000-4000-8000-000000000001", "m-2"]
    envelopes = [make_envelope(n, email=f"person{n}@example.com") for n in range(3)]
    records = [sqs_record(e.to_message(), message_id) for e, message_id in zip(envelopes, message_ids, strict=True)]

    kit.drainer.drain(records, plenty)

    output = "\n".join(logger.registered_formatter.format(record) for record in caplog.records)
    # One line of counts that lists the records not delivered: a synced message is counted, not listed.
    assert [r.getMessage() for r in caplog.records] == ["batch drained"]
    assert caplog.records[0].levelname == "WARNING"
    rejected = json.loads(logger.registered_formatter.format(caplog.records[0]))["deadLetters"]
    assert rejected == [
        {"messageId": message_id, "stage": "nxcloud", "errorCode": "12001", "traceId": "trace-ok"}
        for message_id in message_ids[:2]
    ]
    assert message_ids[2] not in output
    assert '"synced":1,"deadLettered":2' in output
    assert '"traceId":"trace-ok"' in output
    for n in range(3):
        assert phone_of(n) not in output
        assert f"person{n}@example.com" not in output
        assert f"Customer {n}" not in output


def test_a_batch_wholly_stored_is_one_info_line_that_lists_no_record(
    make_drain: MakeDrain, caplog: pytest.LogCaptureFixture
) -> None:
    kit = make_drain()

    kit.drainer.drain(records_for([make_envelope(n) for n in range(3)]), plenty)

    assert [(r.getMessage(), r.levelname) for r in caplog.records] == [("batch drained", "INFO")]
    line = json.loads(logger.registered_formatter.format(caplog.records[0]))
    assert (line["synced"], line["deadLettered"], line["deadLetters"]) == (3, 0, [])


def test_the_per_code_blob_is_the_one_single_metric_prints(capsys: pytest.CaptureFixture[str]) -> None:
    with single_metric(
        name="CustomersFailedByCode",
        unit=MetricUnit.Count,
        value=3,
        namespace=metrics.namespace,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="errorCode", value="12148")
    failed_by_code("12148", 3)
    failed_by_code("1002", 1)

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for blob in blobs:
        blob["_aws"]["Timestamp"] = 0
    assert blobs[0] == blobs[1]
    assert json.dumps(blobs[0]) == json.dumps(blobs[1])
    assert (blobs[2]["errorCode"], blobs[2]["CustomersFailedByCode"]) == ("1002", [1.0])
