"""SendMessageBatch for the ingest: one SQS message per customer, retrying only the entries that failed."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from nxbridge.aws.clients import INGEST_QUEUE, INGEST_QUEUE_BUDGET_SECONDS
from nxbridge.aws.sqs import send_batch

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef


class QueueUnavailable(Exception):
    """SQS did not take every message; ``sent`` holds the indexes that did get queued.

    ``refused`` holds those SQS refused as the sender's fault (invalid content): sending them again cannot
    succeed, so the webhook is answered 422 for them rather than 503 (which its sender would retry for ever).
    """

    def __init__(self, sent: frozenset[int], refused: frozenset[int] = frozenset()) -> None:
        super().__init__(f"SQS unavailable after queueing {len(sent)} message(s)")
        self.sent = sent
        self.refused = refused


class CustomerQueue:
    """SendMessageBatch of one webhook's customers, retrying only the entries that failed, within a time budget.

    The first batch that still fails ends the send: the webhook is answered 503 at once, and its retry sends only
    what was not queued (``QueueUnavailable.sent``).
    """

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        attempts: int = INGEST_QUEUE.batch_retry.attempts,
        backoff_seconds: float = INGEST_QUEUE.batch_retry.base,
        budget_seconds: float = INGEST_QUEUE_BUDGET_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._policy = INGEST_QUEUE.retry(attempts=attempts, base=backoff_seconds, sleep=sleep)
        self._budget = budget_seconds
        self._clock = clock

    def send(self, messages: Sequence[tuple[int, str]]) -> None:
        """Queue every ``(index, body)``; QueueUnavailable (with what was queued) if SQS does not take them all."""
        ends = self._clock() + self._budget
        policy = self._policy.replace(time_left=lambda: ends - self._clock())
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "MessageBody": body} for index, body in messages
        ]
        result = send_batch(self._sqs, self._queue_url, entries, policy, stop_after_failure=True)
        if result.failed:
            refused = frozenset(int(key) for key, failure in result.failed.items() if failure.sender_fault)
            raise QueueUnavailable(frozenset(int(key) for key in result.done), refused)
