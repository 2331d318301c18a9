"""The queue message (one customer, schema-versioned), how the drain reads it, and the DLQ record.

Validation happens where data enters, once. Every writer of CustomersQueue validates the customer in full before it
writes (the ingest and ``nxbridge import`` through ``nxbridge.ingest.pipeline``, a replay, by the ReplayFunction or
``nxbridge dlq replay``, through ``nxbridge.replay.plan``); of the stack's roles only the ingest's and the replay's
may send to it (template.yaml), and an operator sends through those same commands. So a message of
``ENVELOPE_VERSION`` is read on trust by :func:`read_message` (a drain's batch by :func:`read_current` or
:func:`read_current_fields`, in one call, when every message is current and in shape): its shape is checked
(types, lengths, bounds, required and unknown fields, an aware event time) in pydantic-core, without running the
customer's normalizing validators again. Any other message (an older version still queued, or one whose shape is
off) is validated in full as an :class:`Envelope`, and one that does not pass is :class:`Undecodable` (the drain
dead-letters it, stage ``decode``). Change a rule of ``Customer``, and bump ``ENVELOPE_VERSION`` (keeping the old one in
``READABLE_VERSIONS``) so that messages written under the old rules are validated again: tests/unit/test_envelope.py
fails until you do.
"""

import datetime as dt
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema, SchemaValidator, core_schema

from nxbridge import facts
from nxbridge.contract import Customer
from nxbridge.contract.models import field_errors
from nxbridge.normalize.sqs_text import sqs_safe
from nxbridge.record import Record

# What every writer puts in ``v``. 2: the customer was validated by the writer and is read on trust.
ENVELOPE_VERSION: Final = 2
# What a reader accepts. 1: written before the trusted read existed; validated in full when read.
READABLE_VERSIONS: Final = (1, 2)
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

    # Built when first used alone (a dead letter, a replay's history): every cold start defines it, few write one;
    # the schemas of Envelope and DlqRecord hold its own.
    model_config = ConfigDict(extra="ignore", defer_build=True)

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

    # Deferred: the drain reads its messages without the model (read_messages) and never builds it on a common call.
    # The ingest, which writes one on every call, builds it with its modules (build_envelope), as at import.
    model_config = ConfigDict(extra="ignore", defer_build=True)

    v: Literal[1, 2] = ENVELOPE_VERSION
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

    @field_validator("v", mode="after")
    @classmethod
    def _current(cls, value: int) -> int:
        # Whatever version it was written as, its customer has just passed today's rules: written again, it is
        # the current version (a replay of an old DLQ record is read on trust after it).
        return ENVELOPE_VERSION

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


# One per message read: not frozen, whose __init__ costs three times as much (never changed after it is made).
@dataclass(slots=True)
class QueuedCustomer:
    """What the drain needs of one queue message; ``trusted`` when it was read on trust, not validated in full."""

    endpoint: str
    customer: Customer
    identity: str | None
    event_at: dt.datetime | None
    trusted: bool


class Undecodable(Record):
    """A message that is no envelope: ``code`` for machines (``decode``, ``unknown_version``), ``reason`` for
    people (the fields and why, never their values)."""

    code: Literal["decode", "unknown_version"]
    reason: str


class TrustedFields(TypedDict):
    """One message read on trust (see :func:`_trusted_fields`): the fields the drain uses."""

    v: int
    endpoint: str
    customer: Customer
    identity: NotRequired[str | None]
    event_at: NotRequired[dt.datetime | None]


def _declared(info: FieldInfo) -> CoreSchema:
    """A field's declared type and constraints (lengths, bounds, literals), without its model's validators."""
    annotation: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(annotation).core_schema


def _stored_customer() -> CoreSchema:
    """A ``Customer`` as a writer stored it: the declared fields and nothing else, built in pydantic-core."""
    fields = {
        name: core_schema.model_field(
            _declared(info) if info.is_required() else core_schema.with_default_schema(_declared(info), default=None)
        )
        for name, info in Customer.model_fields.items()
    }
    # The model's own validator wraps its normalizers (an "after" model validator), so pydantic-core builds this
    # schema rather than reuse Customer's validator: the trusted read runs no Python per customer.
    return core_schema.model_schema(
        Customer, core_schema.model_fields_schema(fields, model_name="Customer", extra_behavior="forbid")
    )


@functools.cache
def _trusted_fields() -> CoreSchema:
    """The current version's fields that the drain uses, as a typed dict; the others are parsed, not built.

    What the drain does not use (times, ids, history) travels on as the message's text, in a DLQ record too, and is
    validated in full when a replay reads it.
    """
    schemas: dict[str, CoreSchema] = {
        "v": core_schema.literal_schema([ENVELOPE_VERSION]),
        "endpoint": _declared(Envelope.model_fields["endpoint"]),
        "customer": _stored_customer(),
        "identity": _declared(Envelope.model_fields["identity"]),
        # Writers hold event times in UTC; an unqualified one is not theirs, and goes the full way.
        "event_at": core_schema.nullable_schema(core_schema.datetime_schema(tz_constraint="aware")),
    }
    fields = {
        name: core_schema.typed_dict_field(schema, required=name == "v" or Envelope.model_fields[name].is_required())
        for name, schema in schemas.items()
    }
    return core_schema.typed_dict_schema(fields, extra_behavior="ignore")


# Built on the first read, not at import: the ingest imports this module and never reads a message (3-5 ms).
@functools.cache
def _trusted_envelope() -> SchemaValidator:
    """One message body read on trust (see :func:`_trusted_fields`)."""
    return SchemaValidator(_trusted_fields())


@functools.cache
def _trusted_batch() -> SchemaValidator:
    """A batch's message bodies read on trust in one call, each as :func:`_trusted_envelope` reads it.

    Each body is a JSON document of its own (a list of strings, never the bodies joined into one array, where a body
    could end inside another's text); the first that is not read on trust stops the call.
    """
    return SchemaValidator(core_schema.list_schema(core_schema.json_schema(_trusted_fields()), fail_fast=True))


def read_message(body: str) -> QueuedCustomer | Undecodable:
    """Read one queue message: on trust when it is of the current version and in shape, else validated in full."""
    try:
        fields: dict[str, Any] = _trusted_envelope().validate_json(body)
    except ValidationError:
        return _validated(body)
    return QueuedCustomer(fields["endpoint"], fields["customer"], fields.get("identity"), fields.get("event_at"), True)


def read_current(bodies: list[str]) -> list[QueuedCustomer] | None:
    """A batch's message bodies, each read as :func:`read_message` reads it, in one pydantic-core call: the common
    batch, where every one is of the current version and in shape; None when one at least is not."""
    read = read_current_fields(bodies)
    if read is None:
        return None
    return [QueuedCustomer(f["endpoint"], f["customer"], f.get("identity"), f.get("event_at"), True) for f in read]


def read_current_fields(bodies: list[str]) -> list[TrustedFields] | None:
    """What :func:`read_current` makes its QueuedCustomers of (``endpoint``, ``customer``, and ``identity`` and
    ``event_at`` when the envelope has them), for a reader that keeps them in an object of its own (the drain)."""
    try:
        read: list[TrustedFields] = _trusted_batch().validate_python(bodies)
    except ValidationError:
        return None
    return read


def read_messages(bodies: list[str]) -> Sequence[QueuedCustomer | Undecodable]:
    """Each of a batch's message bodies read as :func:`read_message` reads it (in one call when it can be)."""
    current = read_current(bodies)
    # One at least is not read on trust: each is read alone, so that each gets its own result and reason.
    return [read_message(body) for body in bodies] if current is None else current


def _validated(body: str) -> QueuedCustomer | Undecodable:
    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError as exc:
        reasons = "; ".join(f"{e.field}: {e.reason}" for e in field_errors(exc))
        if any(e["loc"] == ("v",) for e in exc.errors(include_url=False, include_input=False)):
            readable = ", ".join(str(v) for v in READABLE_VERSIONS)
            return Undecodable("unknown_version", f"not an envelope version this drain reads ({readable}): {reasons}")
        return Undecodable("decode", f"not an envelope: {reasons}")
    return QueuedCustomer(envelope.endpoint, envelope.customer, envelope.identity, envelope.event_at, False)


def build_envelope() -> None:
    """Build ``Envelope``'s validator and serializer now (it is defined deferred), for a function that writes one on
    every call."""
    Envelope.model_rebuild()


class DlqRecord(BaseModel):
    """A DLQ message body written by the bridge: the envelope (or the raw body it could not decode) + error."""

    # Deferred: the drain writes its DLQ bodies as text (dlq_message) and the ingest writes none. The replay, which
    # reads every DLQ message into one, builds it with its modules (build_dlq_record), as at import.
    model_config = ConfigDict(extra="ignore", defer_build=True)

    v: Literal[1] = 1
    envelope: Envelope | None = None
    raw_body: str | None = None
    error: FailureReason
    source_message_id: str | None = None

    def to_message(self) -> str:
        """The DLQ message body (an NXCloud error message may carry anything), holding only what SQS accepts."""
        return sqs_safe(self.model_dump_json(exclude_none=True))


def build_dlq_record() -> None:
    """Build ``DlqRecord``'s validator and serializer now (it is defined deferred), for a function that reads DLQ
    messages."""
    DlqRecord.model_rebuild()


def dlq_message(
    error: FailureReason,
    *,
    envelope: str | None = None,
    raw_body: str | None = None,
    source_message_id: str | None = None,
) -> str:
    """A DlqRecord's message body around ``envelope``, a queue message's JSON as it was received and read.

    The drain builds its records this way: the envelope is kept byte for byte, never parsed and dumped again.
    """
    parts = ['{"v":1']
    if envelope is not None:
        parts.append(f',"envelope":{envelope}')
    if raw_body is not None:
        parts.append(',"raw_body":' + _json_text(raw_body))
    parts.append(',"error":' + error.model_dump_json(exclude_none=True))
    if source_message_id is not None:
        parts.append(',"source_message_id":' + _json_text(source_message_id))
    parts.append("}")
    return sqs_safe("".join(parts))


# ``json.dumps(text, ensure_ascii=False)`` without building its encoder on every call (one per DLQ record, twice).
_json_text = json.JSONEncoder(ensure_ascii=False).encode


def dlq_attributes(error: FailureReason, endpoint: str | None) -> dict[str, Any]:
    """SQS message attributes that let tools filter the DLQ without parsing bodies."""
    attrs: dict[str, Any] = {
        "stage": {"DataType": "String", "StringValue": error.stage},
        "errorCode": {"DataType": "String", "StringValue": error.errorCode},
    }
    if endpoint is not None:
        attrs["endpoint"] = {"DataType": "String", "StringValue": endpoint}
    return attrs


def dlq_message_attributes(record: DlqRecord) -> dict[str, Any]:
    """The attributes of ``record``'s DLQ message (see :func:`dlq_attributes`)."""
    return dlq_attributes(record.error, record.envelope.endpoint if record.envelope is not None else None)
