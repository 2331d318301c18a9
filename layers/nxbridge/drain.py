"""Drain orchestration: decode a batch of queue messages, deliver it to NXCloud in one call, account for each one.

Every message ends in exactly one of four places: stored in NXCloud (acknowledged), in the DLQ with a reason
(acknowledged), superseded by a newer version of the same customer (acknowledged, ``nxbridge.ordering``), or in
``batchItemFailures`` (SQS delivers it again). The clients are injected: the handler builds them with
:meth:`Drainer.from_settings`, tests and the local stack pass moto and the simulator.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from pydantic import ValidationError

from nxbridge import observability
from nxbridge.aws import clients
from nxbridge.aws.sqs import send_batch
from nxbridge.config import DrainSettings
from nxbridge.contract import BatchCreateRequest
from nxbridge.contract.models import field_errors
from nxbridge.envelope import DlqRecord, Envelope, FailureReason, Stage, dlq_message_attributes, utcnow
from nxbridge.nxcloud.client import (
    Delivered,
    FailureClass,
    NXCloudClient,
    NXCloudCredentials,
    Outcome,
    RequestFailed,
)
from nxbridge.observability import SERVICE, logger, metrics
from nxbridge.ordering import (
    LEASE_SECONDS,
    WORKERS,
    Busy,
    ClaimRequest,
    Granted,
    Release,
    Stale,
    Watermarks,
    claim_all,
    coalesce,
    identity_hash,
    micros,
    release_all,
    release_for,
)

if TYPE_CHECKING:
    # Only a TypedDict: importing it at run time loads Powertools' whole batch package (and asyncio) on cold start.
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

# Full-jitter exponential backoff between attempts of one NXCloud request.
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 5.0
# What the answer to Lambda needs once the last DLQ write is done (metrics, one log line, the response).
RESPONSE_SECONDS = 0.25
# Time kept back after the last NXCloud call: one DLQ SendMessageBatch (its client's timeouts, the DRAIN profile)
# and the response. DLQ writes that do not fit go back to SQS (batchItemFailures), never past the deadline.
DEADLINE_MARGIN_MS = round((clients.DRAIN.call_seconds + RESPONSE_SECONDS) * 1000)
ERROR_MESSAGE_MAX_CHARS = 1000


class CredentialsUnavailable(Exception):
    """The NXCloud secret could not be read or does not hold valid credentials."""


class CredentialsSource(Protocol):
    """Where the drain gets NXCloud credentials; ``refresh`` bypasses any cache."""

    def get(self, *, refresh: bool = False) -> NXCloudCredentials:
        """The current credentials; raise CredentialsUnavailable when there are none."""
        ...


class BatchSender(Protocol):
    """The one NXCloud call the drain makes (``NXCloudClient`` in production)."""

    def batch_create(self, request: BatchCreateRequest, credentials: NXCloudCredentials) -> Outcome:
        """Send one batch and classify the answer."""
        ...


class SecretCredentials:
    """NXCloud credentials from one Secrets Manager secret, cached across invocations by Powertools parameters."""

    def __init__(self, provider: SecretsProvider, secret_arn: str, max_age: int) -> None:
        self._provider = provider
        self._secret_arn = secret_arn
        self._max_age = max_age

    def get(self, *, refresh: bool = False) -> NXCloudCredentials:
        """The secret's credentials, from the cache unless ``refresh`` or the cache is older than ``max_age``."""
        try:
            raw = self._provider.get(self._secret_arn, max_age=self._max_age, transform="json", force_fetch=refresh)
            return NXCloudCredentials.model_validate(raw)
        except (GetParameterError, TransformParameterError) as exc:
            raise CredentialsUnavailable(f"cannot read the NXCloud secret: {type(exc).__name__}") from None
        except ValidationError as exc:
            fields = ", ".join(e.field for e in field_errors(exc))
            raise CredentialsUnavailable(f"the NXCloud secret lacks valid fields: {fields}") from None


@dataclass(frozen=True)
class _Item:
    message_id: str
    receive_count: int
    envelope: Envelope

    @property
    def version(self) -> tuple[str, dt.datetime] | None:
        """The customer's identity and the record's event time, when the envelope carries both."""
        envelope = self.envelope
        if envelope.identity is None or envelope.event_at is None:
            return None
        return envelope.identity, envelope.event_at


@dataclass(frozen=True)
class Synced:
    """A message whose customer NXCloud stored."""

    message_id: str
    customer_id: int


@dataclass(frozen=True)
class Superseded:
    """A message acknowledged without a call: a newer version of its customer was sent or is on its way.

    ``by`` is ``batch`` (a newer message of the same batch) or ``watermark`` (NXCloud holds, or may hold, a newer
    one); ``identity`` is the SHA-256 of the customer's identity.
    """

    message_id: str
    identity: str
    by: str


@dataclass(frozen=True)
class DeadLetter:
    """A message whose DLQ record is to be (or was) written."""

    message_id: str
    record: DlqRecord


@dataclass
class DrainResult:
    """Where each message of one batch ended; ``response()`` is the Lambda partial batch response."""

    synced: list[Synced] = field(default_factory=list)
    dead_lettered: list[DeadLetter] = field(default_factory=list)
    superseded: list[Superseded] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)

    def response(self) -> PartialItemFailureResponse:
        """``{"batchItemFailures": [...]}``: only the messages SQS must deliver again."""
        # Built here rather than by Powertools' BatchProcessor: the unit of work is the batch (one NXCloud call).
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in self.retried]}


@dataclass
class _Run:
    """The state of one invocation."""

    remaining_ms: Callable[[], int]
    result: DrainResult = field(default_factory=DrainResult)
    # This invocation's lease owner token, the identities it claimed, and the messages NXCloud may have stored
    # although the answer did not say so (a retryable failure or an unaccounted index).
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    claimed: list[tuple[_Item, Granted, tuple[str, dt.datetime]]] = field(default_factory=list)
    maybe_stored: set[str] = field(default_factory=set)
    deferred: int = 0
    pending_dlq: list[DeadLetter] = field(default_factory=list)
    credentials: NXCloudCredentials | None = None
    refreshed: bool = False
    # Set once NXCloud is unusable for this invocation (configuration, exhausted retries, deadline): the
    # remaining sub-batches go back to SQS without another call.
    halted: str | None = None
    calls: int = 0
    retries: int = 0
    bisect_calls: int = 0

    def retry_later(self, items: Iterable[_Item]) -> None:
        self.result.retried.extend(item.message_id for item in items)


class Drainer:
    """Delivers SQS batches of envelopes to NXCloud; one instance lives across warm invocations."""

    def __init__(
        self,
        *,
        sqs: SQSClient,
        credentials: CredentialsSource,
        nxcloud: BatchSender,
        settings: DrainSettings,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        now: Callable[[], dt.datetime] = utcnow,
        watermarks: Watermarks | None = None,
    ) -> None:
        self.sqs = sqs
        self.credentials = credentials
        self.nxcloud = nxcloud
        self.settings = settings
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.now = now
        self.watermarks = watermarks
        self.ordering_workers = WORKERS
        self.call_budget_ms = int((settings.connect_timeout + settings.read_timeout) * 1000) + DEADLINE_MARGIN_MS

    @classmethod
    def from_settings(cls, settings: DrainSettings) -> Drainer:
        """Production wiring: boto3 clients (AWS_ENDPOINT_URL is honoured by boto3), Secrets Manager, NXCloud."""
        provider = SecretsProvider(boto3_client=clients.client("secretsmanager", clients.DRAIN_SECRETS))
        return cls(
            sqs=clients.client("sqs", clients.DRAIN),
            credentials=SecretCredentials(provider, settings.nxcloud_secret_arn, settings.cache_seconds),
            nxcloud=NXCloudClient(
                settings.nxcloud_base_url,
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
            ),
            settings=settings,
            watermarks=(
                Watermarks(clients.client("dynamodb", clients.DRAIN_ORDERING), settings.ordering_table)
                if settings.ordering_table
                else None
            ),
        )

    def drain(self, records: Sequence[SQSRecord], remaining_ms: Callable[[], int]) -> DrainResult:
        """Deliver ``records`` (one SQS batch) and say where each one ended."""
        run = _Run(remaining_ms)
        items: list[_Item] = []
        for record in records:
            decoded = self._decode(record)
            if isinstance(decoded, DeadLetter):
                run.pending_dlq.append(decoded)
            else:
                items.append(decoded)
        metrics.add_metric(name="BatchSize", unit=MetricUnit.Count, value=len(records))
        with ThreadPoolExecutor(max_workers=self.ordering_workers, thread_name_prefix="ordering") as pool:
            items = self._admit(items, run, pool)
            try:
                if items:
                    self._deliver(items, run)
                self._send_dead_letters(run)
            except BaseException:
                # Whatever the batch reached NXCloud with may be stored: every version claimed counts as sent.
                self._release(run, pool, crashed=True)
                raise
            self._release(run, pool, crashed=False)
        self._record_outcome(run)
        return run.result

    def _admit(self, items: list[_Item], run: _Run, pool: ThreadPoolExecutor) -> list[_Item]:
        """Newest wins: the newest record per customer of the batch, and only if nothing newer may be stored."""
        kept, beaten = coalesce(items, lambda item: item.version)
        for loser, _winner in beaten:
            self._supersede(run, loser, "batch")
        if self.watermarks is None:
            return kept
        versioned = [(item, version) for item in kept if (version := item.version) is not None]
        if not versioned:
            return kept
        claims = claim_all(
            self.watermarks,
            pool,
            [ClaimRequest(identity, micros(at), item.envelope.endpoint) for item, (identity, at) in versioned],
            owner=run.owner,
            # Never shorter than this invocation can still run: a call in flight cannot be overtaken.
            lease_seconds=max(LEASE_SECONDS, run.remaining_ms() / 1000 + 1),
            can_call=lambda: run.remaining_ms() - self.call_budget_ms >= clients.DRAIN_ORDERING.call_seconds * 1000,
        )
        refused: set[str] = set()
        unavailable: dict[str, int] = {}
        for (item, version), claim in zip(versioned, claims, strict=True):
            if isinstance(claim, Granted):
                run.claimed.append((item, claim, version))
                continue
            refused.add(item.message_id)
            if isinstance(claim, Stale):
                self._supersede(run, item, "watermark")
                continue
            run.deferred += 1
            run.retry_later([item])
            if not isinstance(claim, Busy):
                unavailable[claim.code] = unavailable.get(claim.code, 0) + 1
        if unavailable:
            logger.warning("watermarks unavailable; messages go back to SQS", extra={"codes": unavailable})
        return [item for item in kept if item.message_id not in refused]

    def _supersede(self, run: _Run, item: _Item, by: str) -> None:
        identity = identity_hash(item.envelope.identity or "")
        run.result.superseded.append(Superseded(item.message_id, identity, by))

    def _release(self, run: _Run, pool: ThreadPoolExecutor, *, crashed: bool) -> None:
        """Give back every claimed identity; the watermark moves to each version NXCloud stored or may have."""
        if self.watermarks is None or not run.claimed:
            return
        synced = {s.message_id for s in run.result.synced}
        releases = []
        for item, granted, (identity, at) in run.claimed:
            sent = crashed or item.message_id in synced or item.message_id in run.maybe_stored
            releases.append(Release(identity, release_for(granted, micros(at), maybe_stored=sent)))
        call_ms = clients.DRAIN_ORDERING.call_seconds * 1000
        released = release_all(
            self.watermarks,
            pool,
            releases,
            owner=run.owner,
            # A release that does not fit is left to expire: its version then counts as possibly stored.
            can_call=lambda: run.remaining_ms() - RESPONSE_SECONDS * 1000 >= call_ms,
        )
        if released < len(releases):
            logger.warning("leases left to expire", extra={"leases": len(releases) - released})

    def _decode(self, record: SQSRecord) -> _Item | DeadLetter:
        # The raw dict, not ``record.attributes``: that property wraps it in a new object for each record.
        receive_count = int(record["attributes"].get("ApproximateReceiveCount") or 1)
        try:
            envelope = Envelope.model_validate_json(record.body)
        except ValidationError as exc:
            reasons = "; ".join(f"{e.field}: {e.reason}" for e in field_errors(exc))
            logger.warning("undecodable message", extra={"messageId": record.message_id})
            return DeadLetter(
                record.message_id,
                DlqRecord(
                    raw_body=record.body,
                    source_message_id=record.message_id,
                    error=self._reason("decode", "decode", f"not an envelope: {reasons}", None, receive_count),
                ),
            )
        return _Item(record.message_id, receive_count, envelope)

    def _deliver(self, items: list[_Item], run: _Run) -> None:
        try:
            run.credentials = self.credentials.get()
        except CredentialsUnavailable as exc:
            self._configuration_failure(run, str(exc))
        # Depth-first over sub-batches: a record-attributable failure splits its batch in two (bisection).
        stack: list[tuple[list[_Item], bool]] = [(items, False)]
        while stack:
            group, bisecting = stack.pop()
            if run.halted is not None:
                run.retry_later(group)
                continue
            outcome = self._send(group, run, bisecting)
            if outcome is None:
                run.retry_later(group)
            elif isinstance(outcome, Delivered):
                self._apply(group, outcome, run)
            elif outcome.failure is FailureClass.RECORD and len(group) > 1:
                middle = len(group) // 2
                stack.append((group[middle:], True))
                stack.append((group[:middle], True))
            elif outcome.failure is FailureClass.RECORD:
                self._dead_letter(
                    run, group[0], "bisect", outcome.error_code, message=outcome.message, trace_id=outcome.trace_id
                )
            else:
                run.retry_later(group)
                if outcome.failure is FailureClass.RETRYABLE:
                    run.halted = f"NXCloud unavailable: {outcome.error_code}"
                    logger.warning(
                        "NXCloud retries exhausted; messages go back to SQS",
                        extra={"errorCode": outcome.error_code, "traceId": outcome.trace_id, "records": len(group)},
                    )
                else:
                    self._configuration_failure(run, f"NXCloud refused the request: {outcome.error_code}")

    def _send(self, group: list[_Item], run: _Run, bisecting: bool) -> Outcome | None:
        """One sub-batch with its retries and at most one credential refresh; None when no call could be made."""
        attempt = 0
        immediate_resign_used = False
        while True:
            if run.credentials is None:
                return None
            request = self._request(group, run.credentials)
            if request is None:
                self._configuration_failure(run, "tenant_id/app_key are neither configured nor in the secret")
                return None
            if run.remaining_ms() < self.call_budget_ms:
                run.halted = "deadline"
                logger.warning("not enough time left for an NXCloud call", extra={"records": len(group)})
                return None
            attempt += 1
            outcome = self._call(request, run.credentials, run, bisecting)
            if isinstance(outcome, Delivered):
                return outcome
            if outcome.failure is FailureClass.RETRYABLE:
                # A timeout or a 5xx after the body arrived: NXCloud may have stored these customers.
                run.maybe_stored.update(item.message_id for item in group)
            if outcome.failure is FailureClass.AUTH:
                if run.refreshed:
                    return outcome
                run.refreshed = True
                logger.info("NXCloud refused the credentials; reading the secret afresh", extra=_why(outcome))
                try:
                    run.credentials = self.credentials.get(refresh=True)
                except CredentialsUnavailable as exc:
                    self._configuration_failure(run, str(exc))
                    return None
                continue
            if outcome.failure is not FailureClass.RETRYABLE or attempt >= self.settings.max_attempts:
                return outcome
            # A stale timestamp (1004) heals with a fresh signature, so that retry needs no backoff.
            if outcome.code == 1004 and not immediate_resign_used:
                immediate_resign_used = True
                delay = 0.0
            else:
                delay = self.rng.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)))
            if run.remaining_ms() - delay * 1000 < self.call_budget_ms:
                logger.info("no time left for another attempt", extra=_why(outcome))
                return outcome
            logger.info("retrying NXCloud", extra={**_why(outcome), "attempt": attempt, "delaySeconds": delay})
            run.retries += 1
            self.sleep(delay)

    def _request(self, group: list[_Item], credentials: NXCloudCredentials) -> BatchCreateRequest | None:
        tenant_id = self.settings.tenant_id if self.settings.tenant_id is not None else credentials.tenant_id
        app_key = self.settings.app_key or credentials.app_key
        if tenant_id is None or not app_key:
            return None
        return BatchCreateRequest(
            type=self.settings.nxcloud_type,
            tenant_id=tenant_id,
            app_key=app_key,
            strict_binding=self.settings.strict_binding,
            customers=[item.envelope.customer for item in group],
        )

    def _call(
        self, request: BatchCreateRequest, credentials: NXCloudCredentials, run: _Run, bisecting: bool
    ) -> Outcome:
        run.calls += 1
        if bisecting:
            run.bisect_calls += 1
        with observability.tracer.provider.in_subsegment("## nxcloud.batch_create") as subsegment:
            subsegment.put_annotation("records", str(len(request.customers)))
            outcome = self.nxcloud.batch_create(request, credentials)
            code = "0" if isinstance(outcome, Delivered) else outcome.error_code
            subsegment.put_annotation("code", code)
        metrics.add_metric(name="NXCloudLatency", unit=MetricUnit.Milliseconds, value=outcome.latency_ms)
        return outcome

    def _apply(self, group: list[_Item], delivered: Delivered, run: _Run) -> None:
        """Map a code-0 answer back to messages by index: stored, rejected (DLQ), or unaccounted (retry)."""
        stored = {s.index: s.customerId for s in delivered.result.successItems}
        rejected = {f.index: f for f in delivered.result.failItems}
        synced: list[Synced] = []
        unaccounted: list[_Item] = []
        for index, item in enumerate(group):
            if index in stored:
                synced.append(Synced(item.message_id, stored[index]))
            elif index in rejected:
                fail = rejected[index]
                self._dead_letter(
                    run, item, "nxcloud", str(fail.errorCode), message=fail.errorMessage, trace_id=delivered.trace_id
                )
            else:
                unaccounted.append(item)
        run.result.synced.extend(synced)
        if synced:
            logger.info(
                "customers synced",
                extra={
                    "traceId": delivered.trace_id,
                    "synced": [{"messageId": s.message_id, "customerId": s.customer_id} for s in synced],
                },
            )
        if unaccounted:
            # NXCloud answered neither success nor failure for these: delivering again is safe (upserts).
            run.maybe_stored.update(item.message_id for item in unaccounted)
            logger.warning(
                "NXCloud answer does not account for every record",
                extra={"traceId": delivered.trace_id, "records": len(unaccounted)},
            )
            run.retry_later(unaccounted)

    def _dead_letter(
        self, run: _Run, item: _Item, stage: Stage, code: str, *, message: str | None, trace_id: str | None
    ) -> None:
        reason = self._reason(stage, code, message or "", trace_id, item.receive_count)
        record = DlqRecord(envelope=item.envelope, source_message_id=item.message_id, error=reason)
        run.pending_dlq.append(DeadLetter(item.message_id, record))
        logger.warning(
            "customer rejected",
            extra={"messageId": item.message_id, "stage": stage, "errorCode": code, "traceId": trace_id},
        )

    def _reason(self, stage: Stage, code: str, message: str, trace_id: str | None, attempts: int) -> FailureReason:
        return FailureReason(
            stage=stage,
            errorCode=code,
            errorMessage=message[:ERROR_MESSAGE_MAX_CHARS],
            traceId=trace_id,
            attempts=attempts,
            failed_at=self.now(),
        )

    def _configuration_failure(self, run: _Run, reason: str) -> None:
        run.halted = reason
        metrics.add_metric(name="ConfigurationFailures", unit=MetricUnit.Count, value=1)
        logger.error("configuration failure; messages go back to SQS", extra={"reason": reason})

    def _send_dead_letters(self, run: _Run) -> None:
        """SendMessageBatch to the DLQ; a record never written is retried by SQS, never acknowledged."""
        if not run.pending_dlq:
            return
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": str(n),
                "MessageBody": letter.record.to_message(),
                "MessageAttributes": dlq_message_attributes(letter.record),
            }
            for n, letter in enumerate(run.pending_dlq)
        ]
        # Each write must end before the answer to Lambda is due: the policy starts no call that could not.
        policy = clients.DRAIN.retry(
            sleep=self.sleep, rng=self.rng, time_left=lambda: run.remaining_ms() / 1000 - RESPONSE_SECONDS
        )
        sent = send_batch(self.sqs, self.settings.dlq_url, entries, policy)
        run.result.dead_lettered.extend(run.pending_dlq[int(key)] for key in sorted(sent.done, key=int))
        if sent.failed:
            codes = sorted({failure.code for failure in sent.failed.values()})
            logger.error(
                "DLQ send failed; messages go back to SQS", extra={"records": len(sent.failed), "codes": codes}
            )
            run.result.retried.extend(run.pending_dlq[int(key)].message_id for key in sorted(sent.failed, key=int))

    def _record_outcome(self, run: _Run) -> None:
        result = run.result
        metrics.add_metric(name="CustomersSynced", unit=MetricUnit.Count, value=len(result.synced))
        metrics.add_metric(name="CustomersFailed", unit=MetricUnit.Count, value=len(result.dead_lettered))
        metrics.add_metric(name="CustomersSuperseded", unit=MetricUnit.Count, value=len(result.superseded))
        metrics.add_metric(name="CustomersDeferred", unit=MetricUnit.Count, value=run.deferred)
        metrics.add_metric(name="BatchItemFailures", unit=MetricUnit.Count, value=len(result.retried))
        metrics.add_metric(name="NXCloudCalls", unit=MetricUnit.Count, value=run.calls)
        metrics.add_metric(name="NXCloudRetries", unit=MetricUnit.Count, value=run.retries)
        metrics.add_metric(name="BisectCalls", unit=MetricUnit.Count, value=run.bisect_calls)
        by_code: dict[str, int] = {}
        for letter in result.dead_lettered:
            by_code[letter.record.error.errorCode] = by_code.get(letter.record.error.errorCode, 0) + 1
        for code, count in sorted(by_code.items()):
            # One EMF blob per code: the errorCode dimension stays off every other metric.
            with single_metric(
                name="CustomersFailedByCode",
                unit=MetricUnit.Count,
                value=count,
                namespace=metrics.namespace,
                default_dimensions={"service": SERVICE},
            ) as metric:
                metric.add_dimension(name="errorCode", value=code)
        if result.superseded:
            # Hashed identities only: the identity itself may be an e-mail.
            logger.info(
                "customers superseded",
                extra={
                    "superseded": [
                        {"messageId": s.message_id, "identity": s.identity, "by": s.by} for s in result.superseded
                    ]
                },
            )
        logger.info(
            "batch drained",
            extra={
                "synced": len(result.synced),
                "deadLettered": len(result.dead_lettered),
                "superseded": len(result.superseded),
                "deferred": run.deferred,
                "retried": len(result.retried),
                "calls": run.calls,
                "bisectCalls": run.bisect_calls,
                "retries": run.retries,
                "halted": run.halted,
            },
        )


def _why(outcome: RequestFailed) -> dict[str, str | None]:
    return {"errorCode": outcome.error_code, "traceId": outcome.trace_id}
