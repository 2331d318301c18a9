"""Delivering a batch to NXCloud: one call, retries with backoff, one credential refresh, bisection of bad records.

Each answer is mapped back to the messages by index: stored (``Synced``), refused (a DLQ letter), or undecided (back
to SQS). docs/drain.md, *Failure handling*, is the table this module implements.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit

from nxbridge import observability
from nxbridge.config import DrainSettings
from nxbridge.contract import BatchCreateRequest
from nxbridge.drain.credentials import CredentialsSource, CredentialsUnavailable
from nxbridge.drain.dead_letters import rejected_letter
from nxbridge.drain.result import Synced
from nxbridge.drain.run import Item, Run
from nxbridge.envelope import Stage
from nxbridge.nxcloud.client import Delivered, FailureClass, NXCloudCredentials, Outcome, RequestFailed
from nxbridge.observability import logger, metrics
from nxbridge.record import Record

# Full-jitter exponential backoff between attempts of one NXCloud request.
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 5.0


class BatchSender(Protocol):
    """The one NXCloud call the drain makes (``NXCloudClient`` in production)."""

    def batch_create(self, request: BatchCreateRequest, credentials: NXCloudCredentials) -> Outcome:
        """Send one batch and classify the answer."""
        ...


# Once per invocation: a Record (no generated code to compile at import), not frozen.
class Delivery(Record, frozen=False):
    """The NXCloud calls of one invocation, with what they need; ``deliver`` settles every item it is given."""

    run: Run
    credentials: CredentialsSource
    nxcloud: BatchSender
    settings: DrainSettings
    sleep: Callable[[float], None]
    rng: random.Random
    now: Callable[[], dt.datetime]
    call_budget_ms: int

    def deliver(self, items: list[Item]) -> None:
        """Send ``items``: each one ends synced, in a DLQ letter (``run.pending_dlq``) or back to SQS."""
        run = self.run
        try:
            run.credentials = self.credentials.get()
        except CredentialsUnavailable as exc:
            self.configuration_failure(str(exc))
        # Depth-first over sub-batches: a record-attributable failure splits its batch in two (bisection).
        stack: list[tuple[list[Item], bool]] = [(items, False)]
        while stack:
            group, bisecting = stack.pop()
            if run.halted is not None:
                run.retry_later(group)
                continue
            outcome = self._send(group, bisecting)
            if outcome is None:
                run.retry_later(group)
            elif isinstance(outcome, Delivered):
                self._apply(group, outcome)
            elif outcome.failure is FailureClass.RECORD and len(group) > 1:
                middle = len(group) // 2
                stack.append((group[middle:], True))
                stack.append((group[:middle], True))
            elif outcome.failure is FailureClass.RECORD:
                self._dead_letter(group[0], "bisect", outcome.error_code, outcome.message, outcome.trace_id)
            else:
                run.retry_later(group)
                if outcome.failure is FailureClass.RETRYABLE:
                    run.halted = f"NXCloud unavailable: {outcome.error_code}"
                    logger.warning(
                        "NXCloud retries exhausted; messages go back to SQS",
                        extra={"errorCode": outcome.error_code, "traceId": outcome.trace_id, "records": len(group)},
                    )
                else:
                    self.configuration_failure(f"NXCloud refused the request: {outcome.error_code}")

    def configuration_failure(self, reason: str) -> None:
        """NXCloud cannot be used by this invocation, and no record is at fault: the rest goes back to SQS."""
        self.run.halted = reason
        metrics.add_metric(name="ConfigurationFailures", unit=MetricUnit.Count, value=1)
        logger.error("configuration failure; messages go back to SQS", extra={"reason": reason})

    def _send(self, group: list[Item], bisecting: bool) -> Outcome | None:
        """One sub-batch with its retries and at most one credential refresh; None when no call could be made."""
        run = self.run
        attempt = 0
        immediate_resign_used = False
        while True:
            if run.credentials is None:
                return None
            request = self._request(group, run.credentials)
            if request is None:
                self.configuration_failure("tenant_id/app_key are neither configured nor in the secret")
                return None
            if run.remaining_ms() < self.call_budget_ms:
                run.halted = "deadline"
                logger.warning("not enough time left for an NXCloud call", extra={"records": len(group)})
                return None
            attempt += 1
            outcome = self._call(request, run.credentials, bisecting)
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
                    self.configuration_failure(str(exc))
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

    def _request(self, group: list[Item], credentials: NXCloudCredentials) -> BatchCreateRequest | None:
        settings = self.settings
        tenant_id = settings.tenant_id if settings.tenant_id is not None else credentials.tenant_id
        app_key = settings.app_key or credentials.app_key
        if tenant_id is None or not app_key:
            return None
        return BatchCreateRequest(
            type=settings.nxcloud_type,
            tenant_id=tenant_id,
            app_key=app_key,
            strict_binding=settings.strict_binding,
            customers=[item.customer for item in group],
        )

    def _call(self, request: BatchCreateRequest, credentials: NXCloudCredentials, bisecting: bool) -> Outcome:
        run = self.run
        run.calls += 1
        if bisecting:
            run.bisect_calls += 1
        with observability.tracer.provider.in_subsegment("## nxcloud.batch_create") as subsegment:
            subsegment.put_annotation("records", str(len(request.customers)))
            outcome = self.nxcloud.batch_create(request, credentials)
            code = "0" if isinstance(outcome, Delivered) else outcome.error_code
            subsegment.put_annotation("code", code)
        metrics.add_metric(name="NXCloudLatency", unit=MetricUnit.Milliseconds, value=outcome.latency_ms)
        run.trace_id = outcome.trace_id or run.trace_id
        return outcome

    def _apply(self, group: list[Item], delivered: Delivered) -> None:
        """Map a code-0 answer back to messages by index: stored, rejected (DLQ), or unaccounted (retry)."""
        run = self.run
        stored = delivered.stored()
        rejected = delivered.refused()
        synced = run.result.synced
        unaccounted: list[Item] = []
        for index, item in enumerate(group):
            customer_id = stored.get(index)
            if customer_id is not None:
                synced.append(Synced(item.message_id, customer_id))
            elif index in rejected:
                fail = rejected[index]
                self._dead_letter(item, "nxcloud", str(fail.errorCode), fail.errorMessage, delivered.trace_id)
            else:
                unaccounted.append(item)
        if unaccounted:
            # NXCloud answered neither success nor failure for these: delivering again is safe (upserts).
            run.maybe_stored.update(item.message_id for item in unaccounted)
            logger.warning(
                "NXCloud answer does not account for every record",
                extra={"traceId": delivered.trace_id, "records": len(unaccounted)},
            )
            run.retry_later(unaccounted)

    def _dead_letter(self, item: Item, stage: Stage, code: str, message: str | None, trace_id: str | None) -> None:
        letter = rejected_letter(item, stage, code, message=message, trace_id=trace_id, at=self.now())
        self.run.pending_dlq.append(letter)


def _why(outcome: RequestFailed) -> dict[str, str | None]:
    return {"errorCode": outcome.error_code, "traceId": outcome.trace_id}
