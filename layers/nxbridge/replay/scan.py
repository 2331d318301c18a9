"""Reading the CustomersDLQ: one pass over every message, at most once each, and what stats/list/show make of it.

A scan receives DLQ messages with a visibility timeout and holds every one it has seen. Matching records are acted
on at once; all others stay held until the scan ends (releasing them earlier would make SQS hand the same messages
back and the scan would never reach the rest) and are then made visible again in batches (ChangeMessageVisibility
0), also when the scan is interrupted.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Self

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from nxbridge.aws.clients import OPERATOR
from nxbridge.aws.sqs import MAX_BATCH_ENTRIES, change_visibility_batch, delete_batch
from nxbridge.config import SCAN_VISIBILITY_TIMEOUT, SCAN_WAIT_SECONDS
from nxbridge.envelope import utcnow
from nxbridge.observability import logger
from nxbridge.replay.filters import DlqFilter
from nxbridge.replay.records import DlqMessage, parse_message

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
        MessageTypeDef,
    )

AGE_BUCKETS: tuple[str, ...] = ("<1h", "1-24h", "1-7d", ">7d")


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
        visibility_timeout: int = SCAN_VISIBILITY_TIMEOUT,
        wait_seconds: int = SCAN_WAIT_SECONDS,
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
                MaxNumberOfMessages=MAX_BATCH_ENTRIES,
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
        """Delete one held message; False when it failed (after the OPERATOR profile's botocore retries)."""
        handle = self._held.get(message_id)
        if handle is None:
            return False
        try:
            self.sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=handle)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("DLQ delete failed", extra={"messageId": message_id, "error": type(exc).__name__})
            return False
        del self._held[message_id]
        return True

    def delete_many(self, message_ids: Sequence[str]) -> list[str]:
        """Delete held messages in batches (retrying only the failed entries); return the ids still in the DLQ."""
        pending = [m for m in message_ids if m in self._held]
        unknown = [m for m in message_ids if m not in self._held]
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(n), "ReceiptHandle": self._held[m]} for n, m in enumerate(pending)
        ]
        result = delete_batch(self.sqs, self.dlq_url, entries, OPERATOR.retry(sleep=self.sleep))
        for done in result.done:
            self._held.pop(pending[int(done)], None)
        if result.failed:
            codes = sorted({f.code for f in result.failed.values()})
            logger.warning("DLQ delete failed", extra={"messages": len(result.failed), "codes": codes})
        return unknown + [pending[int(i)] for i in result.failed]

    def release(self) -> int:
        """Make every held message visible again now (batched); return how many were released."""
        handles = list(self._held.values())
        self._held.clear()
        entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
            {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": 0} for n, h in enumerate(handles)
        ]
        # One attempt: not fatal, these messages become visible on their own when the visibility timeout ends.
        result = change_visibility_batch(self.sqs, self.dlq_url, entries, OPERATOR.retry(attempts=1))
        if result.failed:
            logger.warning("DLQ release failed", extra={"messages": len(result.failed)})
        self.released += len(result.done)
        return len(result.done)


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

    # Built with the first stats action, not on every cold start of the ReplayFunction.
    model_config = ConfigDict(defer_build=True)

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
