"""Replay against moto SQS: scanning, both DLQ shapes, guards, edits, interruption and duplicate protection."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nxbridge.envelope import DlqRecord, Envelope
from nxbridge.replay import (
    DlqFilter,
    Edits,
    RatePacer,
    Replayer,
    ReplayOptions,
    ReplaySummary,
    find,
    select,
    stats,
)
from tests.fixtures.replay import Queues, envelope, reason


class Instrumented:
    """An SQS client that forwards to moto and can fail or interrupt on chosen calls."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self.sends = 0
        self.interrupt_before_send: int | None = None
        self.fail_send: int | None = None
        self.fail_deletes = False
        self.after_send: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message(self, **kwargs: Any) -> Any:
        if self.interrupt_before_send is not None and self.sends + 1 == self.interrupt_before_send:
            raise KeyboardInterrupt
        if self.fail_send is not None and self.sends + 1 == self.fail_send:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")
        response = self._sqs.send_message(**kwargs)
        self.sends += 1
        if self.after_send is not None:
            self.after_send(self.sends)
        return response

    def delete_message(self, **kwargs: Any) -> Any:
        if self.fail_deletes:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "DeleteMessage")
        return self._sqs.delete_message(**kwargs)


def replay(q: Queues, sqs: Any = None, dlq_filter: DlqFilter | None = None, **options: Any) -> ReplaySummary:
    client = sqs or q.sqs
    scanner = q.scanner()
    scanner.sqs = client
    should_stop = options.pop("should_stop", lambda: False)
    return Replayer(client, q.queue_url).run(
        scanner, dlq_filter or DlqFilter(), ReplayOptions(**options), should_stop=should_stop
    )


def test_replay_moves_matching_records_back_as_fresh_envelopes(replay_queues: Queues) -> None:
    q = replay_queues
    seat = q.bridge("12148")
    other = q.bridge("1002", message="parameter error")
    summary = replay(q, dlq_filter=DlqFilter(error_code=("12148",)))
    assert (summary.matched, summary.replayed, summary.scanned) == (1, 1, 2)
    assert q.dlq_ids() == {other}
    [message] = q.queued_messages()
    sent = Envelope.model_validate_json(message["Body"])
    assert sent.replay_count == 1
    assert sent.history[-1].errorCode == "12148"
    assert sent.history[-1].dlq_message_id == seat
    assert sent.customer.email == "ada.lovelace@example.com"
    assert message["MessageAttributes"]["replayOf"]["StringValue"] == seat


def test_non_matching_records_are_visible_again_immediately(replay_queues: Queues) -> None:
    q = replay_queues
    keep = {q.bridge("1002") for _ in range(12)}
    q.bridge("12148")
    replay(q, dlq_filter=DlqFilter(error_code=("12148",)))
    assert q.dlq_ids() == keep


def test_listing_leaves_every_record_visible_and_untouched(replay_queues: Queues) -> None:
    q = replay_queues
    ids = {q.bridge() for _ in range(3)}
    with q.scanner() as scanner:
        listed = [m.message_id for m in select(scanner, DlqFilter())]
    assert set(listed) == ids
    assert q.dlq_ids() == ids
    assert q.queued() == []


def test_scan_releases_held_records_when_interrupted(replay_queues: Queues) -> None:
    q = replay_queues
    ids = {q.bridge() for _ in range(5)}
    with pytest.raises(KeyboardInterrupt), q.scanner() as scanner:
        for _ in scanner:
            raise KeyboardInterrupt
    assert q.dlq_ids() == ids


def test_scan_sees_each_message_once_and_ends_when_visibility_expires_at_once(replay_queues: Queues) -> None:
    q = replay_queues
    for _ in range(25):
        q.bridge()
    # With a zero visibility timeout SQS hands the same messages back on every receive: the scan must still end.
    with q.scanner(visibility_timeout=0) as scanner:
        seen = [m.message_id for m in scanner]
    assert len(seen) == len(set(seen))
    assert 0 < len(seen) <= 25


def test_scan_reaches_every_message_of_a_larger_dlq(replay_queues: Queues) -> None:
    q = replay_queues
    ids = {q.bridge() for _ in range(35)}
    with q.scanner() as scanner:
        assert {m.message_id for m in scanner} == ids


def test_find_returns_one_record_by_id(replay_queues: Queues) -> None:
    q = replay_queues
    q.bridge()
    wanted = q.bridge("1002")
    with q.scanner() as scanner:
        found = find(scanner, wanted)
    assert found is not None
    assert found.reason.errorCode == "1002"
    with q.scanner() as scanner:
        assert find(scanner, "no-such-id") is None


def test_stats_count_by_stage_code_endpoint_and_age(replay_queues: Queues) -> None:
    q = replay_queues
    now = dt.datetime.now(dt.UTC)
    q.bridge("12148", endpoint="shopify", at=now - dt.timedelta(minutes=5))
    q.bridge("12148", endpoint="typeform", at=now - dt.timedelta(hours=5))
    q.bridge("1002", endpoint="shopify", at=now - dt.timedelta(days=3))
    q.redriven(endpoint="tally")
    q.decode("garbage")
    with q.scanner() as scanner:
        counted = stats(scanner, DlqFilter())
    assert counted.total == 5
    assert counted.by_stage == {"nxcloud": 3, "redrive": 1, "decode": 1}
    assert counted.by_error_code == {"12148": 2, "1002": 1, "maxReceiveCount": 1, "decode": 1}
    assert counted.by_endpoint == {"shopify": 2, "typeform": 1, "tally": 1, "(none)": 1}
    assert counted.by_age == {"<1h": 3, "1-24h": 1, "1-7d": 1, ">7d": 0}


def test_both_shapes_are_replayed_and_a_decode_record_stays_with_a_reason(replay_queues: Queues) -> None:
    q = replay_queues
    bridge = q.bridge()
    redriven = q.redriven(endpoint="tally")
    broken = q.decode("<not json>")
    summary = replay(q)
    assert (summary.replayed, summary.refused) == (2, 1)
    assert summary.problems[0].message_id == broken
    assert "no envelope to replay" in (summary.problems[0].reason or "")
    assert q.dlq_ids() == {broken}
    history = {e.history[-1].dlq_message_id: e.history[-1] for e in q.queued()}
    assert set(history) == {bridge, redriven}
    assert history[redriven].stage == "redrive"
    assert history[bridge].stage == "nxcloud"


def test_message_moved_by_sqs_redrive_is_replayed(replay_queues: Queues) -> None:
    q = replay_queues
    q.sqs.send_message(QueueUrl=q.queue_url, MessageBody=envelope().to_message())
    for _ in range(6):  # maxReceiveCount is 5: the sixth receive moves it to the DLQ
        q.sqs.receive_message(QueueUrl=q.queue_url, VisibilityTimeout=0, WaitTimeSeconds=0)
    assert len(q.dlq_ids()) == 1
    summary = replay(q, dlq_filter=DlqFilter(stage=("redrive",)))
    assert summary.replayed == 1
    [sent] = q.queued()
    assert (sent.replay_count, sent.history[-1].errorCode) == (1, "maxReceiveCount")


def test_replay_count_guard_keeps_over_replayed_records_unless_forced(replay_queues: Queues) -> None:
    q = replay_queues
    tired = q.bridge(replay_count=3)
    fresh = q.bridge(replay_count=2)
    summary = replay(q, max_replays=3)
    assert (summary.replayed, summary.refused) == (1, 1)
    assert q.dlq_ids() == {tired}
    summary = replay(q, max_replays=3, force=True)
    assert summary.replayed == 1
    assert q.dlq_ids() == set()
    assert sorted(e.replay_count for e in q.queued()) == [3, 4]
    assert fresh


def test_replay_with_an_edit_sends_the_fixed_customer(replay_queues: Queues) -> None:
    q = replay_queues
    q.bridge()
    summary = replay(q, edits=Edits(set={"belong_seat_user": "agent@example.com"}))
    assert summary.replayed == 1
    [sent] = q.queued()
    assert sent.customer.belong_seat_user == "agent@example.com"


def test_replay_dropping_the_seat_sends_the_customer_without_it(replay_queues: Queues) -> None:
    q = replay_queues
    q.bridge()
    replay(q, edits=Edits(drop_fields=("belong_seat_user",)))
    [sent] = q.queued()
    assert sent.customer.belong_seat_user is None


def test_edit_that_invalidates_the_customer_leaves_the_record_in_the_dlq(replay_queues: Queues) -> None:
    q = replay_queues
    record = q.bridge()
    summary = replay(q, edits=Edits(set={"email": "nope"}, drop_fields=("whats_app_phone",)))
    assert (summary.replayed, summary.refused) == (0, 1)
    assert "email" in (summary.problems[0].reason or "")
    assert q.dlq_ids() == {record}
    assert q.queued() == []


def test_dry_run_changes_nothing_and_reports_what_would_happen(replay_queues: Queues) -> None:
    q = replay_queues
    ids = {q.bridge(), q.redriven(), q.bridge(replay_count=5), q.decode("x")}
    summary = replay(q, dry_run=True)
    assert (summary.would_replay, summary.refused, summary.replayed) == (2, 2, 0)
    assert q.dlq_ids() == ids
    assert q.queued() == []


def test_limit_stops_after_n_matching_records(replay_queues: Queues) -> None:
    q = replay_queues
    for _ in range(7):
        q.bridge()
    summary = replay(q, limit=3)
    assert summary.replayed == 3
    assert len(q.queued()) == 3
    assert len(q.dlq_ids()) == 4


def test_rate_spaces_the_sends(replay_queues: Queues) -> None:
    q = replay_queues
    for _ in range(4):
        q.bridge()
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    pacer = RatePacer(2.0, clock=lambda: clock[0], sleep=sleep)
    scanner = q.scanner()
    summary = Replayer(q.sqs, q.queue_url, pacer=pacer).run(scanner, DlqFilter(), ReplayOptions(rate=2.0))
    assert summary.replayed == 4
    assert clock[0] == pytest.approx(1.5)


def assert_each_record_in_exactly_one_place(q: Queues, ids: set[str]) -> None:
    """Every seeded DLQ message is either still in the DLQ or replayed exactly once — never both, never lost."""
    in_dlq = q.dlq_ids()
    replayed = [e.history[-1].dlq_message_id for e in q.queued()]
    assert len(replayed) == len(set(replayed)), "a record was replayed twice"
    assert in_dlq.isdisjoint(replayed), "a record is both in the DLQ and in the queue"
    assert in_dlq | set(replayed) == ids, "a record was lost"


def test_keyboard_interrupt_mid_replay_loses_nothing_and_duplicates_nothing(replay_queues: Queues) -> None:
    q = replay_queues
    ids = {q.bridge() for _ in range(8)}
    flaky = Instrumented(q.sqs)
    flaky.interrupt_before_send = 4
    with pytest.raises(KeyboardInterrupt):
        replay(q, sqs=flaky)
    assert_each_record_in_exactly_one_place(q, ids)
    assert len(q.queued()) == 3
    assert len(q.dlq_ids()) == 5  # released at once, not after the visibility timeout
    summary = replay(q)
    assert summary.replayed == 5
    assert_each_record_in_exactly_one_place(q, ids)
    assert q.dlq_ids() == set()


def test_stop_request_after_a_send_finishes_that_record_and_stops(replay_queues: Queues) -> None:
    q = replay_queues
    ids = {q.bridge() for _ in range(6)}
    stop = [False]
    counting = Instrumented(q.sqs)
    counting.after_send = lambda sends: stop.__setitem__(0, sends >= 2)
    summary = replay(q, sqs=counting, should_stop=lambda: stop[0])
    assert summary.interrupted
    assert summary.replayed == 2
    assert_each_record_in_exactly_one_place(q, ids)
    assert len(q.dlq_ids()) == 4


def test_failed_send_stops_the_run_and_keeps_the_record(replay_queues: Queues) -> None:
    q = replay_queues
    ids = {q.bridge() for _ in range(4)}
    flaky = Instrumented(q.sqs)
    flaky.fail_send = 2
    summary = replay(q, sqs=flaky)
    assert (summary.replayed, summary.failed, summary.interrupted) == (1, 1, False)
    assert not summary.ok
    assert_each_record_in_exactly_one_place(q, ids)


def test_delete_failure_after_send_is_reported_and_the_copy_is_replayed_once_later(replay_queues: Queues) -> None:
    q = replay_queues
    original = q.bridge()
    broken_deletes = Instrumented(q.sqs)
    broken_deletes.fail_deletes = True
    summary = replay(q, sqs=broken_deletes)
    assert summary.sent_not_deleted == [original]
    assert q.dlq_ids() == {original}
    # The drain takes the replayed copy and rejects it again: the same customer is now in the DLQ twice.
    [copy] = q.sqs.receive_message(QueueUrl=q.queue_url, VisibilityTimeout=60)["Messages"]
    q.sqs.delete_message(QueueUrl=q.queue_url, ReceiptHandle=copy["ReceiptHandle"])
    rejected = DlqRecord(
        envelope=Envelope.model_validate_json(copy["Body"]), error=reason(), source_message_id=copy["MessageId"]
    )
    again = q.put_record(rejected)
    summary = replay(q, max_replays=5)
    assert (summary.replayed, summary.duplicates) == (1, 1)
    assert q.dlq_ids() == set()
    [sent] = q.queued()
    assert {h.dlq_message_id for h in sent.history} & {original, again}


def test_a_replay_rejected_again_during_the_run_stays_in_the_dlq(replay_queues: Queues) -> None:
    q = replay_queues
    original = q.bridge()

    class FastDrain(Instrumented):
        """Like the drain racing the replay: each sent copy is rejected again into the DLQ at once."""

        def send_message(self, **kwargs: Any) -> Any:
            response = super().send_message(**kwargs)
            rejected = DlqRecord(
                envelope=Envelope.model_validate_json(kwargs["MessageBody"]),
                error=reason(),
                source_message_id=response["MessageId"],
            )
            q.put_record(rejected)
            return response

    summary = replay(q, sqs=FastDrain(q.sqs), max_replays=5)
    assert (summary.replayed, summary.back_in_dlq, summary.duplicates) == (1, 1, 0)
    [back] = q.dlq_ids()
    assert back != original
    with q.scanner() as scanner:
        [message] = list(scanner)
    assert message.replay_count == 1
    assert message.lineage == {back, original}
