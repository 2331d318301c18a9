"""Planning one replay: the customer edits, the options of a run, and the fresh envelope (or why there is none)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nxbridge.config import MAX_REPLAYS
from nxbridge.contract import CustomerValidationError, validate_customer
from nxbridge.contract.models import field_errors
from nxbridge.envelope import Envelope
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


@dataclass(frozen=True)
class Refusal:
    """Why one record is not replayed; it stays in the DLQ."""

    reason: str


def plan_replay(message: DlqMessage, options: ReplayOptions) -> Envelope | Refusal:
    """The fresh envelope to send for ``message`` (edits applied, revalidated, count and history updated)."""
    candidate = message.candidate()
    if candidate is None:
        return Refusal(
            f"no envelope to replay (stage {message.reason.stage}): the DLQ holds only a raw body; "
            "export it, fix it at the source, then purge it"
        )
    count = candidate.get("replay_count", 0)
    if isinstance(count, int) and count >= options.max_replays and not options.force:
        return Refusal(f"already replayed {count} times (limit {options.max_replays}); use --force to replay again")
    try:
        customer = validate_customer(options.edits.apply(candidate["customer"]))
    except CustomerValidationError as exc:
        return Refusal(f"customer is invalid{' after the edits' if options.edits else ''}: {exc}")
    try:
        envelope = Envelope.model_validate({**candidate, "customer": customer})
    except ValidationError as exc:
        reasons = "; ".join(f"{e.field}: {e.reason}" for e in field_errors(exc))
        return Refusal(f"not a valid envelope: {reasons}")
    reason = message.reason.model_copy(update={"dlq_message_id": message.message_id})
    return envelope.model_copy(
        update={"replay_count": envelope.replay_count + 1, "history": [*envelope.history, reason]}
    )
