"""One invocation of the drain: its decoded messages, what it has decided so far, and its time budget."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from nxbridge.aws import clients
from nxbridge.contract import Customer
from nxbridge.drain.result import DeadLetter, DrainResult
from nxbridge.envelope import QueuedCustomer
from nxbridge.nxcloud.client import NXCloudCredentials
from nxbridge.ordering import Granted
from nxbridge.record import Record

# What the answer to Lambda needs once the last DLQ write is done (metrics, one log line, the response).
RESPONSE_SECONDS = 0.25
# Time kept back after the last NXCloud call: one DLQ SendMessageBatch (its client's timeouts, the DRAIN profile)
# and the response. DLQ writes that do not fit go back to SQS (batchItemFailures), never past the deadline.
DEADLINE_MARGIN_MS = round((clients.DRAIN.call_seconds + RESPONSE_SECONDS) * 1000)


def receive_count(attributes: Mapping[str, str]) -> int:
    """``ApproximateReceiveCount`` of an SQS record's attributes (1 when SQS gave none)."""
    return int(attributes.get("ApproximateReceiveCount") or 1)


# One per message: not frozen, whose __init__ costs three times as much (never changed after it is made).
@dataclass(slots=True)
class Item:
    """One decoded message of the batch; ``body`` is its text as received (what a DLQ record of it carries).

    ``endpoint``, ``customer`` and ``identity`` are what the message was read as (a ``QueuedCustomer``'s, held here
    rather than in one more object per message); ``version`` is the customer's identity and the record's event time,
    when the envelope carries both.
    """

    message_id: str
    # The record's SQS attributes: the receive count is read from them only for a DLQ record, not for each message.
    attributes: Mapping[str, str]
    body: str
    endpoint: str
    customer: Customer
    identity: str | None
    version: tuple[str, dt.datetime] | None

    @classmethod
    def of(cls, message_id: str, attributes: Mapping[str, str], body: str, read: QueuedCustomer) -> Item:
        """The item of a message read as ``read``."""
        identity, at = read.identity, read.event_at
        return cls(
            message_id,
            attributes,
            body,
            read.endpoint,
            read.customer,
            identity,
            (identity, at) if identity is not None and at is not None else None,
        )

    @property
    def receive_count(self) -> int:
        """How many times SQS has delivered the message (the DLQ record's ``attempts``)."""
        return receive_count(self.attributes)


# Once per invocation: a Record (no generated code to compile at import), not frozen.
class Run(Record, frozen=False):
    """The state of one invocation."""

    remaining_ms: Callable[[], int]
    result: DrainResult = field(default_factory=DrainResult)
    # This invocation's lease owner token (made with its first claim), the identities it claimed, and the messages
    # NXCloud may have stored although the answer did not say so (a retryable failure or an unaccounted index).
    owner: str = ""
    claimed: list[tuple[Item, Granted, tuple[str, dt.datetime]]] = field(default_factory=list)
    maybe_stored: set[str] = field(default_factory=set)
    deferred: int = 0
    validated_in_full: int = 0
    pending_dlq: list[DeadLetter] = field(default_factory=list)
    credentials: NXCloudCredentials | None = None
    refreshed: bool = False
    # Set once NXCloud is unusable for this invocation (configuration, exhausted retries, deadline): the
    # remaining sub-batches go back to SQS without another call.
    halted: str | None = None
    calls: int = 0
    retries: int = 0
    bisect_calls: int = 0
    trace_id: str | None = None

    def retry_later(self, items: Iterable[Item]) -> None:
        """Send ``items`` back to SQS (batchItemFailures)."""
        self.result.retried.extend(item.message_id for item in items)
