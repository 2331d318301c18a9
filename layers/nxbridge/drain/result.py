"""Where each message of one batch ended, and the partial batch response Lambda gets from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nxbridge.envelope import FailureReason
from nxbridge.record import Record

if TYPE_CHECKING:
    # Only a TypedDict: importing it at run time loads Powertools' whole batch package (and asyncio) on cold start.
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


# Made for nearly every message of a batch: not frozen, whose __init__ costs three times as much.
@dataclass(slots=True)
class Synced:
    """A message whose customer NXCloud stored."""

    message_id: str
    customer_id: int


class Superseded(Record):
    """A message acknowledged without a call: a newer version of its customer was sent or is on its way.

    ``by`` is ``batch`` (a newer message of the same batch) or ``watermark`` (NXCloud holds, or may hold, a newer
    one); ``identity`` is the SHA-256 of the customer's identity.
    """

    message_id: str
    identity: str
    by: str


class DeadLetter(Record):
    """A message whose DLQ record is to be (or was) written: ``body`` is that record's JSON (a ``DlqRecord``)."""

    message_id: str
    reason: FailureReason
    body: str
    endpoint: str | None


# Once per invocation: a Record (no generated code to compile at import), not frozen.
class DrainResult(Record, frozen=False):
    """Where each message of one batch ended; ``response()`` is the Lambda partial batch response."""

    synced: list[Synced] = field(default_factory=list)
    dead_lettered: list[DeadLetter] = field(default_factory=list)
    superseded: list[Superseded] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)

    def response(self) -> PartialItemFailureResponse:
        """``{"batchItemFailures": [...]}``: only the messages SQS must deliver again."""
        # Built here rather than by Powertools' BatchProcessor: the unit of work is the batch (one NXCloud call).
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in self.retried]}
