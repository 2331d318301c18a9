"""The queue message (one customer) and the DLQ record (the envelope plus why it was not delivered)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nxbridge import facts
from nxbridge.contract import Customer
from nxbridge.normalize.sqs_text import sqs_safe

# Where in the pipeline a record failed (stated in nxbridge.facts). ``redrive`` is what the replay tool shows for
# messages that SQS itself moved to the DLQ after maxReceiveCount: those carry the bare envelope and no reason.
Stage = facts.Stage
# What the source did to the customer: shops create, update and delete; forms and form services submit.
EventKind = Literal["create", "update", "delete", "submit"]


def utcnow() -> dt.datetime:
    """Aware UTC now; the one clock envelopes use."""
    return dt.datetime.now(dt.UTC)


class FailureReason(BaseModel):
    """Why a record was not delivered: machine-readable first, a human message second."""

    model_config = ConfigDict(extra="ignore")

    stage: Stage
    errorCode: str
    errorMessage: str
    traceId: str | None = None
    attempts: int = 1
    failed_at: dt.datetime = Field(default_factory=utcnow)
    # Set by the replay tool on the history entry it appends: the DLQ message this envelope was replayed from,
    # so that a record left twice in the DLQ by an interrupted replay is recognized and replayed once.
    dlq_message_id: str | None = None


class Envelope(BaseModel):
    """One accepted customer on its way to NXCloud; the SQS message body."""

    model_config = ConfigDict(extra="ignore")

    v: Literal[1] = 1
    endpoint: str
    kind: str
    delivery_id: str | None = None
    received_at: dt.datetime = Field(default_factory=utcnow)
    trace_id: str | None = None
    customer: Customer
    replay_count: int = 0
    history: list[FailureReason] = Field(default_factory=list)
    # Newest wins (nxbridge.ordering): when the source changed the customer, whose customer it is (PII: an e-mail
    # may stand for it; keys and logs use its SHA-256) and what the source did. Envelopes written before these
    # fields existed decode with None: they are never coalesced and never checked against a watermark.
    event_at: dt.datetime | None = None
    identity: str | None = None
    event: EventKind | None = None

    @field_validator("event_at", mode="after")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        # Ordering compares instants, held in UTC: a time without an offset is read as UTC rather than refused.
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)

    def to_message(self) -> str:
        """The SQS message body, holding only characters SQS accepts (see ``nxbridge.normalize.sqs_text``)."""
        return sqs_safe(self.model_dump_json(exclude_none=True))


class DlqRecord(BaseModel):
    """A DLQ message body written by the bridge: the envelope (or the raw body it could not decode) + error."""

    model_config = ConfigDict(extra="ignore")

    v: Literal[1] = 1
    envelope: Envelope | None = None
    raw_body: str | None = None
    error: FailureReason
    source_message_id: str | None = None

    def to_message(self) -> str:
        """The DLQ message body (an NXCloud error message may carry anything), holding only what SQS accepts."""
        return sqs_safe(self.model_dump_json(exclude_none=True))


def dlq_message_attributes(record: DlqRecord) -> dict[str, Any]:
    """SQS message attributes that let tools filter the DLQ without parsing bodies."""
    attrs: dict[str, Any] = {
        "stage": {"DataType": "String", "StringValue": record.error.stage},
        "errorCode": {"DataType": "String", "StringValue": record.error.errorCode},
    }
    if record.envelope is not None:
        attrs["endpoint"] = {"DataType": "String", "StringValue": record.envelope.endpoint}
    return attrs
