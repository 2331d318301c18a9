"""SQS batch plumbing: SQS-sized batches, only failed entries retried, sender faults final, the deadline kept."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from nxbridge.aws.retry import RetryPolicy
from nxbridge.aws.sqs import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    MESSAGE_TOO_LONG,
    NOT_ATTEMPTED,
    QueueCounts,
    batches,
    change_visibility_batch,
    delete_batch,
    message_bytes,
    queue_counts,
    send_batch,
)

URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"
# Decides per call (1-based) and entry: None (done), "error" for the whole call, or (code, sender_fault).
Verdict = Callable[[int, dict[str, Any]], "str | tuple[str, bool] | None"]


@dataclass
class FakeSqs:
    """An SQS client double for the batch calls: records each call's entry ids; ``verdict`` decides outcomes."""

    verdict: Verdict = field(default=lambda _call, _entry: None)
    on_call: Callable[[], None] = field(default=lambda: None)
    calls: list[list[str]] = field(default_factory=list)

    def _batch(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([e["Id"] for e in Entries])
        self.on_call()
        call = len(self.calls)
        verdicts = [(e, self.verdict(call, e)) for e in Entries]
        if any(v == "error" for _, v in verdicts):
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "later"}}, "Batch")
        answer: dict[str, Any] = {"Successful": [], "Failed": []}
        for entry, verdict in verdicts:
            if verdict is None:
                answer["Successful"].append({"Id": entry["Id"], "MessageId": f"sqs-{entry['Id']}"})
            else:
                code, sender_fault = verdict
                answer["Failed"].append({"Id": entry["Id"], "Code": code, "SenderFault": sender_fault})
        return answer

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        return self._batch(Entries)

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        return self._batch(Entries)

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        return self._batch(Entries)


@dataclass
class FakeClock:
    """Seconds left before a deadline; sleeping and calls spend them."""

    left: float
    pauses: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.left -= seconds


def policy(**changes: Any) -> tuple[RetryPolicy, list[float]]:
    pauses: list[float] = []
    settings: dict[str, Any] = {"attempts": 3, "base": 0.1, "cap": 1.0, "rng": random.Random(1), **changes}
    return RetryPolicy(sleep=pauses.append, **settings), pauses


def messages(count: int, body: str = "body") -> list[Any]:
    return [{"Id": str(n), "MessageBody": f"{body}{n}"} for n in range(count)]


def test_entries_go_out_in_batches_of_at_most_ten() -> None:
    sqs = FakeSqs()
    retry, _ = policy()

    result = send_batch(sqs, URL, messages(25), retry)  # type: ignore[arg-type]

    assert [len(call) for call in sqs.calls] == [10, 10, 5]
    assert result.ok
    assert result.done == tuple(str(n) for n in range(25))
    assert result.message_ids["7"] == "sqs-7"


def test_batches_also_respect_the_byte_limit_counting_attributes() -> None:
    attributes = {"stage": {"DataType": "String", "StringValue": "nxcloud"}}
    big = [
        {"Id": str(n), "MessageBody": "x" * (MAX_BATCH_BYTES // 3 - 5), "MessageAttributes": attributes}
        for n in range(5)
    ]
    # Three bodies alone would fit; with their attributes they do not.
    assert 3 * len(big[0]["MessageBody"]) <= MAX_BATCH_BYTES < 3 * message_bytes(big[0])  # type: ignore[arg-type]

    chunks = list(batches(big, message_bytes))  # type: ignore[arg-type]

    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert all(sum(message_bytes(e) for e in chunk) <= MAX_BATCH_BYTES for chunk in chunks)


def test_a_message_over_the_size_limit_is_refused_for_good_without_a_call() -> None:
    sqs = FakeSqs()
    retry, _ = policy()
    entries = [*messages(2), {"Id": "big", "MessageBody": "x" * (MAX_MESSAGE_BYTES + 1)}]

    result = send_batch(sqs, URL, entries, retry)

    assert sqs.calls == [["0", "1"]]
    assert result.done == ("0", "1")
    assert (result.failed["big"].code, result.failed["big"].sender_fault) == (MESSAGE_TOO_LONG, True)


def test_only_the_failed_entries_are_sent_again() -> None:
    sqs = FakeSqs(lambda call, e: ("InternalError", False) if call == 1 and e["Id"] in {"2", "5"} else None)
    retry, pauses = policy()

    result = send_batch(sqs, URL, messages(8), retry)  # type: ignore[arg-type]

    assert sqs.calls == [[str(n) for n in range(8)], ["2", "5"]]
    assert result.ok
    assert len(pauses) == 1


def test_a_sender_fault_is_final_for_its_entry() -> None:
    sqs = FakeSqs(lambda _call, e: ("InvalidMessageContents", True) if e["Id"] == "1" else ("InternalError", False))
    retry, _ = policy()

    result = send_batch(sqs, URL, messages(3), retry)  # type: ignore[arg-type]

    assert sqs.calls == [["0", "1", "2"], ["0", "2"], ["0", "2"]]
    assert result.done == ()
    assert {k: (f.code, f.sender_fault) for k, f in result.failed.items()} == {
        "0": ("InternalError", False),
        "1": ("InvalidMessageContents", True),
        "2": ("InternalError", False),
    }


def test_a_failed_call_fails_its_entries_with_its_code_after_the_attempts() -> None:
    sqs = FakeSqs(lambda _call, _e: "error")
    retry, pauses = policy()

    result = send_batch(sqs, URL, messages(12), retry)  # type: ignore[arg-type]

    assert [len(call) for call in sqs.calls] == [10, 10, 10, 2, 2, 2]
    assert {f.code for f in result.failed.values()} == {"ServiceUnavailable"}
    assert len(result.failed) == 12
    assert len(pauses) == 4


def test_a_transport_failure_is_named_by_its_class() -> None:
    class Hanging(FakeSqs):
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.calls.append([e["Id"] for e in Entries])
            raise ReadTimeoutError(endpoint_url=QueueUrl)

    retry, _ = policy(attempts=1)

    result = send_batch(Hanging(), URL, messages(1), retry)  # type: ignore[arg-type]

    assert result.failed["0"].code == "ReadTimeoutError"


def test_stop_after_failure_sends_no_later_batch() -> None:
    sqs = FakeSqs(lambda call, e: "error" if call >= 2 else None)
    retry, _ = policy()

    result = send_batch(sqs, URL, messages(25), retry, stop_after_failure=True)  # type: ignore[arg-type]

    assert [len(call) for call in sqs.calls] == [10, 10, 10, 10]
    assert result.done == tuple(str(n) for n in range(10))
    assert {result.failed[str(n)].code for n in range(10, 20)} == {"ServiceUnavailable"}
    assert {result.failed[str(n)].code for n in range(20, 25)} == {NOT_ATTEMPTED}


def test_no_call_starts_that_could_not_finish_before_the_deadline() -> None:
    sqs = FakeSqs()
    retry, _ = policy(time_left=lambda: 0.9, call_seconds=1.0)

    result = send_batch(sqs, URL, messages(3), retry)  # type: ignore[arg-type]

    assert sqs.calls == []
    assert {f.code for f in result.failed.values()} == {NOT_ATTEMPTED}


def test_backoff_and_retries_stop_at_the_deadline() -> None:
    clock = FakeClock(left=2.5)

    def spend_a_call() -> None:
        clock.left -= 1.0  # each call takes as long as its timeouts allow

    sqs = FakeSqs(lambda _call, _entry: "error", on_call=spend_a_call)
    retry = RetryPolicy(
        attempts=10,
        base=0.2,
        cap=1.0,
        sleep=clock.sleep,
        rng=random.Random(2),
        time_left=lambda: clock.left,
        call_seconds=1.0,
    )

    result = send_batch(sqs, URL, messages(15), retry)  # type: ignore[arg-type]

    assert len(sqs.calls) == 2
    assert clock.left >= 0
    assert len(clock.pauses) == 1
    assert 0 <= clock.pauses[0] <= 0.2
    assert len(result.failed) == 15
    assert {result.failed[str(n)].code for n in range(10, 15)} == {NOT_ATTEMPTED}


def test_a_stale_receipt_handle_is_not_deleted_again() -> None:
    sqs = FakeSqs(lambda _call, e: ("ReceiptHandleIsInvalid", True) if e["Id"] == "b" else None)
    retry, _ = policy()
    entries: list[Any] = [{"Id": "a", "ReceiptHandle": "h-a"}, {"Id": "b", "ReceiptHandle": "h-b"}]

    result = delete_batch(sqs, URL, entries, retry)  # type: ignore[arg-type]

    assert sqs.calls == [["a", "b"]]
    assert result.done == ("a",)
    assert result.failed["b"].code == "ReceiptHandleIsInvalid"


def test_visibility_changes_are_batched_and_retried_like_the_rest() -> None:
    sqs = FakeSqs(lambda call, e: ("InternalError", False) if call == 1 and e["Id"] == "3" else None)
    retry, _ = policy()
    entries: list[Any] = [{"Id": str(n), "ReceiptHandle": f"h{n}", "VisibilityTimeout": 0} for n in range(12)]

    result = change_visibility_batch(sqs, URL, entries, retry)  # type: ignore[arg-type]

    assert [len(call) for call in sqs.calls] == [10, 1, 2]
    assert result.ok


@pytest.mark.parametrize(
    ("retry", "expected"), [(1, 0.1), (2, 0.2), (3, 0.4), (5, 1.0)], ids=["first", "second", "third", "capped"]
)
def test_backoff_doubles_up_to_its_cap_with_jitter_below_it(retry: int, expected: float) -> None:
    exact = RetryPolicy(base=0.1, cap=1.0, jitter=False)
    jittered = RetryPolicy(base=0.1, cap=1.0, rng=random.Random(5))

    assert exact.delay(retry) == pytest.approx(expected)
    assert all(0 <= jittered.delay(retry) <= expected for _ in range(50))


def test_a_pause_that_would_leave_no_time_for_the_call_is_not_taken() -> None:
    slept: list[float] = []
    tight = RetryPolicy(base=1.0, cap=1.0, jitter=False, sleep=slept.append, time_left=lambda: 1.5, call_seconds=1.0)

    assert tight.can_call()
    assert not tight.pause(1)
    assert slept == []


def test_queue_counts_read_the_three_approximate_counters() -> None:
    class Attributes:
        def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
            values = {
                "ApproximateNumberOfMessages": "7",
                "ApproximateNumberOfMessagesNotVisible": "2",
                "ApproximateNumberOfMessagesDelayed": "1",
            }
            return {"Attributes": {name: values[name] for name in AttributeNames}}

    counts = queue_counts(Attributes(), URL)  # type: ignore[arg-type]

    assert counts == QueueCounts(visible=7, in_flight=2, delayed=1)
    assert counts.total == 10


def test_message_bytes_counts_utf8_bytes_of_the_body_and_every_attribute() -> None:
    entry: dict[str, Any] = {
        "Id": "0",
        "MessageBody": "María García ✓ 𝄞",
        "MessageAttributes": {
            "stage": {"DataType": "String", "StringValue": "nxcloud"},
            "endpoint": {"DataType": "String", "StringValue": "tienda-españa"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"},
            "naïve": {"DataType": "String.ünïcode", "StringValue": ""},
        },
    }
    expected = len(entry["MessageBody"].encode("utf-8"))
    for name, value in entry["MessageAttributes"].items():
        expected += len(name.encode("utf-8")) + len(value["DataType"].encode("utf-8"))
        expected += len(value.get("StringValue", "").encode("utf-8")) + len(value.get("BinaryValue", b""))

    assert message_bytes(entry) == expected  # type: ignore[arg-type]
    assert message_bytes({"Id": "1", "MessageBody": "plain"}) == 5
