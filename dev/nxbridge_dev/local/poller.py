"""The local SQS event source mapping: poll CustomersQueue and invoke the drain function as Lambda would.

Semantics kept from the real mapping (BatchSize, MaximumBatchingWindowInSeconds, ScalingConfig's
MaximumConcurrency, ReportBatchItemFailures): long-poll until a message comes, then gather up to ``batch_size``
messages, 10 per ReceiveMessage, until the batch is full or the batching window that opened with the first
message closes; invoke once with the SQS event; delete exactly the messages the response does not list in
``batchItemFailures`` (without ReportBatchItemFailures the response is not read and a return deletes the whole
batch). An exception or a malformed response fails the whole batch. Failed messages are left alone: they come
back when their visibility timeout ends, and after the queue's maxReceiveCount SQS itself (moto) moves them to
the DLQ. ``max_concurrency`` pollers gather and invoke side by side, each its own batch in its own window, so at
most that many invocations run at once and a trickle of messages is shared among the pollers that are gathering.

The drain answers only with the messages to retry; to tell synced, dead-lettered and superseded apart among the
acknowledged ones, the poller counts the messages each invocation sends to the DLQ itself (SendMessage and
SendMessageBatch through boto3's default session, which the functions' clients come from), apart from what SQS
redrives, and reads the superseded count off the invocation's ``batch drained`` log line.
"""

from __future__ import annotations

import base64
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import boto3

from nxbridge.aws.clients import OPERATOR
from nxbridge.aws.sqs import MAX_BATCH_ENTRIES, delete_batch
from nxbridge.observability import logger
from nxbridge_dev.local.functions import LocalFunction

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef, MessageTypeDef

# The longest ReceiveMessage wait of a poller: Lambda long-polls; one second keeps stop() prompt.
LONG_POLL_SECONDS = 1


@dataclass
class PollerStats:
    """The poller's own counts of what it received and what the handler answered."""

    batches: int = 0
    invocation_errors: int = 0
    received: int = 0
    acknowledged: int = 0
    failed: int = 0
    dead_lettered: int = 0
    superseded: int = 0
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


class _ThreadCount:
    """A count per thread, kept only between :meth:`start` and :meth:`stop` (an invocation runs in one thread)."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def start(self) -> None:
        """Count the calling thread's events from now on, from zero."""
        self._local.count = 0

    def stop(self) -> int:
        """Stop counting for the calling thread; what it counted since :meth:`start`."""
        count: int = getattr(self._local, "count", None) or 0
        self._local.count = None
        return count

    def add(self, n: int) -> None:
        """Add ``n`` to the calling thread's count when it is counting."""
        if getattr(self._local, "count", None) is not None:
            self._local.count += n

    @property
    def counting(self) -> bool:
        """Whether the calling thread is between start and stop."""
        return getattr(self._local, "count", None) is not None


class QueueSends(_ThreadCount):
    """Counts the messages a thread sends to one queue through boto3's default session, between start and stop."""

    _OPERATIONS = ("SendMessage", "SendMessageBatch")

    def __init__(self, queue_url: str) -> None:
        super().__init__()
        self.queue_name = _queue_name(queue_url)
        self._session: Any = None

    def install(self) -> None:
        """Listen to the sends of every SQS client created from boto3's default session from now on."""
        # The session boto3.client() uses; its clients copy the handlers registered here when they are created.
        self._session = boto3._get_default_session()
        for operation in self._OPERATIONS:
            self._session.events.register(f"before-parameter-build.sqs.{operation}", self._note_queue)
            self._session.events.register(f"after-call.sqs.{operation}", self._count)

    def uninstall(self) -> None:
        """Stop listening (clients created meanwhile keep calling, and are ignored)."""
        if self._session is None:
            return
        for operation in self._OPERATIONS:
            self._session.events.unregister(f"before-parameter-build.sqs.{operation}", self._note_queue)
            self._session.events.unregister(f"after-call.sqs.{operation}", self._count)
        self._session = None

    def _note_queue(self, params: Mapping[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        context["nxbridge_local_queue"] = _queue_name(str(params.get("QueueUrl", "")))

    def _count(self, parsed: Mapping[str, Any], context: Mapping[str, Any], model: Any, **kwargs: Any) -> None:
        if not self.counting or context.get("nxbridge_local_queue") != self.queue_name:
            return
        batch = model.name == "SendMessageBatch"
        self.add(len(parsed.get("Successful", [])) if batch else int("MessageId" in parsed))


class DrainSummaries(_ThreadCount, logging.Filter):
    """Reads, per thread, the superseded count of the drain's ``batch drained`` log line between start and stop.

    The line is what CloudWatch Logs shows of each invocation; at a log level above INFO it is not written, and
    superseded messages count as synced.
    """

    MESSAGE = "batch drained"

    def install(self) -> None:
        """Read the package logger's records from now on."""
        logger.addFilter(self)

    def uninstall(self) -> None:
        """Stop reading them."""
        logger.removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        """Note the count of a ``batch drained`` line on a counting thread; never drops a record."""
        if self.counting and record.getMessage() == self.MESSAGE:
            self.add(int(getattr(record, "superseded", 0) or 0))
        return True


class SqsPoller:
    """Polls one queue from ``max_concurrency`` background threads and invokes one function with SQS events."""

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
        max_concurrency: int = 1,
        report_batch_item_failures: bool = True,
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
        self.max_concurrency = max_concurrency
        self.report_batch_item_failures = report_batch_item_failures
        self.idle_interval = idle_interval
        self._stats = PollerStats()
        self._stats_lock = threading.Lock()
        self._in_hand: dict[int, int] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._dlq_sends = QueueSends(dlq_url) if dlq_url is not None else None
        self._summaries = DrainSummaries()

    def stats(self) -> dict[str, int]:
        """A consistent snapshot of the counters."""
        with self._stats_lock:
            return asdict(self._stats)

    def start(self) -> None:
        """Poll from ``max_concurrency`` background threads until :meth:`stop`."""
        self._stopping.clear()
        if self._dlq_sends is not None:
            self._dlq_sends.install()
        self._summaries.install()
        self._threads = [
            threading.Thread(target=self._run, name=f"nxbridge-poller-{n}", daemon=True)
            for n in range(self.max_concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Finish the batches in hand (their messages are deleted or left to retry as usual), then stop."""
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._dlq_sends is not None:
            self._dlq_sends.uninstall()
        self._summaries.uninstall()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                # The real mapping keeps polling through SQS errors; so does this one.
                logger.exception("poller iteration failed")
                self._stopping.wait(self.idle_interval)

    def poll_once(self) -> int:
        """Gather one batch and, if any message came, invoke the function with it; returns the batch size."""
        messages = self._gather()
        if messages:
            self._invoke(messages)
        return len(messages)

    def _gather(self) -> list[MessageTypeDef]:
        """A long poll until the first message, then what comes until the batch is full or its window closes."""
        messages: list[MessageTypeDef] = []
        window_ends: float | None = None
        while len(messages) < self.batch_size and not self._stopping.is_set():
            remaining = math.inf if window_ends is None else window_ends - time.monotonic()
            if remaining <= 0:
                break
            # Whole seconds (SQS's unit) of long poll that fit in the window; at most one, so that stop() is prompt.
            wait = LONG_POLL_SECONDS if window_ends is None else min(LONG_POLL_SECONDS, int(remaining))
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(MAX_BATCH_ENTRIES, self.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if received and window_ends is None:
                window_ends = time.monotonic() + self.batching_window
            messages.extend(received)
            self._hold(len(messages))
            if window_ends is None:
                return messages
            if not received and wait == 0:
                self._stopping.wait(min(self.idle_interval, remaining))
        return messages

    def _invoke(self, messages: list[MessageTypeDef]) -> None:
        event = {"Records": [sqs_record(m, queue_arn=self.queue_arn, region=self.region) for m in messages]}
        ids = [m["MessageId"] for m in messages]
        if self._dlq_sends is not None:
            self._dlq_sends.start()
        self._summaries.start()
        try:
            response = self.function.invoke(event)
        except Exception:
            logger.exception("drain handler raised: the whole batch will be retried", extra={"batch_size": len(ids)})
            failed = set(ids)
            errored = True
        else:
            # Without ReportBatchItemFailures Lambda does not read the response: returning means the batch succeeded.
            failed = failed_message_ids(response, ids) if self.report_batch_item_failures else set()
            errored = False
        finally:
            dead_lettered = self._dlq_sends.stop() if self._dlq_sends is not None else 0
            superseded = self._summaries.stop()
        done = [m for m in messages if m["MessageId"] not in failed]
        deleted = self._delete(done)
        with self._stats_lock:
            self._stats.batches += 1
            self._stats.invocation_errors += int(errored)
            self._stats.received += len(messages)
            self._stats.acknowledged += deleted
            self._stats.failed += len(messages) - len(done)
            self._stats.dead_lettered += dead_lettered
            self._stats.superseded += superseded
            self._stats.last_batch_size = len(messages)
        self._hold(0)

    def _hold(self, count: int) -> None:
        """Record how many messages the calling poller thread holds; ``in_hand`` is the sum over the threads."""
        with self._stats_lock:
            self._in_hand[threading.get_ident()] = count
            self._stats.in_hand = sum(self._in_hand.values())

    def _delete(self, messages: list[MessageTypeDef]) -> int:
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
        ]
        result = delete_batch(self.sqs, self.queue_url, entries, OPERATOR.retry())
        for failure in result.failed.values():
            # A receipt handle goes stale when the handler outlived the visibility timeout; SQS redelivers.
            logger.warning("delete failed", extra={"code": failure.code, "entry": failure.id})
        return len(result.done)


def _queue_name(queue_url: str) -> str:
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def _b64(value: bytes | str) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")
