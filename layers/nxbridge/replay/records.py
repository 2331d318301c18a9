"""One DLQ message, whatever its shape, and the forms list/show/export print it in (PII masked unless revealed)."""

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nxbridge.contract.models import field_errors
from nxbridge.envelope import DlqRecord, Envelope, FailureReason, build_dlq_record, utcnow
from nxbridge.record import Record
from nxbridge.redact import redact, scrub_text

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

Shape = Literal["bridge", "redrive", "unknown"]
REDRIVE_CODE = "maxReceiveCount"
# Every DLQ message read becomes a DlqRecord: the model (deferred where it is defined) is built with this module.
build_dlq_record()


class DlqMessage(Record):
    """One DLQ message, normalized: ``record`` is a DlqRecord for every shape (redriven envelopes get a reason)."""

    message_id: str
    body: str
    shape: Shape
    record: DlqRecord
    sent_at: dt.datetime
    receive_count: int
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> FailureReason:
        """Why the record is in the DLQ."""
        return self.record.error

    @property
    def endpoint(self) -> str | None:
        """The webhook endpoint the customer came in through, when it can be known."""
        if self.record.envelope is not None:
            return self.record.envelope.endpoint
        if "endpoint" in self.attributes:
            return self.attributes["endpoint"]
        raw = _json_object(self.record.raw_body)
        value = raw.get("endpoint") if raw else None
        return value if isinstance(value, str) else None

    @property
    def failed_at(self) -> dt.datetime:
        """When the record failed; for redriven envelopes, when SQS received the message."""
        return self.reason.failed_at if self.shape == "bridge" else self.sent_at

    @property
    def replay_count(self) -> int:
        """How many times this customer was already replayed."""
        return self.record.envelope.replay_count if self.record.envelope is not None else 0

    @property
    def lineage(self) -> frozenset[str]:
        """This message id and the DLQ message ids the customer was replayed from before."""
        ids = {self.message_id}
        if self.record.envelope is not None:
            ids.update(h.dlq_message_id for h in self.record.envelope.history if h.dlq_message_id)
        return frozenset(ids)

    def candidate(self) -> dict[str, Any] | None:
        """The envelope to replay as plain data, or None when the DLQ holds no envelope at all."""
        if self.record.envelope is not None:
            return self.record.envelope.model_dump(mode="json", exclude_none=True)
        raw = _json_object(self.record.raw_body)
        if raw is None:
            return None
        # A bridge DLQ record that was moved back to the queue as-is (native redrive) fails to decode there;
        # its envelope is inside.
        nested = raw.get("envelope")
        if isinstance(nested, dict) and "error" in raw:
            raw = nested
        return raw if isinstance(raw.get("customer"), dict) else None


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _sqs_time(millis: str | None) -> dt.datetime:
    if millis and millis.isdigit():
        return dt.datetime.fromtimestamp(int(millis) / 1000, dt.UTC)
    return utcnow()


def parse_message(message: "MessageTypeDef") -> DlqMessage:
    """Read one received DLQ message: a bridge DlqRecord, a bare envelope moved by redrive, or anything else."""
    body = message.get("Body", "")
    system = message.get("Attributes", {})
    attributes = {
        name: value["StringValue"]
        for name, value in message.get("MessageAttributes", {}).items()
        if "StringValue" in value
    }
    sent_at = _sqs_time(system.get("SentTimestamp"))
    shape: Shape
    try:
        record = DlqRecord.model_validate_json(body)
        shape = "bridge"
    except ValidationError:
        try:
            envelope = Envelope.model_validate_json(body)
        except ValidationError as exc:
            reasons = "; ".join(f"{e.field}: {e.reason}" for e in field_errors(exc))
            reason = FailureReason(
                stage="decode", errorCode="unreadable", errorMessage=f"neither a DLQ record nor an envelope: {reasons}"
            )
            record = DlqRecord(raw_body=body, error=reason.model_copy(update={"failed_at": sent_at}))
            shape = "unknown"
        else:
            reason = FailureReason(
                stage="redrive",
                errorCode=REDRIVE_CODE,
                errorMessage="moved to the DLQ by SQS after maxReceiveCount receives; no reason recorded",
                failed_at=sent_at,
            )
            record = DlqRecord(envelope=envelope, error=reason)
            shape = "redrive"
    return DlqMessage(
        message_id=message["MessageId"],
        body=body,
        shape=shape,
        record=record,
        sent_at=sent_at,
        receive_count=int(system.get("ApproximateReceiveCount", "1") or 1),
        attributes=attributes,
    )


class HistoryView(BaseModel):
    """One earlier failure of the customer."""

    stage: str
    errorCode: str
    errorMessage: str
    failed_at: dt.datetime
    dlq_message_id: str | None = None


class RecordView(BaseModel):
    """What list/show/export print for one DLQ record."""

    message_id: str
    shape: Shape
    stage: str
    errorCode: str
    errorMessage: str
    traceId: str | None = None
    attempts: int
    failed_at: dt.datetime
    endpoint: str | None = None
    kind: str | None = None
    delivery_id: str | None = None
    replay_count: int
    receive_count: int
    customer: dict[str, Any] | None = None
    history: list[HistoryView] = Field(default_factory=list)
    raw_body: str | None = None


def _text(value: str, reveal: bool) -> str:
    return value if reveal else scrub_text(value)


def _raw(text: str, reveal: bool) -> str:
    """A message body or raw body; PII fields masked when it is JSON, PII-like text masked otherwise."""
    if reveal:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return scrub_text(text)
    return json.dumps(redact(value), ensure_ascii=False, separators=(",", ":"))


def view(message: DlqMessage, *, reveal: bool = False) -> RecordView:
    """The printable form of a DLQ record; PII masked unless ``reveal``."""
    reason, envelope = message.reason, message.record.envelope
    customer = envelope.customer.to_api() if envelope is not None else None
    return RecordView(
        message_id=message.message_id,
        shape=message.shape,
        stage=reason.stage,
        errorCode=reason.errorCode,
        errorMessage=_text(reason.errorMessage, reveal),
        traceId=reason.traceId,
        attempts=reason.attempts,
        failed_at=message.failed_at,
        endpoint=message.endpoint,
        kind=envelope.kind if envelope is not None else None,
        delivery_id=envelope.delivery_id if envelope is not None else None,
        replay_count=message.replay_count,
        receive_count=message.receive_count,
        customer=customer if reveal or customer is None else redact(customer),
        history=[
            HistoryView(
                stage=h.stage,
                errorCode=h.errorCode,
                errorMessage=_text(h.errorMessage, reveal),
                failed_at=h.failed_at,
                dlq_message_id=h.dlq_message_id,
            )
            for h in (envelope.history if envelope is not None else [])
        ],
        raw_body=_raw(message.record.raw_body, reveal) if message.record.raw_body is not None else None,
    )


class ExportLine(RecordView):
    """One JSONL line of an export: the view plus the message body and attributes as SQS holds them."""

    # Only the CLI exports: built with the first line, not on every cold start of the ReplayFunction.
    model_config = ConfigDict(defer_build=True)

    body: str
    sent_at: dt.datetime
    message_attributes: dict[str, str] = Field(default_factory=dict)


def export_line(message: DlqMessage, *, reveal: bool = False) -> ExportLine:
    """The export form of a record: enough to audit it and, revealed, to send it again by hand."""
    return ExportLine(
        **view(message, reveal=reveal).model_dump(),
        body=_raw(message.body, reveal),
        sent_at=message.sent_at,
        message_attributes=dict(message.attributes),
    )
