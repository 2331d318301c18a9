"""Replaying: matching DLQ records sent back to the CustomersQueue as fresh envelopes, paced, never lost.

- Replay sends the fresh envelope first and deletes the DLQ message only after the send succeeded. Stop requests
  (Ctrl-C, SIGTERM, the Lambda deadline) are honoured between records, never between the send and the delete.
- Each replayed envelope carries the DLQ message id in its new history entry. A record whose lineage (its own
  message id and those in its history) meets one already replayed in the same run is the same customer twice:
  if it came from a queue message this run sent (the drain records ``source_message_id``), it is this run's replay
  rejected again (left in the DLQ, not sent again); otherwise it is a stale copy left by an earlier run whose
  delete failed (deleted, not re-sent).
- With the drain's watermarks (``Watermarks``), a record older than what NXCloud may already hold for its customer
  is refused as ``stale`` (the drain would only supersede it), unless forced or edited (``plan_replay``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from nxbridge.aws.sqs import MAX_BATCH_ENTRIES
from nxbridge.envelope import Envelope, utcnow
from nxbridge.observability import logger
from nxbridge.ordering import Watermarks
from nxbridge.replay.filters import DlqFilter
from nxbridge.replay.plan import Refusal, ReplayOptions, plan_replay
from nxbridge.replay.records import DlqMessage
from nxbridge.replay.scan import DlqScanner

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# A DLQ record without a source message id that shares its lineage with one replayed in this run counts as this
# run's own replay rejected again when SQS received it after the run started, less this margin for clock skew.
FRESH_MARGIN = dt.timedelta(minutes=5)
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?", re.IGNORECASE)


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


OutcomeStatus = Literal["replayed", "would_replay", "refused", "duplicate", "back_in_dlq", "sent_not_deleted", "failed"]


class RecordOutcome(BaseModel):
    """What happened to one matching record (only the noteworthy ones are listed in a summary)."""

    message_id: str
    status: OutcomeStatus
    reason: str | None = None
    # For a refusal: why, for machines (``stale``, ``max_replays``, ``invalid``, ...).
    code: str | None = None


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
    return min(43200, max(base, math.ceil(MAX_BATCH_ENTRIES / rate) + 60))


class Replayer:
    """Moves matching DLQ records back to the CustomersQueue as fresh envelopes."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        pacer: RatePacer | None = None,
        watermarks: Watermarks | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.pacer = pacer
        self.watermarks = watermarks

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
            watermarks=self.watermarks,
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
    watermarks: Watermarks | None = None
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

    def _plan(self, message: DlqMessage) -> Envelope | Refusal:
        """``plan_replay`` with the customer's watermark, when there is a table and the envelope names a customer."""
        envelope = message.record.envelope
        if self.watermarks is None or envelope is None or envelope.identity is None:
            return plan_replay(message, self.options)
        try:
            held = self.watermarks.read(envelope.identity)
        except (ClientError, BotoCoreError) as exc:
            return Refusal(f"cannot read the customer's watermark ({type(exc).__name__}); not replayed", "unchecked")
        newest = held.newest(self.watermarks.now_us()) if held is not None else None
        return plan_replay(message, self.options, watermark=newest)

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
        plan = self._plan(message)
        if isinstance(plan, Refusal):
            summary.matched += 1
            summary.refused += 1
            summary.problems.append(RecordOutcome(message_id=mid, status="refused", reason=plan.reason, code=plan.code))
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
        # One message at a time (send, then delete its DLQ copy): botocore's retries of the OPERATOR profile are
        # the only retry layer, so there is nothing for nxbridge.aws.sqs's batch retries to add here.
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
