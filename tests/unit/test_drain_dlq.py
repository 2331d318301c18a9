"""DLQ writes: batches of 10, only failed entries retried, and a record never written is never acknowledged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nxbridge.aws.sqs import MAX_BATCH_BYTES
from tests.fixtures.drain import (
    PLENTY_MS,
    DrainKit,
    RecordingSQS,
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


def rejecting(*numbers: int) -> ScriptedNXCloud:
    failures = {phone_of(n): (12001, "rejected") for n in numbers}
    return ScriptedNXCloud(lambda request, _c: stored(request, failures))


def test_dlq_records_are_sent_in_batches_of_ten(make_drain: MakeDrain) -> None:
    kit = make_drain(nxcloud=rejecting(*range(25)))

    result = kit.drainer.drain(records_for([make_envelope(n) for n in range(30)]), plenty)

    assert [len(call) for call in kit.sqs.calls] == [10, 10, 5]
    assert len(result.dead_lettered) == 25
    assert result.response() == {"batchItemFailures": []}


def test_only_failed_dlq_entries_are_sent_again(make_drain: MakeDrain) -> None:
    first_try_fails = {"m-1", "m-3"}

    def fail(call: int, entry: dict[str, Any]) -> bool:
        return call == 1 and any(f'"source_message_id":"{m}"' in entry["MessageBody"] for m in first_try_fails)

    kit = make_drain(nxcloud=rejecting(0, 1, 2, 3), sqs=RecordingSQS(fail=fail))

    result = kit.drainer.drain(records_for([make_envelope(n) for n in range(4)]), plenty)

    assert [len(call) for call in kit.sqs.calls] == [4, 2]
    assert sorted(b["source_message_id"] for b in kit.sqs.bodies()) == ["m-0", "m-1", "m-2", "m-3"]
    assert result.response() == {"batchItemFailures": []}
    assert len(kit.sleeps) == 1


def test_dlq_send_failure_reports_the_record_as_a_batch_item_failure(make_drain: MakeDrain) -> None:
    def fail(_call: int, entry: dict[str, Any]) -> bool:
        return '"source_message_id":"m-2"' in entry["MessageBody"]

    kit = make_drain(nxcloud=rejecting(1, 2), sqs=RecordingSQS(fail=fail))

    result = kit.drainer.drain(records_for([make_envelope(n) for n in range(3)]), plenty)

    assert len(kit.sqs.calls) == 3
    assert [d.message_id for d in result.dead_lettered] == ["m-1"]
    assert [s.message_id for s in result.synced] == ["m-0"]
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}


def test_dlq_unreachable_sends_every_dead_letter_back_to_sqs(make_drain: MakeDrain) -> None:
    kit = make_drain(nxcloud=rejecting(0, 1), sqs=RecordingSQS(raise_on_calls={1, 2, 3}))
    records = [*records_for([make_envelope(0), make_envelope(1), make_envelope(2)]), sqs_record("{", "m-bad")]

    result = kit.drainer.drain(records, plenty)

    assert result.dead_lettered == []
    assert [s.message_id for s in result.synced] == ["m-2"]
    assert sorted(r["itemIdentifier"] for r in result.response()["batchItemFailures"]) == ["m-0", "m-1", "m-bad"]


def test_dlq_unreachable_once_heals_on_the_next_attempt(make_drain: MakeDrain) -> None:
    kit = make_drain(nxcloud=rejecting(0), sqs=RecordingSQS(raise_on_calls={1}))

    result = kit.drainer.drain(records_for([make_envelope(0)]), plenty)

    assert [d.message_id for d in result.dead_lettered] == ["m-0"]
    assert result.response() == {"batchItemFailures": []}


def test_large_dlq_records_are_split_to_respect_the_batch_size_limit(make_drain: MakeDrain) -> None:
    kit = make_drain()
    big = "x" * (MAX_BATCH_BYTES // 3)
    records = [sqs_record(big + str(n), f"m-{n}") for n in range(5)]

    result = kit.drainer.drain(records, plenty)

    assert len(result.dead_lettered) == 5
    for call in kit.sqs.calls:
        assert sum(len(entry["MessageBody"].encode()) for entry in call) <= MAX_BATCH_BYTES
    assert [len(call) for call in kit.sqs.calls] == [2, 2, 1]
