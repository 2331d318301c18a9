"""The local SQS event source mapping: poll CustomersQueue and invoke the drain function as Lambda would.

Semantics kept from the real mapping (BatchSize 100, MaximumBatchingWindowInSeconds, ReportBatchItemFailures):
gather up to ``batch_size`` messages, 10 per ReceiveMessage, until the batch is full or the batching window
that opened with the first message closes; invoke once with the SQS event; delete exactly the messages the
response does not list in ``batchItemFailures``. An exception or a malformed response fails the whole batch.
Failed messages are left alone: they come back when their visibility timeout ends, and after the queue's
maxReceiveCount SQS itself (moto) moves them to the DLQ. One poller means a maximum concurrency of 1.

The drain answers only with the messages to retry; to tell synced from dead-lettered among the acknowledged
ones, the poller counts how much the DLQ grew during each invocation (nothing else writes to it meanwhile:
moto's redrive happens inside this poller's ReceiveMessage calls).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nxbridge.aws.clients import OPERATOR
from nxbridge.aws.sqs import MAX_BATCH_ENTRIES, delete_batch, queue_counts
from nxbridge.observability import logger
from nxbridge_dev.local.functions import LocalFunction

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef, MessageTypeDef


@dataclass
class PollerStats:
    """The poller's own counts of what it received and what the handler answered."""

    batches: int = 0
    invocation_errors: int = 0
    received: int = 0
    acknowledged: int = 0
    failed: int = 0
    dead_lettered: int = 0
    in_hand: int = 0
    last_batch_size: int = 0


def lambda_message_attributes(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """SQS message attributes in the shape Lambda puts them in an SQS event (camelCase, binaries base64)."""
    converted: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {
            "stringListValues": list(value.get("StringListValues", [])),
            "binaryListValues": [_b64(item) for item in value.get("BinaryListValues", [])],
            "dataType": value["DataType"],
        }
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = _b64(value["BinaryValue"])
        converted[name] = entry
    return converted


def sqs_record(message: MessageTypeDef, *, queue_arn: str, region: str) -> dict[str, Any]:
    """One ``Records`` entry of the SQS event Lambda builds from a received message."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": lambda_message_attributes(message.get("MessageAttributes", {})),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_message_ids(response: Any, message_ids: Sequence[str]) -> set[str]:
    """The message ids a partial batch response reports as failed, by Lambda's rules.

    None, ``{}``, and a null or empty ``batchItemFailures`` mean complete success; any malformed entry
    (missing, empty or unknown ``itemIdentifier``) or a response of another shape means complete failure.
    """
    everything = set(message_ids)
    if response is None:
        return set()
    if not isinstance(response, Mapping):
        return everything
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return everything
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(identifier, str) or identifier not in everything:
            return everything
        failed.add(identifier)
    return failed


class SqsPoller:
    """Polls one queue in a background thread and invokes one function with SQS events."""

    def __init__(
        self,
        sqs: SQSClient,
        function: LocalFunction,
        *,
        queue_url: str,
        queue_arn: str,
        region: str,
        dlq_url: str | None = None,
        batch_size: int = 100,
        batching_window: float = 1.0,
        idle_interval: float = 0.1,
    ) -> None:
        self.sqs = sqs
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.region = region
        self.dlq_url = dlq_url
        self.batch_size = batch_size
        self.batching_window = batching_window
        self.idle_interval = idle_interval
        self._stats = PollerStats()
        self._stats_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def stats(self) -> dict[str, int]:
        """A consistent snapshot of the counters."""
        with self._stats_lock:
            return asdict(self._stats)

    def start(self) -> None:
        """Poll in a background thread until :meth:`stop`."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="nxbridge-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the batch in hand (its messages are deleted or left to retry as usual), then stop."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                invoked = self.poll_once()
            except Exception:
                # The real mapping keeps polling through SQS errors; so does this one.
                logger.exception("poller iteration failed")
                invoked = 0
            if not invoked:
                self._stopping.wait(self.idle_interval)

    def poll_once(self) -> int:
        """Gather one batch and, if any message came, invoke the function with it; returns the batch size."""
        messages = self._gather()
        if messages:
            self._invoke(messages)
        return len(messages)

    def _gather(self) -> list[MessageTypeDef]:
        messages: list[MessageTypeDef] = []
        window_ends: float | None = None
        while len(messages) < self.batch_size and not self._stopping.is_set():
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(MAX_BATCH_ENTRIES, self.batch_size - len(messages)),
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if received and window_ends is None:
                window_ends = time.monotonic() + self.batching_window
            messages.extend(received)
            with self._stats_lock:
                self._stats.in_hand = len(messages)
            if window_ends is None:
                return messages
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            if not received:
                self._stopping.wait(min(self.idle_interval, remaining))
        return messages

    def _invoke(self, messages: list[MessageTypeDef]) -> None:
        event = {"Records": [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in messages]}
        ids = [m["MessageId"] for m in messages]
        dlq_before = self._dlq_total()
        try:
            response = self.function.invoke(event)
        except Exception:
            logger.exception("drain handler raised: the whole batch will be retried", extra={"batch_size": len(ids)})
            failed = set(ids)
            errored = True
        else:
            failed = failed_message_ids(response, ids)
            errored = False
        done = [m for m in messages if m["MessageId"] not in failed]
        deleted = self._delete(done)
        dead_lettered = max(0, self._dlq_total() - dlq_before)
        with self._stats_lock:
            self._stats.batches += 1
            self._stats.invocation_errors += int(errored)
            self._stats.received += len(messages)
            self._stats.acknowledged += deleted
            self._stats.failed += len(messages) - len(done)
            self._stats.dead_lettered += dead_lettered
            self._stats.in_hand = 0
            self._stats.last_batch_size = len(messages)

    def _dlq_total(self) -> int:
        if self.dlq_url is None:
            return 0
        return queue_counts(self.sqs, self.dlq_url).total

    def _delete(self, messages: list[MessageTypeDef]) -> int:
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
        ]
        result = delete_batch(self.sqs, self.queue_url, entries, OPERATOR.retry())
        for failure in result.failed.values():
            # A receipt handle goes stale when the handler outlived the visibility timeout; SQS redelivers.
            logger.warning("delete failed", extra={"code": failure.code, "entry": failure.id})
        return len(result.done)


def _b64(value: bytes | str) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")
