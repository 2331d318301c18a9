"""Pure replay logic: reading both DLQ shapes, filters, replay planning with edits and guards, masking, pacing."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pytest
from pydantic import ValidationError

from nxbridge.envelope import ENVELOPE_VERSION, DlqRecord, FailureReason
from nxbridge.ordering import identity_hash, micros
from nxbridge.replay import (
    DlqFilter,
    DlqMessage,
    Edits,
    RatePacer,
    Refusal,
    Replayer,
    ReplayOptions,
    ReplayRequest,
    age_bucket,
    export_line,
    parse_assignment,
    parse_message,
    parse_rate,
    parse_when,
    plan_replay,
    replay_visibility,
    view,
)
from tests.fixtures.replay import ADA, envelope, reason

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


def raw(body: str, message_id: str = "m-1", sent: dt.datetime = NOW, attributes: dict[str, str] | None = None) -> Any:
    """A ReceiveMessage entry as boto3 returns it."""
    return {
        "MessageId": message_id,
        "ReceiptHandle": "rh",
        "Body": body,
        "Attributes": {"SentTimestamp": str(int(sent.timestamp() * 1000)), "ApproximateReceiveCount": "2"},
        "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()},
    }


def bridge_message(message_id: str = "m-1", **kwargs: Any) -> DlqMessage:
    at = kwargs.pop("at", NOW)
    code = kwargs.pop("code", "12148")
    stage = kwargs.pop("stage", "nxcloud")
    record = DlqRecord(envelope=envelope(**kwargs), error=reason(code, stage, at=at))
    return parse_message(raw(record.to_message(), message_id))


def test_bridge_record_is_read_with_its_reason() -> None:
    message = bridge_message(code="12148", endpoint="typeform")
    assert message.shape == "bridge"
    assert (message.reason.stage, message.reason.errorCode, message.endpoint) == ("nxcloud", "12148", "typeform")
    assert message.receive_count == 2
    assert message.failed_at == NOW


def test_bare_envelope_moved_by_redrive_is_shown_as_stage_redrive() -> None:
    sent = NOW - dt.timedelta(days=2)
    message = parse_message(raw(envelope(endpoint="tally").to_message(), sent=sent))
    assert message.shape == "redrive"
    assert (message.reason.stage, message.reason.errorCode) == ("redrive", "maxReceiveCount")
    assert message.endpoint == "tally"
    assert message.failed_at == sent


def test_unreadable_body_is_a_decode_record_without_envelope() -> None:
    message = parse_message(raw("not json at all"))
    assert message.shape == "unknown"
    assert message.reason.stage == "decode"
    assert message.record.envelope is None
    assert message.record.raw_body == "not json at all"


def test_decode_record_endpoint_comes_from_its_attribute() -> None:
    record = DlqRecord(raw_body="{}", error=reason("decode", "decode"))
    message = parse_message(raw(record.to_message(), attributes={"endpoint": "form"}))
    assert message.endpoint == "form"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - dt.timedelta(minutes=30)),
        ("2h", NOW - dt.timedelta(hours=2)),
        ("7d", NOW - dt.timedelta(days=7)),
        ("1w", NOW - dt.timedelta(weeks=1)),
        ("45s", NOW - dt.timedelta(seconds=45)),
        ("2024-05-01T08:00:00+02:00", dt.datetime(2024, 5, 1, 6, 0, tzinfo=dt.UTC)),
        ("2024-05-01T08:00:00Z", dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)),
        ("2024-05-01", dt.datetime(2024, 5, 1, tzinfo=dt.UTC)),
    ],
)
def test_when_accepts_durations_and_iso_timestamps(text: str, expected: dt.datetime) -> None:
    assert parse_when(text, NOW) == expected


def test_when_rejects_other_text() -> None:
    with pytest.raises(ValueError, match="neither a duration"):
        parse_when("yesterday", NOW)


@pytest.mark.parametrize(("text", "per_second"), [("10/s", 10.0), ("5", 5.0), ("120/m", 2.0), ("0.5/s", 0.5)])
def test_rate_is_read_per_second_or_per_minute(text: str, per_second: float) -> None:
    assert parse_rate(text) == per_second


@pytest.mark.parametrize("text", ["fast", "0/s", "-1"])
def test_rate_rejects_nonsense_and_zero(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


def test_assignment_needs_an_equals_sign() -> None:
    assert parse_assignment("belong_seat_user=a=b@example.com") == ("belong_seat_user", "a=b@example.com")
    with pytest.raises(ValueError):
        parse_assignment("belong_seat_user")


@pytest.mark.parametrize(
    ("criteria", "matches"),
    [
        ({}, True),
        ({"error_code": "12148"}, True),
        ({"error_code": ["1002", "12148"]}, True),
        ({"error_code": "1002"}, False),
        ({"stage": "nxcloud"}, True),
        ({"stage": "decode"}, False),
        ({"endpoint": "shopify"}, True),
        ({"endpoint": "typeform"}, False),
        ({"older_than": NOW + dt.timedelta(seconds=1)}, True),
        ({"older_than": NOW}, False),
        ({"newer_than": NOW}, True),
        ({"newer_than": NOW + dt.timedelta(seconds=1)}, False),
        ({"contains": "ADA.LOVELACE@EXAMPLE"}, True),
        ({"contains": "grace"}, False),
        ({"id": "m-1"}, True),
        ({"id": ["m-2"]}, False),
        ({"error_code": "12148", "endpoint": "typeform"}, False),
    ],
)
def test_filter_criteria_all_must_hold(criteria: dict[str, Any], matches: bool) -> None:
    assert DlqFilter.model_validate(criteria).matches(bridge_message()) is matches


def test_filter_rejects_an_unknown_stage() -> None:
    with pytest.raises(ValidationError, match="unknown stage"):
        DlqFilter(stage=("nope",))


def test_filter_durations_count_back_from_now() -> None:
    old = bridge_message(at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))
    assert DlqFilter.model_validate({"older_than": "2h"}).matches(old)
    assert not DlqFilter.model_validate({"newer_than": "2h"}).matches(old)


def test_replay_plan_increments_the_count_and_appends_the_reason_with_the_dlq_id() -> None:
    message = bridge_message("dlq-7", replay_count=1, history=[reason("1002", at=NOW - dt.timedelta(days=1))])
    plan = plan_replay(message, ReplayOptions())
    assert not isinstance(plan, Refusal)
    assert plan.replay_count == 2
    assert [h.errorCode for h in plan.history] == ["1002", "12148"]
    assert plan.history[-1].dlq_message_id == "dlq-7"
    assert plan.customer.email == ADA["email"]
    assert (plan.endpoint, plan.delivery_id) == ("shopify", "delivery-1")


def test_redriven_envelope_is_replayed_with_a_redrive_reason() -> None:
    plan = plan_replay(parse_message(raw(envelope().to_message(), "r-1")), ReplayOptions())
    assert not isinstance(plan, Refusal)
    assert (plan.history[-1].stage, plan.history[-1].errorCode) == ("redrive", "maxReceiveCount")


def test_a_replay_validates_the_customer_and_writes_the_current_version() -> None:
    # A DLQ record written by an older drain: its envelope is of version 1, its phone as a source wrote it.
    record = json.loads(DlqRecord(envelope=envelope(), error=reason()).to_message())
    record["envelope"] = {**record["envelope"], "v": 1, "customer": {**ADA, "whats_app_phone": "+44 20 7946 0958"}}

    plan = plan_replay(parse_message(raw(json.dumps(record))), ReplayOptions())

    assert not isinstance(plan, Refusal)
    written = json.loads(plan.to_message())
    assert written["v"] == ENVELOPE_VERSION
    assert written["customer"]["whats_app_phone"] == "442079460958"


def test_a_current_dlq_record_whose_customer_breaks_a_rule_is_refused_not_replayed_on_trust() -> None:
    # The drain reads a current envelope on trust; the replay, where the record enters the queue again, does not.
    record = json.loads(DlqRecord(envelope=envelope(), error=reason()).to_message())
    record["envelope"]["customer"]["email"] = "not-an-email"

    plan = plan_replay(parse_message(raw(json.dumps(record))), ReplayOptions())

    assert isinstance(plan, Refusal)
    assert "email" in plan.reason


def test_replay_count_guard_refuses_unless_forced() -> None:
    message = bridge_message(replay_count=3)
    refused = plan_replay(message, ReplayOptions(max_replays=3))
    assert isinstance(refused, Refusal)
    assert "already replayed 3 times" in refused.reason
    forced = plan_replay(message, ReplayOptions(max_replays=3, force=True))
    assert not isinstance(forced, Refusal)
    assert forced.replay_count == 4


def test_edit_sets_and_drops_fields_and_revalidates() -> None:
    set_seat = plan_replay(bridge_message(), ReplayOptions(edits=Edits(set={"belong_seat_user": "seat@example.com"})))
    dropped = plan_replay(bridge_message(), ReplayOptions(edits=Edits(drop_fields=("belong_seat_user",))))
    assert not isinstance(set_seat, Refusal)
    assert not isinstance(dropped, Refusal)
    assert set_seat.customer.belong_seat_user == "seat@example.com"
    assert dropped.customer.belong_seat_user is None


def test_edit_normalizes_like_ingest() -> None:
    plan = plan_replay(bridge_message(), ReplayOptions(edits=Edits(set={"gender": "female", "weight": "3"})))
    assert not isinstance(plan, Refusal)
    assert (plan.customer.gender, plan.customer.weight) == (0, 3)


@pytest.mark.parametrize(
    ("edits", "field"),
    [
        (Edits(set={"email": "not-an-email"}), "email"),
        (Edits(set={"favourite_colour": "blue"}), "favourite_colour"),
        (Edits(drop_fields=("email", "whats_app_phone")), "customer"),
    ],
)
def test_edit_that_makes_the_customer_invalid_is_refused(edits: Edits, field: str) -> None:
    refused = plan_replay(bridge_message(), ReplayOptions(edits=edits))
    assert isinstance(refused, Refusal)
    assert "invalid after the edits" in refused.reason
    assert field in refused.reason or "at least one of" in refused.reason
    assert "not-an-email" not in refused.reason


def test_edits_cannot_both_set_and_drop_a_field() -> None:
    with pytest.raises(ValidationError, match="both set and dropped"):
        Edits(set={"email": "a@example.com"}, drop_fields=("email",))


def test_decode_record_without_envelope_is_refused_with_a_reason() -> None:
    record = DlqRecord(raw_body="<xml/>", error=reason("decode", "decode"))
    refused = plan_replay(parse_message(raw(record.to_message())), ReplayOptions())
    assert isinstance(refused, Refusal)
    assert "no envelope to replay" in refused.reason


def test_decode_record_becomes_replayable_when_an_edit_makes_it_valid() -> None:
    broken = envelope().model_dump(mode="json")
    broken["customer"]["birthday"] = "31/12/1990"
    record = DlqRecord(raw_body=json.dumps(broken), error=reason("decode", "decode"))
    message = parse_message(raw(record.to_message(), "d-1"))
    assert isinstance(plan_replay(message, ReplayOptions()), Refusal)
    plan = plan_replay(message, ReplayOptions(edits=Edits(set={"birthday": "1990-12-31"})))
    assert not isinstance(plan, Refusal)
    assert plan.customer.birthday == "1990-12-31"
    assert plan.replay_count == 1
    assert plan.history[-1].stage == "decode"


def test_dlq_record_sent_back_by_native_redrive_is_unwrapped() -> None:
    inner = DlqRecord(envelope=envelope(), error=reason())
    record = DlqRecord(raw_body=inner.to_message(), error=reason("decode", "decode"))
    plan = plan_replay(parse_message(raw(record.to_message())), ReplayOptions())
    assert not isinstance(plan, Refusal)
    assert plan.customer.full_name == "Ada Lovelace"


def test_lineage_holds_the_ids_of_earlier_dlq_messages() -> None:
    earlier = reason().model_copy(update={"dlq_message_id": "first"})
    assert bridge_message("second", history=[earlier]).lineage == {"first", "second"}


def test_view_masks_pii_unless_revealed() -> None:
    message = bridge_message()
    masked = view(message).model_dump_json()
    for value in ("Ada Lovelace", "ada.lovelace@example.com", "442079460958", "ghost-seat@example.com"):
        assert value not in masked
    shown = view(message, reveal=True)
    assert shown.customer is not None
    assert shown.customer["email"] == "ada.lovelace@example.com"


def test_view_masks_pii_in_error_messages_and_raw_bodies() -> None:
    record = DlqRecord(
        raw_body='{"customer": {"email": "grace@example.com"}, "phone": "+1 555 123 4567"}',
        error=FailureReason(stage="decode", errorCode="decode", errorMessage="bad email grace@example.com"),
    )
    shown = view(parse_message(raw(record.to_message()))).model_dump_json()
    assert "grace@example.com" not in shown
    assert "555 123 4567" not in shown


def test_export_line_masks_the_body_unless_revealed() -> None:
    message = bridge_message()
    assert "ada.lovelace@example.com" not in export_line(message).body
    assert json.loads(export_line(message, reveal=True).body) == json.loads(message.body)


@pytest.mark.parametrize(
    ("age", "bucket"),
    [
        (dt.timedelta(minutes=59), "<1h"),
        (dt.timedelta(hours=1), "1-24h"),
        (dt.timedelta(hours=23), "1-24h"),
        (dt.timedelta(days=3), "1-7d"),
        (dt.timedelta(days=8), ">7d"),
    ],
)
def test_age_buckets(age: dt.timedelta, bucket: str) -> None:
    assert age_bucket(NOW - age, NOW) == bucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_spaces_sends_to_the_rate() -> None:
    clock = FakeClock()
    pacer = RatePacer(4.0, clock=clock, sleep=clock.sleep)
    sent_at = []
    for _ in range(5):
        assert pacer.wait()
        sent_at.append(clock.now)
    assert [round(b - a, 6) for a, b in itertools.pairwise(sent_at)] == [0.25] * 4


def test_pacer_sees_a_stop_request_while_waiting() -> None:
    clock = FakeClock()
    pacer = RatePacer(0.1, clock=clock, sleep=clock.sleep)
    assert pacer.wait()
    assert not pacer.wait(lambda: clock.now > 101)
    assert clock.now < 102


def test_request_takes_the_cli_filters_and_options_as_json() -> None:
    request = ReplayRequest.model_validate(
        {
            "action": "replay",
            "error_code": "12148",
            "older_than": "1h",
            "dry_run": True,
            "limit": 100,
            "rate": "5/s",
            "set": {"belong_seat_user": "seat@example.com"},
            "drop_fields": "remark",
        }
    )
    assert request.dlq_filter.error_code == ("12148",)
    assert request.dlq_filter.older_than is not None
    assert request.rate == 5.0
    assert request.edits.set_fields == {"belong_seat_user": "seat@example.com"}
    assert request.edits.drop_fields == ("remark",)


@pytest.mark.parametrize(
    "event",
    [
        {"action": "purge"},
        {"action": "show"},
        {"action": "list", "colour": "red"},
        {"action": "replay", "set": {"email": "a@example.com"}, "drop_fields": ["email"]},
        # An erasure never takes the whole DLQ, and only an erasure by endpoint takes watermarks along.
        {"action": "erase"},
        {"action": "erase", "error_code": "12148"},
        {"action": "erase", "identity": "email:a@example.com", "watermarks": True},
        {"action": "stats", "endpoint": "shop", "watermarks": True},
    ],
)
def test_request_rejects_unknown_actions_fields_and_contradictions(event: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ReplayRequest.model_validate(event)


class FakeScanner:
    """Yields prepared DLQ messages in a chosen order and records deletes."""

    def __init__(self, messages: list[DlqMessage]) -> None:
        self.messages = messages
        self.deleted: list[str] = []
        self.scanned = 0
        self.released = 0

    def __enter__(self) -> FakeScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __iter__(self) -> Any:
        for message in self.messages:
            self.scanned += 1
            yield message

    def delete(self, message_id: str) -> bool:
        self.deleted.append(message_id)
        return True


class RecordingSqs:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_message(self, **kwargs: Any) -> dict[str, str]:
        self.sent.append(kwargs["MessageBody"])
        return {"MessageId": f"q-{len(self.sent)}"}


@pytest.mark.parametrize("copy_first", [True, False])
def test_a_customer_left_twice_in_the_dlq_is_replayed_once_in_either_order(copy_first: bool) -> None:
    original = bridge_message("original")
    earlier = reason().model_copy(update={"dlq_message_id": "original"})
    copy = bridge_message("copy", replay_count=1, history=[earlier])
    scanner = FakeScanner([copy, original] if copy_first else [original, copy])
    sqs = RecordingSqs()
    summary = Replayer(sqs, "queue-url").run(scanner, DlqFilter(), ReplayOptions())  # type: ignore[arg-type]
    assert (summary.replayed, summary.duplicates) == (1, 1)
    assert len(sqs.sent) == 1
    assert sorted(scanner.deleted) == ["copy", "original"]


def test_this_runs_own_replay_rejected_again_is_left_in_the_dlq_not_deleted() -> None:
    original = bridge_message("original")
    earlier = reason().model_copy(update={"dlq_message_id": "original"})
    record = DlqRecord(envelope=envelope(replay_count=1, history=[earlier]), error=reason(), source_message_id="q-1")
    rejected_again = parse_message(raw(record.to_message(), "again"))
    scanner = FakeScanner([original, rejected_again])
    sqs = RecordingSqs()
    summary = Replayer(sqs, "queue-url").run(scanner, DlqFilter(), ReplayOptions())  # type: ignore[arg-type]
    assert (summary.replayed, summary.back_in_dlq, summary.duplicates) == (1, 1, 0)
    assert scanner.deleted == ["original"]
    assert len(sqs.sent) == 1


def test_a_redriven_copy_of_this_runs_replay_is_recognized_by_its_message_id_or_its_age() -> None:
    original = bridge_message("original")
    earlier = reason().model_copy(update={"dlq_message_id": "original"})
    body = envelope(replay_count=1, history=[earlier]).to_message()
    same_id = parse_message(raw(body, "q-1"))
    recent = parse_message(raw(body, "other", sent=dt.datetime.now(dt.UTC)))
    scanner = FakeScanner([original, same_id, recent])
    summary = Replayer(RecordingSqs(), "queue-url").run(scanner, DlqFilter(), ReplayOptions())  # type: ignore[arg-type]
    assert (summary.replayed, summary.back_in_dlq, summary.duplicates) == (1, 2, 0)
    assert scanner.deleted == ["original"]


def test_a_slow_rate_lengthens_the_visibility_timeout_of_a_replay_scan() -> None:
    assert replay_visibility(120, None) == 120
    assert replay_visibility(120, 10.0) == 120
    assert replay_visibility(120, 0.05) == 260
    assert replay_visibility(120, 0.0001) == 43200


def versioned_message(at: dt.datetime, identity: str | None = "shop:id:7") -> DlqMessage:
    record = DlqRecord(
        envelope=envelope().model_copy(update={"event_at": at, "identity": identity}), error=reason(at=NOW)
    )
    return parse_message(raw(record.to_message()))


WATERMARK = micros(NOW)


def test_a_record_older_than_its_customers_watermark_is_refused_as_stale_unless_forced() -> None:
    older = versioned_message(NOW - dt.timedelta(minutes=1))

    refused = plan_replay(older, ReplayOptions(), watermark=WATERMARK, now=NOW + dt.timedelta(hours=1))
    forced = plan_replay(older, ReplayOptions(force=True), watermark=WATERMARK, now=NOW + dt.timedelta(hours=1))

    assert isinstance(refused, Refusal) and refused.code == "stale"
    assert "2024-06-01T11:59:00+00:00" in refused.reason and "2024-06-01T12:00:00+00:00" in refused.reason
    # Forced, it is the operator's intent: it counts as new, so that the drain sends it over what NXCloud holds.
    assert not isinstance(forced, Refusal) and forced.event_at == NOW + dt.timedelta(hours=1)


def test_an_edited_replay_counts_as_new_and_an_unedited_one_keeps_its_event_time() -> None:
    older, newer = versioned_message(NOW - dt.timedelta(minutes=1)), versioned_message(NOW + dt.timedelta(minutes=1))
    later = NOW + dt.timedelta(hours=1)

    edited = plan_replay(older, ReplayOptions(edits=Edits(set_fields={"remark": "x"})), watermark=WATERMARK, now=later)
    kept = plan_replay(newer, ReplayOptions(), watermark=WATERMARK, now=later)
    unchecked = plan_replay(older, ReplayOptions(), watermark=None, now=later)

    assert not isinstance(edited, Refusal) and edited.event_at == later
    assert not isinstance(kept, Refusal) and kept.event_at == NOW + dt.timedelta(minutes=1)
    assert not isinstance(unchecked, Refusal) and unchecked.event_at == NOW - dt.timedelta(minutes=1)


def test_the_identity_filter_matches_any_identity_of_the_customer_by_its_hash() -> None:
    message = versioned_message(NOW)

    assert DlqFilter(identity="shop:id:7").matches(message)
    assert DlqFilter(identity=identity_hash("email:ada.lovelace@example.com")).matches(message)
    assert DlqFilter(identity=("shop:id:8", "phone:442079460958")).matches(message)
    assert not DlqFilter(identity="shop:id:8").matches(message)
    assert DlqFilter(identity="shop:id:7").identity == (identity_hash("shop:id:7"),)
