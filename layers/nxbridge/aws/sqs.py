"""SQS plumbing: the service's limits, batch calls chunked to them that retry only the failed entries, queue counts.

``send_batch``, ``delete_batch`` and ``change_visibility_batch`` take the entries of any length with ids the caller
chose (unique), cut them into SQS-sized batches and send those one after the other. Within a batch, each attempt
carries only the entries still failing; an entry SQS refuses with ``SenderFault`` is final (sending it again cannot
help), and a failed call (timeout, throttling, 5xx) fails every entry it carried. Pauses and the deadline are the
caller's ``RetryPolicy``. The result says which ids succeeded and, for each other id, SQS's code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from nxbridge.aws.retry import RetryPolicy
from nxbridge.observability import logger
from nxbridge.record import Record

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

# Entries per SendMessageBatch / DeleteMessageBatch / ChangeMessageVisibilityBatch, and messages per ReceiveMessage.
MAX_BATCH_ENTRIES = 10
# Bytes of every message of one SendMessageBatch together, and of one message: body plus attributes. The classic
# 256 KiB, which every queue and every emulator accepts.
MAX_BATCH_BYTES = 256 * 1024
MAX_MESSAGE_BYTES = 256 * 1024

# Codes of ours beside SQS's, for entries SQS never saw.
NOT_ATTEMPTED = "NotAttempted"  # the deadline or an earlier batch's failure stopped before this entry was sent
MESSAGE_TOO_LONG = "MessageTooLong"  # larger than MAX_MESSAGE_BYTES: refused before sending, final

_Entry = TypeVar("_Entry", bound=Mapping[str, Any])


class EntryFailure(Record):
    """Why one entry was not done: SQS's code (or the failed call's), and whether the fault is the request's."""

    id: str
    code: str
    sender_fault: bool = False


class BatchResult(Record):
    """What a batch operation achieved: ids done (in order), SQS message ids of sent entries, the failures by id."""

    done: tuple[str, ...] = ()
    message_ids: Mapping[str, str] = field(default_factory=dict)
    failed: Mapping[str, EntryFailure] = field(default_factory=dict)
    calls: int = 0

    @property
    def ok(self) -> bool:
        """Whether every entry was done."""
        return not self.failed


class QueueCounts(Record):
    """SQS's approximate counters of one queue (exact on moto)."""

    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        """Every message the queue holds."""
        return self.visible + self.in_flight + self.delayed


def message_bytes(entry: SendMessageBatchRequestEntryTypeDef) -> int:
    """The size SQS counts for one message: the body plus each attribute's name, type and value."""
    # UTF-8 lengths add up: each attribute's texts are measured together, and an ASCII text is as long as it is.
    size = len(body) if (body := entry["MessageBody"]).isascii() else len(body.encode("utf-8"))
    for name, value in entry.get("MessageAttributes", {}).items():
        text = name + value["DataType"] + value.get("StringValue", "")
        size += len(text) if text.isascii() else len(text.encode("utf-8"))
        binary = value.get("BinaryValue")
        if isinstance(binary, bytes | bytearray):
            size += len(binary)
    return size


def batches(
    entries: Sequence[_Entry], size: Callable[[_Entry], int] | None = None, max_bytes: int = MAX_BATCH_BYTES
) -> Iterator[list[_Entry]]:
    """``entries`` in order, cut into batches of at most MAX_BATCH_ENTRIES and, by ``size``, ``max_bytes``."""
    batch: list[_Entry] = []
    total = 0
    for entry in entries:
        length = size(entry) if size is not None else 0
        if batch and (len(batch) == MAX_BATCH_ENTRIES or total + length > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(entry)
        total += length
    if batch:
        yield batch


def send_batch(
    sqs: SQSClient,
    queue_url: str,
    entries: Sequence[SendMessageBatchRequestEntryTypeDef],
    policy: RetryPolicy,
    *,
    stop_after_failure: bool = False,
) -> BatchResult:
    """SendMessageBatch for ``entries``, retrying only the failed ones; ``message_ids`` maps ids to SQS's ids.

    ``stop_after_failure``: once any entry has failed for good (too long, or its batch's attempts are spent), no
    further batch is sent; their entries fail with NOT_ATTEMPTED.
    """
    # Each entry's size counted once: it decides both whether the entry may be sent and where its batch ends.
    sizes = {e["Id"]: message_bytes(e) for e in entries}
    too_long = {
        key: EntryFailure(key, MESSAGE_TOO_LONG, True) for key, size in sizes.items() if size > MAX_MESSAGE_BYTES
    }
    return _run(
        "SendMessageBatch",
        lambda batch: sqs.send_message_batch(QueueUrl=queue_url, Entries=batch),
        batches([e for e in entries if e["Id"] not in too_long], lambda e: sizes[e["Id"]]),
        policy,
        refused=too_long,
        stop_after_failure=stop_after_failure,
    )


def delete_batch(
    sqs: SQSClient,
    queue_url: str,
    entries: Sequence[DeleteMessageBatchRequestEntryTypeDef],
    policy: RetryPolicy,
    *,
    stop_after_failure: bool = False,
) -> BatchResult:
    """DeleteMessageBatch for ``entries``, retrying only the failed ones (a stale receipt handle is final)."""
    return _run(
        "DeleteMessageBatch",
        lambda batch: sqs.delete_message_batch(QueueUrl=queue_url, Entries=batch),
        batches(entries),
        policy,
        stop_after_failure=stop_after_failure,
    )


def change_visibility_batch(
    sqs: SQSClient,
    queue_url: str,
    entries: Sequence[ChangeMessageVisibilityBatchRequestEntryTypeDef],
    policy: RetryPolicy,
) -> BatchResult:
    """ChangeMessageVisibilityBatch for ``entries``, retrying only the failed ones."""
    return _run(
        "ChangeMessageVisibilityBatch",
        lambda batch: sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=batch),
        batches(entries),
        policy,
    )


def queue_counts(sqs: SQSClient, queue_url: str) -> QueueCounts:
    """Visible, in-flight and delayed message counts of one queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return QueueCounts(
        visible=int(attributes.get("ApproximateNumberOfMessages", "0")),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", "0")),
    )


def _run(
    operation: str,
    call: Callable[[list[_Entry]], Mapping[str, Any]],
    chunks: Iterator[list[_Entry]],
    policy: RetryPolicy,
    *,
    refused: Mapping[str, EntryFailure] | None = None,
    stop_after_failure: bool = False,
) -> BatchResult:
    done: list[str] = []
    message_ids: dict[str, str] = {}
    failed: dict[str, EntryFailure] = dict(refused or {})
    calls = 0
    for batch in chunks:
        if failed and stop_after_failure:
            failed.update((e["Id"], EntryFailure(e["Id"], NOT_ATTEMPTED)) for e in batch)
            continue
        pending = {entry["Id"]: entry for entry in batch}
        last: dict[str, EntryFailure] = {}
        attempt = 0
        while pending and attempt < policy.attempts:
            if not (policy.pause(attempt) if attempt else policy.can_call()):
                break
            attempt += 1
            calls += 1
            try:
                answer = call(list(pending.values()))
            except (ClientError, BotoCoreError) as exc:
                code = _error_code(exc)
                logger.warning(
                    "SQS batch call failed",
                    extra={"operation": operation, "error": code, "attempt": attempt, "entries": len(pending)},
                )
                last.update((key, EntryFailure(key, code)) for key in pending)
                continue
            for success in answer.get("Successful", []):
                key = success["Id"]
                if pending.pop(key, None) is not None:
                    done.append(key)
                    if "MessageId" in success:
                        message_ids[key] = success["MessageId"]
            refusals = answer.get("Failed", [])
            for refusal in refusals:
                key = refusal["Id"]
                failure = EntryFailure(key, refusal.get("Code", ""), bool(refusal.get("SenderFault")))
                last[key] = failure
                if failure.sender_fault and pending.pop(key, None) is not None:
                    failed[key] = failure
            if refusals:
                codes = sorted({r.get("Code", "") for r in refusals})
                logger.warning(
                    "SQS refused batch entries", extra={"operation": operation, "count": len(refusals), "codes": codes}
                )
        failed.update((key, last.get(key) or EntryFailure(key, NOT_ATTEMPTED)) for key in pending)
    return BatchResult(done=tuple(done), message_ids=message_ids, failed=failed, calls=calls)


def _error_code(exc: ClientError | BotoCoreError) -> str:
    """SQS's error code of a failed call, or the class of a transport failure (ReadTimeoutError...)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__
