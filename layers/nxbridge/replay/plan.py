"""Planning one replay: the customer edits, the options of a run, and the fresh envelope (or why there is none)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nxbridge.config import MAX_REPLAYS
from nxbridge.contract import CustomerValidationError, validate_customer
from nxbridge.contract.models import field_errors
from nxbridge.envelope import Envelope, utcnow
from nxbridge.ordering import from_micros, micros
from nxbridge.replay.filters import as_tuple
from nxbridge.replay.records import DlqMessage


class Edits(BaseModel):
    """Changes applied to every replayed customer before it is validated again."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    set_fields: dict[str, Any] = Field(default_factory=dict, alias="set")
    drop_fields: tuple[str, ...] = ()

    @field_validator("drop_fields", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return as_tuple(value)

    @model_validator(mode="after")
    def _no_conflict(self) -> Edits:
        both = sorted(set(self.set_fields) & set(self.drop_fields))
        if both:
            raise ValueError(f"fields both set and dropped: {', '.join(both)}")
        return self

    def __bool__(self) -> bool:
        return bool(self.set_fields or self.drop_fields)

    def apply(self, customer: Mapping[str, Any]) -> dict[str, Any]:
        """The customer with fields set and dropped."""
        edited = {k: v for k, v in customer.items() if k not in self.drop_fields}
        edited.update(self.set_fields)
        return edited


def parse_assignment(text: str) -> tuple[str, str]:
    """``field=value`` as used by ``--set``."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"{text!r} is not field=value")
    return name.strip(), value


class ReplayOptions(BaseModel):
    """How a replay runs."""

    model_config = ConfigDict(frozen=True)

    dry_run: bool = False
    limit: int | None = Field(default=None, ge=1)
    rate: float | None = Field(default=None, gt=0, description="sends per second")
    max_replays: int = Field(default=MAX_REPLAYS, ge=0)
    force: bool = False
    edits: Edits = Field(default_factory=Edits)
    # The event time an edited or forced record takes (it counts as new); None: when it is planned. The console
    # fixes it at its preview, so that what it confirms is exactly what it showed.
    replayed_at: dt.datetime | None = None


RefusalCode = Literal["no_envelope", "max_replays", "invalid", "stale", "unchecked"]


@dataclass(frozen=True)
class Refusal:
    """Why one record is not replayed (``code`` for machines, ``reason`` for people); it stays in the DLQ."""

    reason: str
    code: RefusalCode = "invalid"


def plan_replay(
    message: DlqMessage, options: ReplayOptions, *, watermark: int | None = None, now: dt.datetime | None = None
) -> Envelope | Refusal:
    """The fresh envelope to send for ``message`` (edits applied, revalidated, count and history updated).

    ``watermark`` is the newest event time (epoch microseconds) NXCloud may hold for the customer: an older record
    is refused as ``stale`` unless ``force``. An edited record, or a forced stale one, is the operator's intent and
    counts as new: its event time becomes ``now``, so that the drain sends it over whatever NXCloud holds.
    """
    candidate = message.candidate()
    if candidate is None:
        return Refusal(
            f"no envelope to replay (stage {message.reason.stage}): the DLQ holds only a raw body; "
            "export it, fix it at the source, then purge it",
            "no_envelope",
        )
    count = candidate.get("replay_count", 0)
    if isinstance(count, int) and count >= options.max_replays and not options.force:
        return Refusal(
            f"already replayed {count} times (limit {options.max_replays}); use --force to replay again", "max_replays"
        )
    try:
        customer = validate_customer(options.edits.apply(candidate["customer"]))
    except CustomerValidationError as exc:
        return Refusal(f"customer is invalid{' after the edits' if options.edits else ''}: {exc}")
    try:
        envelope = Envelope.model_validate({**candidate, "customer": customer})
    except ValidationError as exc:
        reasons = "; ".join(f"{e.field}: {e.reason}" for e in field_errors(exc))
        return Refusal(f"not a valid envelope: {reasons}")
    stale = watermark is not None and envelope.event_at is not None and micros(envelope.event_at) < watermark
    if stale and not options.force and not options.edits:
        assert envelope.event_at is not None and watermark is not None
        return Refusal(
            f"stale: NXCloud holds a newer version of this customer (this record's event time "
            f"{envelope.event_at.isoformat()}, the newest sent {from_micros(watermark).isoformat()}); the drain would "
            "only supersede it. Use --force to send it anyway (as new), or --set to correct it",
            "stale",
        )
    reason = message.reason.model_copy(update={"dlq_message_id": message.message_id})
    update: dict[str, Any] = {"replay_count": envelope.replay_count + 1, "history": [*envelope.history, reason]}
    if options.edits or stale:
        update["event_at"] = now or options.replayed_at or utcnow()
    return envelope.model_copy(update=update)
