"""DLQ operations: read, filter, replay, export and purge CustomersDLQ records, given an injected SQS client.

Safety model (docs/replay.md states it for users):

- A scan receives DLQ messages with a visibility timeout and holds every one it has seen. Matching records are
  acted on at once; all others stay held until the scan ends (releasing them earlier would make SQS hand the
  same messages back and the scan would never reach the rest) and are then made visible again in batches
  (ChangeMessageVisibility 0), also when the scan is interrupted.
- Replay sends the fresh envelope first and deletes the DLQ message only after the send succeeded.
  Stop requests (Ctrl-C, SIGTERM, the Lambda deadline) are honoured between records, never between the send
  and the delete.
- Each replayed envelope carries the DLQ message id in its new history entry. A record whose lineage (its own
  message id and those in its history) meets one already replayed in the same run is the same customer twice:
  if it came from a queue message this run sent (the drain records ``source_message_id``), it is this run's replay
  rejected again (left in the DLQ, not sent again); otherwise it is a stale copy left by an earlier run whose
  delete failed (deleted, not re-sent).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal, Self

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nxbridge.config import ReplaySettings
from nxbridge.contract import CustomerValidationError, validate_customer
from nxbridge.contract.models import field_errors
from nxbridge.envelope import DlqRecord, Envelope, FailureReason, utcnow
from nxbridge.observability import logger
from nxbridge.redact import redact, scrub_text

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
        MessageTypeDef,
    )

Shape = Literal["bridge", "redrive", "unknown"]
STAGES: tuple[str, ...] = ("decode", "nxcloud", "bisect", "config", "redrive", "replay")
AGE_BUCKETS: tuple[str, ...] = ("<1h", "1-24h", "1-7d", ">7d")
SQS_BATCH = 10
DELETE_ATTEMPTS = 3
REDRIVE_CODE = "maxReceiveCount"
# A DLQ record without a source message id that shares its lineage with one replayed in this run counts as this
# run's own replay rejected again when SQS received it after the run started, less this margin for clock skew.
FRESH_MARGIN = dt.timedelta(minutes=5)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)", re.IGNORECASE)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?", re.IGNORECASE)


class ReplayError(Exception):
    """An operation could not run at all (bad configuration, unreachable queue)."""


# ---------------------------------------------------------------------------------------------------------------
# Reading one DLQ message, whatever its shape
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DlqMessage:
    """One DLQ message, normalized: ``record`` is a DlqRecord for every shape (redriven envelopes get a reason)."""

    message_id: str
    body: str
    shape: Shape
    record: DlqRecord
    sent_at: dt.datetime
    receive_count: int
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> FailureReason:
        """Why the record is in the DLQ."""
        return self.record.error

    @property
    def endpoint(self) -> str | None:
        """The webhook endpoint the customer came in through, when it can be known."""
        if self.record.envelope is not None:
            return self.record.envelope.endpoint
        if "endpoint" in self.attributes:
            return self.attributes["endpoint"]
        raw = _json_object(self.record.raw_body)
        value = raw.get("endpoint") if raw else None
        return value if isinstance(value, str) else None

    @property
    def failed_at(self) -> dt.datetime:
        """When the record failed; for redriven envelopes, when SQS received the message."""
        return self.reason.failed_at if self.shape == "bridge" else self.sent_at

    @property
    def replay_count(self) -> int:
        """How many times this customer was already replayed."""
        return self.record.envelope.replay_count if self.record.envelope is not None else 0

    @property
    def lineage(self) -> frozenset[str]:
        """This message id and the DLQ message ids the customer was replayed from before."""
        ids = {self.message_id}
        if self.record.envelope is not None:
            ids.update(h.dlq_message_id for h in self.record.envelope.history if h.dlq_message_id)
        return frozenset(ids)

    def candidate(self) -> dict[str, Any] | None:
        """The envelope to replay as plain data, or None when the DLQ holds no envelope at all."""
        if self.record.envelope is not None:
            return self.record.envelope.model_dump(mode="json", exclude_none=True)
        raw = _json_object(self.record.raw_body)
        if raw is None:
            return None
        # A bridge DLQ record that was moved back to the queue as-is (native redrive) fails to decode there;
        # its envelope is inside.
        nested = raw.get("envelope")
        if isinstance(nested, dict) and "error" in raw:
            raw = nested
        return raw if isinstance(raw.get("customer"), dict) else None


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _sqs_time(millis: str | None) -> dt.datetime:
    if millis and millis.isdigit():
        return dt.datetime.fromtimestamp(int(millis) / 1000, dt.UTC)
    return utcnow()


def parse_message(message: MessageTypeDef) -> DlqMessage:
    """Read one received DLQ message: a bridge DlqRecord, a bare envelope moved by redrive, or anything else."""
    body = message.get("Body", "")
    system = message.get("Attributes", {})
    attributes = {
        name: value["StringValue"]
        for name, value in message.get("MessageAttributes", {}).items()
        if "StringValue" in value
    }
    sent_at = _sqs_time(system.get("SentTimestamp"))
    shape: Shape
    try:
        record = DlqRecord.model_validate_json(body)
        shape = "bridge"
    except ValidationError:
        try:
            envelope = Envelope.model_validate_json(body)
        except ValidationError as exc:
            reasons = "; ".join(f"{e.field}: {e.reason}" for e in field_errors(exc))
            reason = FailureReason(
                stage="decode", errorCode="unreadable", errorMessage=f"neither a DLQ record nor an envelope: {reasons}"
            )
            record = DlqRecord(raw_body=body, error=reason.model_copy(update={"failed_at": sent_at}))
            shape = "unknown"
        else:
            reason = FailureReason(
                stage="redrive",
                errorCode=REDRIVE_CODE,
                errorMessage="moved to the DLQ by SQS after maxReceiveCount receives; no reason recorded",
                failed_at=sent_at,
            )
            record = DlqRecord(envelope=envelope, error=reason)
            shape = "redrive"
    return DlqMessage(
        message_id=message["MessageId"],
        body=body,
        shape=shape,
        record=record,
        sent_at=sent_at,
        receive_count=int(system.get("ApproximateReceiveCount", "1") or 1),
        attributes=attributes,
    )


# ---------------------------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------------------------


def parse_when(text: str | dt.datetime, now: dt.datetime | None = None) -> dt.datetime:
    """A point in time from a duration before ``now`` (30m, 2h, 7d, 1w) or an ISO timestamp (naive = UTC)."""
    if isinstance(text, dt.datetime):
        moment = text
    else:
        match = _DURATION.fullmatch(text.strip())
        if match:
            seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
            return (now or utcnow()) - dt.timedelta(seconds=seconds)
        try:
            moment = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is neither a duration (30m, 2h, 7d) nor an ISO timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_rate(text: str | float) -> float:
    """Sends per second from ``N``, ``N/s`` or ``N/m``."""
    if isinstance(text, int | float):
        rate = float(text)
    else:
        match = _RATE.fullmatch(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a rate like 10/s or 300/m")
        rate = float(match.group(1)) / (60 if (match.group(2) or "s").lower().startswith("m") else 1)
    if rate <= 0:
        raise ValueError("rate must be positive")
    return rate


def _as_tuple(value: Any) -> Any:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return value


class DlqFilter(BaseModel):
    """Which DLQ records an operation acts on; every given criterion must hold, repeated values are alternatives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_code: tuple[str, ...] = ()
    stage: tuple[str, ...] = ()
    endpoint: tuple[str, ...] = ()
    older_than: dt.datetime | None = None
    newer_than: dt.datetime | None = None
    contains: str | None = None
    id: tuple[str, ...] = ()

    @field_validator("error_code", "stage", "endpoint", "id", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_tuple(value)

    @field_validator("stage", mode="after")
    @classmethod
    def _known_stage(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown stage {', '.join(unknown)}; one of {', '.join(STAGES)}")
        return value

    @field_validator("older_than", "newer_than", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, str | dt.datetime):
            return parse_when(value)
        return value

    def matches(self, message: DlqMessage) -> bool:
        """Whether ``message`` passes every criterion."""
        reason = message.reason
        checks = (
            not self.id or message.message_id in self.id,
            not self.error_code or reason.errorCode in self.error_code,
            not self.stage or reason.stage in self.stage,
            not self.endpoint or message.endpoint in self.endpoint,
            self.older_than is None or message.failed_at < self.older_than,
            self.newer_than is None or message.failed_at >= self.newer_than,
            self.contains is None or self.contains.casefold() in message.body.casefold(),
        )
        return all(checks)


# ---------------------------------------------------------------------------------------------------------------
# Scanning the DLQ
# ---------------------------------------------------------------------------------------------------------------


def _retry_sleep(attempt: int, sleep: Callable[[float], None]) -> None:
    sleep(0.2 * 2 ** (attempt - 1))


class DlqScanner:
    """Iterate over the DLQ once, each message at most once; release whatever is still held when done.

    Use as a context manager: leaving it (normally, on an exception or on KeyboardInterrupt) makes every held
    message visible again. Call :meth:`delete` for the messages an operation consumed.
    """

    def __init__(
        self,
        sqs: SQSClient,
        dlq_url: str,
        *,
        visibility_timeout: int = 120,
        wait_seconds: int = 1,
        stale_rounds: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sqs = sqs
        self.dlq_url = dlq_url
        self.visibility_timeout = visibility_timeout
        self.wait_seconds = wait_seconds
        self.stale_rounds = stale_rounds
        self.sleep = sleep
        self.scanned = 0
        self.released = 0
        self._held: dict[str, str] = {}
        self._seen: set[str] = set()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __iter__(self) -> Iterator[DlqMessage]:
        """Each DLQ message once; stops when the queue has no visible message left or only repeats come back."""
        stale = 0
        while True:
            response = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=SQS_BATCH,
                VisibilityTimeout=self.visibility_timeout,
                WaitTimeSeconds=self.wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            if not received:
                return
            fresh: list[MessageTypeDef] = []
            for message in received:
                # A message seen before came back because its visibility expired during a long scan: keep the
                # newest receipt handle (older ones no longer release or delete it) but do not act twice.
                self._held[message["MessageId"]] = message["ReceiptHandle"]
                if message["MessageId"] not in self._seen:
                    self._seen.add(message["MessageId"])
                    fresh.append(message)
            stale = 0 if fresh else stale + 1
            if stale >= self.stale_rounds:
                return
            for message in fresh:
                self.scanned += 1
                yield parse_message(message)

    def delete(self, message_id: str) -> bool:
        """Delete one held message (retrying); False when every attempt failed and it is still in the DLQ."""
        handle = self._held.get(message_id)
        if handle is None:
            return False
        for attempt in range(1, DELETE_ATTEMPTS + 1):
            try:
                self.sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=handle)
            except (ClientError, BotoCoreError) as exc:
                logger.warning(
                    "DLQ delete failed", extra={"messageId": message_id, "attempt": attempt, "error": str(exc)}
                )
                if attempt < DELETE_ATTEMPTS:
                    _retry_sleep(attempt, self.sleep)
                continue
            del self._held[message_id]
            return True
        return False

    def delete_many(self, message_ids: Sequence[str]) -> list[str]:
        """Delete held messages in batches; return the ids that could not be deleted."""
        pending = [m for m in message_ids if m in self._held]
        failed = [m for m in message_ids if m not in self._held]
        for attempt in range(1, DELETE_ATTEMPTS + 1):
            if not pending:
                break
            if attempt > 1:
                _retry_sleep(attempt - 1, self.sleep)
            retry: list[str] = []
            for start in range(0, len(pending), SQS_BATCH):
                chunk = pending[start : start + SQS_BATCH]
                entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
                    {"Id": str(n), "ReceiptHandle": self._held[m]} for n, m in enumerate(chunk)
                ]
                try:
                    response = self.sqs.delete_message_batch(QueueUrl=self.dlq_url, Entries=entries)
                except (ClientError, BotoCoreError):
                    retry.extend(chunk)
                    continue
                for ok in response.get("Successful", []):
                    self._held.pop(chunk[int(ok["Id"])], None)
                retry.extend(chunk[int(bad["Id"])] for bad in response.get("Failed", []))
            pending = retry
        return failed + pending

    def release(self) -> int:
        """Make every held message visible again now (batched); return how many were released."""
        handles = list(self._held.values())
        self._held.clear()
        released = 0
        for start in range(0, len(handles), SQS_BATCH):
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for n, h in enumerate(handles[start : start + SQS_BATCH])
            ]
            try:
                response = self.sqs.change_message_visibility_batch(QueueUrl=self.dlq_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                # Not fatal: these messages become visible on their own when the visibility timeout ends.
                logger.warning("DLQ release failed", extra={"messages": len(entries), "error": str(exc)})
                continue
            released += len(response.get("Successful", []))
        self.released += released
        return released


# ---------------------------------------------------------------------------------------------------------------
# Finding the queues
# ---------------------------------------------------------------------------------------------------------------

# Output keys of template.yaml; stacks that name them differently are found by these fragments of the key.
QUEUE_OUTPUT_KEY = "QueueUrl"
DLQ_OUTPUT_KEY = "DlqUrl"
QUEUE_OUTPUT_FRAGMENT = "customersqueueurl"
DLQ_OUTPUT_FRAGMENT = "customersdlqurl"


@dataclass(frozen=True)
class StackQueues:
    """The queue URLs a deployed stack publishes as outputs."""

    queue_url: str | None
    dlq_url: str | None


def _output(outputs: Mapping[str, str], key: str, fragment: str) -> str | None:
    if key in outputs:
        return outputs[key]
    return next((v for k, v in sorted(outputs.items()) if fragment in k.lower()), None)


def queues_from_stack(cloudformation: CloudFormationClient, stack_name: str) -> StackQueues:
    """Read the CustomersQueue and CustomersDLQ URLs from a CloudFormation stack's outputs."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise ReplayError(f"cannot read stack {stack_name!r}: {exc}") from None
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for s in stacks
        for o in s.get("Outputs", [])
        if "OutputKey" in o and "OutputValue" in o
    }
    found = StackQueues(
        queue_url=_output(outputs, QUEUE_OUTPUT_KEY, QUEUE_OUTPUT_FRAGMENT),
        dlq_url=_output(outputs, DLQ_OUTPUT_KEY, DLQ_OUTPUT_FRAGMENT),
    )
    if found.queue_url is None and found.dlq_url is None:
        raise ReplayError(f"stack {stack_name!r} has no {QUEUE_OUTPUT_KEY} or {DLQ_OUTPUT_KEY} output")
    return found


def approximate_counts(sqs: SQSClient, queue_url: str) -> dict[str, int]:
    """SQS's own approximate counts of visible, in-flight and delayed messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "visible": int(attributes.get("ApproximateNumberOfMessages", "0")),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
        "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", "0")),
    }


# ---------------------------------------------------------------------------------------------------------------
# Presenting records (masked unless revealed)
# ---------------------------------------------------------------------------------------------------------------


class HistoryView(BaseModel):
    """One earlier failure of the customer."""

    stage: str
    errorCode: str
    errorMessage: str
    failed_at: dt.datetime
    dlq_message_id: str | None = None


class RecordView(BaseModel):
    """What list/show/export print for one DLQ record."""

    message_id: str
    shape: Shape
    stage: str
    errorCode: str
    errorMessage: str
    traceId: str | None = None
    attempts: int
    failed_at: dt.datetime
    endpoint: str | None = None
    kind: str | None = None
    delivery_id: str | None = None
    replay_count: int
    receive_count: int
    customer: dict[str, Any] | None = None
    history: list[HistoryView] = Field(default_factory=list)
    raw_body: str | None = None


def _text(value: str, reveal: bool) -> str:
    return value if reveal else scrub_text(value)


def _raw(text: str, reveal: bool) -> str:
    """A message body or raw body; PII fields masked when it is JSON, PII-like text masked otherwise."""
    if reveal:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return scrub_text(text)
    return json.dumps(redact(value), ensure_ascii=False, separators=(",", ":"))


def view(message: DlqMessage, *, reveal: bool = False) -> RecordView:
    """The printable form of a DLQ record; PII masked unless ``reveal``."""
    reason, envelope = message.reason, message.record.envelope
    customer = envelope.customer.to_api() if envelope is not None else None
    return RecordView(
        message_id=message.message_id,
        shape=message.shape,
        stage=reason.stage,
        errorCode=reason.errorCode,
        errorMessage=_text(reason.errorMessage, reveal),
        traceId=reason.traceId,
        attempts=reason.attempts,
        failed_at=message.failed_at,
        endpoint=message.endpoint,
        kind=envelope.kind if envelope is not None else None,
        delivery_id=envelope.delivery_id if envelope is not None else None,
        replay_count=message.replay_count,
        receive_count=message.receive_count,
        customer=customer if reveal or customer is None else redact(customer),
        history=[
            HistoryView(
                stage=h.stage,
                errorCode=h.errorCode,
                errorMessage=_text(h.errorMessage, reveal),
                failed_at=h.failed_at,
                dlq_message_id=h.dlq_message_id,
            )
            for h in (envelope.history if envelope is not None else [])
        ],
        raw_body=_raw(message.record.raw_body, reveal) if message.record.raw_body is not None else None,
    )


class ExportLine(RecordView):
    """One JSONL line of an export: the view plus the message body and attributes as SQS holds them."""

    body: str
    sent_at: dt.datetime
    message_attributes: dict[str, str] = Field(default_factory=dict)


def export_line(message: DlqMessage, *, reveal: bool = False) -> ExportLine:
    """The export form of a record: enough to audit it and, revealed, to send it again by hand."""
    return ExportLine(
        **view(message, reveal=reveal).model_dump(),
        body=_raw(message.body, reveal),
        sent_at=message.sent_at,
        message_attributes=dict(message.attributes),
    )


# ---------------------------------------------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------------------------------------------


def age_bucket(failed_at: dt.datetime, now: dt.datetime) -> str:
    """Which of AGE_BUCKETS a record failed in, counted back from ``now``."""
    age = now - failed_at
    if age < dt.timedelta(hours=1):
        return AGE_BUCKETS[0]
    if age < dt.timedelta(days=1):
        return AGE_BUCKETS[1]
    if age < dt.timedelta(days=7):
        return AGE_BUCKETS[2]
    return AGE_BUCKETS[3]


class DlqStats(BaseModel):
    """Counts of the records a scan found, by reason, endpoint and age."""

    total: int = 0
    by_stage: dict[str, int] = Field(default_factory=dict)
    by_error_code: dict[str, int] = Field(default_factory=dict)
    by_endpoint: dict[str, int] = Field(default_factory=dict)
    by_age: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(AGE_BUCKETS, 0))
    oldest: dt.datetime | None = None
    newest: dt.datetime | None = None


def stats(scanner: DlqScanner, dlq_filter: DlqFilter, *, now: dt.datetime | None = None) -> DlqStats:
    """Count every matching record of one full scan."""
    moment = now or utcnow()
    stages: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    endpoints: Counter[str] = Counter()
    result = DlqStats()
    for message in scanner:
        if not dlq_filter.matches(message):
            continue
        result.total += 1
        stages[message.reason.stage] += 1
        codes[message.reason.errorCode] += 1
        endpoints[message.endpoint or "(none)"] += 1
        result.by_age[age_bucket(message.failed_at, moment)] += 1
        at = message.failed_at
        result.oldest = at if result.oldest is None else min(result.oldest, at)
        result.newest = at if result.newest is None else max(result.newest, at)
    result.by_stage = dict(stages.most_common())
    result.by_error_code = dict(codes.most_common())
    result.by_endpoint = dict(endpoints.most_common())
    return result


def select(scanner: DlqScanner, dlq_filter: DlqFilter, *, limit: int | None = None) -> Iterator[DlqMessage]:
    """Matching records of one scan, at most ``limit`` of them."""
    found = 0
    if limit is not None and limit <= 0:
        return
    for message in scanner:
        if dlq_filter.matches(message):
            found += 1
            yield message
            if limit is not None and found >= limit:
                return


def find(scanner: DlqScanner, message_id: str) -> DlqMessage | None:
    """The DLQ record with this message id, or None (not there, or currently held by another reader)."""
    return next(select(scanner, DlqFilter(id=(message_id,)), limit=1), None)


def write_export(messages: Iterable[DlqMessage], out: IO[str], *, reveal: bool = False) -> int:
    """Write records as JSONL; return how many lines were written."""
    count = 0
    for message in messages:
        out.write(export_line(message, reveal=reveal).model_dump_json() + "\n")
        count += 1
    return count


def _sync(out: IO[str]) -> None:
    """Force written lines to disk, so that the archive survives a crash right after the deletes."""
    try:
        os.fsync(out.fileno())
    except (OSError, ValueError):
        # An in-memory or piped output has no file to sync; what was written is as durable as it gets.
        return


class PurgeSummary(BaseModel):
    """What a purge deleted and where it archived it first."""

    action: Literal["purge"] = "purge"
    archive: str
    scanned: int = 0
    archived: int = 0
    deleted: int = 0
    not_deleted: list[str] = Field(default_factory=list)


def purge(
    scanner: DlqScanner,
    dlq_filter: DlqFilter,
    archive: IO[str],
    *,
    archive_name: str,
    limit: int | None = None,
) -> PurgeSummary:
    """Delete matching records, each batch written (unmasked) and synced to ``archive`` before it is deleted."""
    summary = PurgeSummary(archive=archive_name)
    batch: list[DlqMessage] = []

    def flush() -> None:
        if not batch:
            return
        summary.archived += write_export(batch, archive, reveal=True)
        archive.flush()
        _sync(archive)
        failed = scanner.delete_many([m.message_id for m in batch])
        summary.deleted += len(batch) - len(failed)
        summary.not_deleted.extend(failed)
        batch.clear()

    for message in select(scanner, dlq_filter, limit=limit):
        batch.append(message)
        if len(batch) == SQS_BATCH:
            flush()
    flush()
    summary.scanned = scanner.scanned
    logger.info("DLQ purge", extra={"deleted": summary.deleted, "notDeleted": len(summary.not_deleted)})
    return summary


# ---------------------------------------------------------------------------------------------------------------
# Replay
# ---------------------------------------------------------------------------------------------------------------


class Edits(BaseModel):
    """Changes applied to every replayed customer before it is validated again."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    set_fields: dict[str, Any] = Field(default_factory=dict, alias="set")
    drop_fields: tuple[str, ...] = ()

    @field_validator("drop_fields", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_tuple(value)

    @model_validator(mode="after")
    def _no_conflict(self) -> Edits:
        both = sorted(set(self.set_fields) & set(self.drop_fields))
        if both:
            raise ValueError(f"fields both set and dropped: {', '.join(both)}")
        return self

    def __bool__(self) -> bool:
        return bool(self.set_fields or self.drop_fields)

    def apply(self, customer: Mapping[str, Any]) -> dict[str, Any]:
        """The customer with fields set and dropped."""
        edited = {k: v for k, v in customer.items() if k not in self.drop_fields}
        edited.update(self.set_fields)
        return edited


def parse_assignment(text: str) -> tuple[str, str]:
    """``field=value`` as used by ``--set``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"{text!r} is not field=value")
    return name.strip(), value


class ReplayOptions(BaseModel):
    """How a replay runs."""

    model_config = ConfigDict(frozen=True)

    dry_run: bool = False
    limit: int | None = Field(default=None, ge=1)
    rate: float | None = Field(default=None, gt=0, description="sends per second")
    max_replays: int = Field(default=3, ge=0)
    force: bool = False
    edits: Edits = Field(default_factory=Edits)


@dataclass(frozen=True)
class Refusal:
    """Why one record is not replayed; it stays in the DLQ."""

    reason: str


def plan_replay(message: DlqMessage, options: ReplayOptions) -> Envelope | Refusal:
    """The fresh envelope to send for ``message`` (edits applied, revalidated, count and history updated)."""
    candidate = message.candidate()
    if candidate is None:
        return Refusal(
            f"no envelope to replay (stage {message.reason.stage}): the DLQ holds only a raw body; "
            "export it, fix it at the source, then purge it"
        )
    count = candidate.get("replay_count", 0)
    if isinstance(count, int) and count >= options.max_replays and not options.force:
        return Refusal(f"already replayed {count} times (limit {options.max_replays}); use --force to replay again")
    try:
        customer = validate_customer(options.edits.apply(candidate["customer"]))
    except CustomerValidationError as exc:
        return Refusal(f"customer is invalid{' after the edits' if options.edits else ''}: {exc}")
    try:
        envelope = Envelope.model_validate({**candidate, "customer": customer})
    except ValidationError as exc:
        reasons = "; ".join(f"{e.field}: {e.reason}" for e in field_errors(exc))
        return Refusal(f"not a valid envelope: {reasons}")
    reason = message.reason.model_copy(update={"dlq_message_id": message.message_id})
    return envelope.model_copy(
        update={"replay_count": envelope.replay_count + 1, "history": [*envelope.history, reason]}
    )


OutcomeStatus = Literal["replayed", "would_replay", "refused", "duplicate", "back_in_dlq", "sent_not_deleted", "failed"]


class RecordOutcome(BaseModel):
    """What happened to one matching record (only the noteworthy ones are listed in a summary)."""

    message_id: str
    status: OutcomeStatus
    reason: str | None = None


class ReplaySummary(BaseModel):
    """The result of one replay run."""

    action: Literal["replay"] = "replay"
    dry_run: bool = False
    scanned: int = 0
    matched: int = 0
    replayed: int = 0
    would_replay: int = 0
    refused: int = 0
    duplicates: int = 0
    back_in_dlq: int = 0
    failed: int = 0
    sent_not_deleted: list[str] = Field(default_factory=list)
    released: int = 0
    interrupted: bool = False
    problems: list[RecordOutcome] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Everything that matched was replayed (or would be, in a dry run)."""
        return not (self.refused or self.failed or self.sent_not_deleted or self.interrupted)


class RatePacer:
    """Spaces sends to at most ``per_second``; waits in short slices so a stop request is seen promptly."""

    def __init__(
        self,
        per_second: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next: float | None = None

    def wait(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Block until the next send is allowed; False if a stop was requested meanwhile."""
        if not self.interval:
            return not should_stop()
        now = self.clock()
        if self._next is not None:
            while now < self._next:
                if should_stop():
                    return False
                self.sleep(min(0.2, self._next - now))
                now = self.clock()
        self._next = max(now, self._next or now) + self.interval
        return not should_stop()


def replay_visibility(base: int, rate: float | None) -> int:
    """A visibility timeout long enough for one received batch to be sent at ``rate``."""
    if not rate:
        return base
    return min(43200, max(base, math.ceil(SQS_BATCH / rate) + 60))


class Replayer:
    """Moves matching DLQ records back to the CustomersQueue as fresh envelopes."""

    def __init__(self, sqs: SQSClient, queue_url: str, *, pacer: RatePacer | None = None) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.pacer = pacer

    def run(
        self,
        scanner: DlqScanner,
        dlq_filter: DlqFilter,
        options: ReplayOptions,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Callable[[ReplaySummary], None] | None = None,
    ) -> ReplaySummary:
        """Replay every matching record of one scan (at most ``options.limit``), then release the rest."""
        run = _ReplayRun(
            sqs=self.sqs,
            queue_url=self.queue_url,
            scanner=scanner,
            options=options,
            pacer=self.pacer or RatePacer(options.rate),
            should_stop=should_stop,
        )
        summary = run.summary
        with scanner:
            for message in scanner:
                if not dlq_filter.matches(message):
                    continue
                if not run.one(message):
                    break
                if progress is not None:
                    summary.scanned = scanner.scanned
                    progress(summary)
                if options.limit is not None and summary.matched >= options.limit:
                    break
                if should_stop():
                    summary.interrupted = True
                    break
        summary.scanned = scanner.scanned
        summary.released = scanner.released
        counts = summary.model_dump(exclude={"problems", "sent_not_deleted", "action"})
        logger.info("DLQ replay", extra={**counts, "sentNotDeleted": len(summary.sent_not_deleted)})
        return summary


@dataclass
class _ReplayRun:
    """The state of one replay run: its summary and the lineage of every customer already replayed."""

    sqs: SQSClient
    queue_url: str
    scanner: DlqScanner
    options: ReplayOptions
    pacer: RatePacer
    should_stop: Callable[[], bool]
    summary: ReplaySummary = field(init=False)
    replayed_lineage: set[str] = field(default_factory=set)
    started: dt.datetime = field(default_factory=utcnow)
    sent_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.summary = ReplaySummary(dry_run=self.options.dry_run)

    def _own_replay(self, message: DlqMessage) -> bool:
        """Whether ``message`` is a copy this run sent (the drain names the queue message it dead-lettered)."""
        if message.message_id in self.sent_ids or message.record.source_message_id in self.sent_ids:
            return True
        # Without a source id (a bare envelope moved by redrive) only the time tells; err towards keeping it.
        return message.record.source_message_id is None and message.sent_at >= self.started - FRESH_MARGIN

    def one(self, message: DlqMessage) -> bool:
        """Handle one matching record; False when the run must stop (stop requested or a send failed)."""
        summary, mid = self.summary, message.message_id
        if message.lineage & self.replayed_lineage and self._own_replay(message):
            # This run's own replay, already rejected again by the drain: a new failure, not a stale copy.
            # Left in the DLQ for the operator (replaying it again at once would only loop).
            summary.matched += 1
            summary.back_in_dlq += 1
            summary.problems.append(
                RecordOutcome(message_id=mid, status="back_in_dlq", reason="replayed in this run and rejected again")
            )
            return True
        if message.lineage & self.replayed_lineage:
            summary.matched += 1
            summary.duplicates += 1
            summary.problems.append(
                RecordOutcome(message_id=mid, status="duplicate", reason="the same customer was replayed in this run")
            )
            if not self.options.dry_run and not self.scanner.delete(mid):
                summary.failed += 1
                summary.problems.append(
                    RecordOutcome(message_id=mid, status="failed", reason="duplicate, but the DLQ delete failed")
                )
            return True
        plan = plan_replay(message, self.options)
        if isinstance(plan, Refusal):
            summary.matched += 1
            summary.refused += 1
            summary.problems.append(RecordOutcome(message_id=mid, status="refused", reason=plan.reason))
            return True
        if self.options.dry_run:
            summary.matched += 1
            summary.would_replay += 1
            self.replayed_lineage.update(message.lineage)
            return True
        if not self.pacer.wait(self.should_stop):
            summary.interrupted = True
            return False
        summary.matched += 1
        try:
            sent = self.sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=plan.to_message(),
                MessageAttributes={
                    "replayOf": {"DataType": "String", "StringValue": mid},
                    "replayCount": {"DataType": "Number", "StringValue": str(plan.replay_count)},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            summary.failed += 1
            summary.problems.append(RecordOutcome(message_id=mid, status="failed", reason=f"send failed: {exc}"))
            return False
        # From here the customer is in the queue: the delete happens before any stop request is honoured.
        self.sent_ids.add(sent["MessageId"])
        self.replayed_lineage.update(message.lineage)
        summary.replayed += 1
        if not self.scanner.delete(mid):
            summary.sent_not_deleted.append(mid)
            summary.problems.append(
                RecordOutcome(
                    message_id=mid,
                    status="sent_not_deleted",
                    reason="sent to the queue but the DLQ delete failed; it is still in the DLQ",
                )
            )
        return True


# ---------------------------------------------------------------------------------------------------------------
# One request, as the ReplayFunction receives it
# ---------------------------------------------------------------------------------------------------------------


class ReplayRequest(DlqFilter):
    """The ReplayFunction event: an action plus the CLI's filters and options, as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    action: Literal["stats", "list", "show", "replay"]
    message_id: str | None = None
    limit: int | None = Field(default=None, ge=1)
    dry_run: bool = False
    rate: float | None = Field(default=None, gt=0)
    max_replays: int | None = Field(default=None, ge=0)
    force: bool = False
    set_fields: dict[str, Any] = Field(default_factory=dict, alias="set")
    drop_fields: tuple[str, ...] = ()
    reveal: bool = False

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> Any:
        return None if value is None else parse_rate(value)

    @field_validator("drop_fields", mode="before")
    @classmethod
    def _drop(cls, value: Any) -> Any:
        return _as_tuple(value)

    @model_validator(mode="after")
    def _consistent(self) -> ReplayRequest:
        if self.action == "show" and not self.message_id:
            raise ValueError("action show needs message_id")
        both = sorted(set(self.set_fields) & set(self.drop_fields))
        if both:
            raise ValueError(f"fields both set and dropped: {', '.join(both)}")
        return self

    @property
    def edits(self) -> Edits:
        """The customer edits of a replay."""
        return Edits(set_fields=self.set_fields, drop_fields=self.drop_fields)

    @property
    def dlq_filter(self) -> DlqFilter:
        """The filter part of the request."""
        return DlqFilter.model_validate(self.model_dump(include=set(DlqFilter.model_fields)))


# A list answer must fit in Lambda's 6 MB response; more than this is what export (CLI) is for.
LIST_LIMIT_DEFAULT = 100


def run_request(
    request: ReplayRequest,
    sqs: SQSClient,
    settings: ReplaySettings,
    *,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Carry out one ReplayFunction request and return its JSON-ready answer."""
    scanner = DlqScanner(
        sqs, settings.dlq_url, visibility_timeout=settings.visibility_timeout, wait_seconds=settings.wait_seconds
    )
    if request.action == "stats":
        with scanner:
            return {"action": "stats", **stats(scanner, request.dlq_filter).model_dump(mode="json")}
    if request.action == "show":
        with scanner:
            found = find(scanner, request.message_id or "")
        if found is None:
            return {"action": "show", "found": False, "message_id": request.message_id}
        return {"action": "show", "found": True, "record": view(found, reveal=request.reveal).model_dump(mode="json")}
    if request.action == "list":
        limit = request.limit or LIST_LIMIT_DEFAULT
        with scanner:
            records = [
                view(m, reveal=request.reveal).model_dump(mode="json")
                for m in select(scanner, request.dlq_filter, limit=limit)
            ]
        return {"action": "list", "count": len(records), "limit": limit, "records": records}
    options = ReplayOptions(
        dry_run=request.dry_run,
        limit=request.limit,
        rate=request.rate,
        max_replays=settings.max_replays if request.max_replays is None else request.max_replays,
        force=request.force,
        edits=request.edits,
    )
    scanner.visibility_timeout = replay_visibility(settings.visibility_timeout, options.rate)
    summary = Replayer(sqs, settings.queue_url).run(scanner, request.dlq_filter, options, should_stop=should_stop)
    return summary.model_dump(mode="json")
