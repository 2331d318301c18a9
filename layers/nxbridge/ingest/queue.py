"""SendMessageBatch for the ingest: one SQS message per customer, in chunks, retrying only the entries that failed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from nxbridge.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS limits: 10 entries and 256 KiB per SendMessageBatch, 256 KiB per message (the classic limit, which every
# queue and every emulator accepts).
BATCH_ENTRIES = 10
MAX_MESSAGE_BYTES = 256 * 1024


class QueueUnavailable(Exception):
    """SQS did not take every message; ``sent`` holds the indexes that did get queued."""

    def __init__(self, sent: frozenset[int]) -> None:
        super().__init__(f"SQS unavailable after queueing {len(sent)} message(s)")
        self.sent = sent


class CustomerQueue:
    """SendMessageBatch in chunks of up to 10 entries, retrying only the entries that failed."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        attempts: int = 3,
        backoff_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep

    def send(self, messages: Sequence[tuple[int, str]]) -> None:
        """Queue every ``(index, body)``; QueueUnavailable (with what was queued) if SQS does not take them all."""
        sent: set[int] = set()
        for chunk in _chunks(messages):
            pending = dict(chunk)
            for attempt in range(self._attempts):
                if attempt:
                    self._sleep(self._backoff * 2 ** (attempt - 1))
                try:
                    answer = self._sqs.send_message_batch(
                        QueueUrl=self._queue_url,
                        Entries=[{"Id": str(index), "MessageBody": body} for index, body in pending.items()],
                    )
                except (ClientError, BotoCoreError) as exc:
                    logger.warning("SendMessageBatch failed", extra={"error": type(exc).__name__, "attempt": attempt})
                    continue
                for entry in answer.get("Successful", []):
                    index = int(entry["Id"])
                    pending.pop(index, None)
                    sent.add(index)
                failed = answer.get("Failed", [])
                if failed:
                    codes = sorted({f.get("Code", "") for f in failed})
                    logger.warning("SQS refused entries", extra={"count": len(failed), "codes": codes})
                if not pending:
                    break
            if pending:
                raise QueueUnavailable(frozenset(sent))


def _chunks(messages: Sequence[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    size = 0
    for index, body in messages:
        length = len(body.encode("utf-8"))
        if chunk and (len(chunk) == BATCH_ENTRIES or size + length > MAX_MESSAGE_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append((index, body))
        size += length
    if chunk:
        yield chunk
