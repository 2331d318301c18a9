"""The import of one file: each record through the webhooks' own path, queued ten at a time, its progress journaled.

Per batch: the journal says ``sending`` (which records), SendMessageBatch runs, then the journal says ``through``
(every record up to there is queued or rejected). A run stopped in any way resumes after the last ``through``: no
record is lost. Only a run killed between SQS's answer and the next journal line (or whose answer the network
lost) sends that batch again on resume: a standard queue cannot refuse a duplicate, and the drain makes one
harmless (docs/import.md).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import IO, TYPE_CHECKING

from pydantic import BaseModel, Field

from nxbridge.aws.retry import RetryPolicy
from nxbridge.aws.sqs import MAX_BATCH_ENTRIES, send_batch
from nxbridge.endpoints import Endpoint
from nxbridge.envelope import utcnow
from nxbridge.importer.delivery import delivery_id, import_request, import_topic
from nxbridge.importer.formats import Reader, Record, RowError
from nxbridge.importer.progress import Journal, Standing
from nxbridge.importer.rejects import RejectsFile
from nxbridge.ingest.pipeline import customer_messages
from nxbridge.rejections import Rejection
from nxbridge.sources import Ignored, source_for

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

# Records handled without a batch to send (all rejected) before the journal is brought up to date anyway.
CHECKPOINT_RECORDS = 1000
# The longest pause of --rate between two looks at a stop request (Ctrl-C).
PACE_STEP_SECONDS = 0.25


class ImportSummary(BaseModel):
    """What a run did; ``read == queued + would_queue + rejected + skipped + not_queued``."""

    file: str
    format: str
    endpoint: str
    dry_run: bool = False
    read: int = 0
    queued: int = 0
    would_queue: int = 0
    rejected: int = 0
    skipped: int = Field(default=0, description="done by an earlier run of the same file")
    not_queued: int = Field(default=0, description="SQS did not take them; the next run sends them")
    resent: int = Field(default=0, description="sent again: an earlier run stopped while sending them")
    dropped: dict[str, int] = Field(default_factory=dict, description="values left out of valid customers")
    complete: bool = False
    interrupted: bool = False
    seconds: float = 0.0
    journal: str | None = None
    rejects: str | None = None


@dataclass
class ImportOptions:
    """How to run: validate only, or queue at most ``rate`` messages a second."""

    dry_run: bool = False
    rate: float | None = None


@dataclass
class _Pending:
    record: Record
    body: str


@dataclass
class _Run:
    """One run's collaborators and where it stands."""

    summary: ImportSummary
    standing: Standing
    journal: Journal | None
    rejects: RejectsFile | None
    options: ImportOptions
    should_stop: Callable[[], bool]
    # Records an earlier run was sending when it stopped: SQS may hold them already.
    resend: range = range(0)
    last_seen: int = 0
    unsent: set[int] = field(default_factory=set)
    since_checkpoint: int = 0
    paced: int = 0
    pace_started: float | None = None
    sqs_failed: bool = False


class Importer:
    """Imports the records of one file into CustomersQueue through one endpoint."""

    def __init__(
        self,
        reader: Reader,
        endpoint: Endpoint,
        *,
        sqs: SQSClient | None,
        queue_url: str,
        import_id: str,
        policy: RetryPolicy,
        clock: Callable[[], dt.datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if endpoint.kind not in reader.kinds:
            kinds = " or ".join(sorted(reader.kinds))
            raise ValueError(
                f"--format {reader.format} needs an endpoint of kind {kinds}; {endpoint.name!r} is {endpoint.kind}"
            )
        self._reader = reader
        self._endpoint = endpoint
        self._source = source_for(endpoint.kind)
        self._topic = import_topic(endpoint)
        self._sqs = sqs
        self._queue_url = queue_url
        self._import_id = import_id
        self._policy = policy
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep

    def run(
        self,
        stream: IO[str],
        summary: ImportSummary,
        *,
        journal: Journal | None,
        rejects: RejectsFile | None,
        options: ImportOptions,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Callable[[ImportSummary], None] | None = None,
    ) -> ImportSummary:
        """Read, convert, validate and queue every record still to do; LayoutError before the first one."""
        started = self._monotonic()
        standing = journal.standing if journal is not None else Standing()
        if standing.complete:
            summary.read = summary.skipped = standing.queued + standing.rejected
            summary.complete = True
            return summary
        run = _Run(summary, standing, journal, rejects, options, should_stop, unsent=set(standing.unsent))
        if standing.sending is not None:
            run.resend = range(standing.sending[0], standing.sending[1] + 1)
        batch: list[_Pending] = []
        for record in self._reader.records(stream):
            if should_stop() or run.sqs_failed:
                summary.interrupted = not run.sqs_failed
                break
            summary.read += 1
            if not standing.wants(record.number):
                summary.skipped += 1
            else:
                run.unsent.discard(record.number)
                self._take(record, run, batch)
                run.last_seen = record.number
                run.since_checkpoint += 1
            if len(batch) == MAX_BATCH_ENTRIES:
                self._flush(batch, run)
                batch = []
            elif not batch and run.since_checkpoint >= CHECKPOINT_RECORDS:
                self._checkpoint(run)
            if progress is not None:
                progress(summary)
        else:
            self._flush(batch, run)
            batch = []
            summary.complete = not run.sqs_failed and not run.unsent
        if run.sqs_failed:
            # SQS is not taking messages: what is converted but not sent is sent by the next run.
            run.unsent.update(p.record.number for p in batch)
        else:
            self._flush(batch, run)
        self._checkpoint(run, complete=summary.complete and not options.dry_run)
        summary.not_queued = len(run.unsent)
        summary.seconds = round(self._monotonic() - started, 3)
        return summary

    def _take(self, record: Record, run: _Run, batch: list[_Pending]) -> None:
        """Convert one record into its queue message, or write it to the rejects file."""
        endpoint, source = self._endpoint, self._source
        try:
            payload = self._reader.payload(record)
            request = import_request(
                endpoint,
                self._topic,
                payload,
                delivery=delivery_id(self._import_id, record.number),
                received_at=self._clock(),
                encoded=False,
            )
            built = customer_messages(request, endpoint, source, payload.body)
        except RowError as exc:
            self._reject(record, run, [(exc.column, exc.column, exc.reason)])
            return
        except Rejection as exc:
            problems = [(self._reader.column(p.field, record), p.field, p.reason) for p in exc.problems]
            self._reject(record, run, problems or [("", "", exc.message)])
            return
        if isinstance(built, Ignored):
            self._reject(record, run, [("", "", built.reason)])
            return
        for _, contact in built.dropped:
            run.summary.dropped[contact.reason] = run.summary.dropped.get(contact.reason, 0) + 1
        batch.append(_Pending(record, built.messages[0]))

    def _reject(self, record: Record, run: _Run, problems: list[tuple[str, str, str]]) -> None:
        """Count a refused record and write it to the rejects file with its (column, NXCloud field, reason)s."""
        run.summary.rejected += 1
        if run.rejects is not None:
            columns = "; ".join(dict.fromkeys(column for column, _, _ in problems if column))
            reasons = "; ".join(_said(*problem) for problem in problems)
            run.rejects.write(record, self._reader.columns, columns, reasons)

    def _flush(self, batch: list[_Pending], run: _Run) -> None:
        """Send one batch (at most ten messages), then bring the journal up to date."""
        if not batch:
            return
        summary = run.summary
        if run.options.dry_run or self._sqs is None:
            summary.would_queue += len(batch)
            return
        self._pace(run, len(batch))
        if run.journal is not None:
            run.journal.sending(batch[0].record.number, batch[-1].record.number)
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(p.record.number), "MessageBody": p.body} for p in batch
        ]
        result = send_batch(self._sqs, self._queue_url, entries, self._policy)
        summary.queued += len(result.done)
        summary.resent += sum(1 for p in batch if p.record.number in run.resend)
        by_id = {str(p.record.number): p.record for p in batch}
        for key, failure in result.failed.items():
            if failure.sender_fault:
                self._reject(by_id[key], run, [("", "", f"SQS refuses the message ({failure.code})")])
            else:
                run.unsent.add(int(key))
                run.sqs_failed = True
        self._checkpoint(run)

    def _checkpoint(self, run: _Run, *, complete: bool = False) -> None:
        """Write the run's standing to the journal: every record up to the last one seen is done, but ``unsent``."""
        run.since_checkpoint = 0
        if run.journal is None:
            return
        journal, rejects = run.journal, run.rejects
        before = journal.standing
        journal.advance(
            replace(
                before,
                through=max(before.through, run.last_seen),
                unsent=frozenset(run.unsent),
                queued=run.standing.queued + run.summary.queued,
                rejected=run.standing.rejected + run.summary.rejected,
                complete=complete,
                rejects=str(rejects.path) if rejects is not None else before.rejects,
                rejects_bytes=rejects.size() if rejects is not None else 0,
            )
        )

    def _pace(self, run: _Run, count: int) -> None:
        """Wait until sending ``count`` more messages keeps the run at ``--rate`` messages a second."""
        rate = run.options.rate
        if rate is None:
            return
        if run.pace_started is None:
            run.pace_started = self._monotonic()
        due = run.pace_started + run.paced / rate
        while (wait := due - self._monotonic()) > 0 and not run.should_stop():
            self._sleep(min(wait, PACE_STEP_SECONDS))
        run.paced += count


def _said(column: str, field: str, reason: str) -> str:
    """``Email (email): is not an e-mail address``: the file's column, the NXCloud field when another, why."""
    if not column:
        return reason
    return f"{column}: {reason}" if field in ("", column) else f"{column} ({field}): {reason}"
