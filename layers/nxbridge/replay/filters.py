"""Which DLQ records an operation acts on: the filter model and the time expressions it accepts."""

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from nxbridge import facts
from nxbridge.envelope import utcnow
from nxbridge.identity import identities_of, identity_hash
from nxbridge.replay.records import DlqMessage

STAGES: tuple[str, ...] = facts.STAGES
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)", re.IGNORECASE)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def parse_when(text: str | dt.datetime, now: dt.datetime | None = None) -> dt.datetime:
    """A point in time from a duration before ``now`` (30m, 2h, 7d, 1w) or an ISO timestamp (naive = UTC)."""
    if isinstance(text, dt.datetime):
        moment = text
    else:
        match = _DURATION.fullmatch(text.strip())
        if match:
            seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
            return (now or utcnow()) - dt.timedelta(seconds=seconds)
        try:
            moment = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is neither a duration (30m, 2h, 7d) nor an ISO timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def as_tuple(value: Any) -> Any:
    """One value or many as a tuple (None is none), for options that may be repeated."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return value


class DlqFilter(BaseModel):
    """Which DLQ records an operation acts on; every given criterion must hold, repeated values are alternatives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_code: tuple[str, ...] = ()
    stage: tuple[str, ...] = ()
    endpoint: tuple[str, ...] = ()
    older_than: dt.datetime | None = None
    newer_than: dt.datetime | None = None
    contains: str | None = None
    id: tuple[str, ...] = ()
    # Customers by the SHA-256 of an identity (what logs show); a plain identity (email:jane@example.com,
    # shop:id:42) is hashed on the way in, so that requests and logs never need to carry it.
    identity: tuple[str, ...] = ()

    @field_validator("error_code", "stage", "endpoint", "id", "identity", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return as_tuple(value)

    @field_validator("identity", mode="after")
    @classmethod
    def _hashed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v if _SHA256_HEX.fullmatch(v) else identity_hash(v) for v in value)

    @field_validator("stage", mode="after")
    @classmethod
    def _known_stage(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown stage {', '.join(unknown)}; one of {', '.join(STAGES)}")
        return value

    @field_validator("older_than", "newer_than", mode="before")
    @classmethod
    def _when(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, str | dt.datetime):
            return parse_when(value)
        return value

    def matches(self, message: DlqMessage) -> bool:
        """Whether ``message`` passes every criterion."""
        reason = message.reason
        checks = (
            not self.id or message.message_id in self.id,
            not self.error_code or reason.errorCode in self.error_code,
            not self.stage or reason.stage in self.stage,
            not self.endpoint or message.endpoint in self.endpoint,
            self.older_than is None or message.failed_at < self.older_than,
            self.newer_than is None or message.failed_at >= self.newer_than,
            self.contains is None or self.contains.casefold() in message.body.casefold(),
            not self.identity or self._same_customer(message),
        )
        return all(checks)

    def _same_customer(self, message: DlqMessage) -> bool:
        # Any identity the customer can be known by: records written before envelopes carried one match too.
        envelope = message.record.envelope
        if envelope is None:
            return False
        return any(identity_hash(identity) in self.identity for identity in identities_of(envelope))
