"""The batch_create request around the customers, and NXCloud's answer: the drain's part of the contract.

Apart from ``nxbridge.contract.models`` so that the ingest and the replay, which never call NXCloud, do not build
these models on every cold start.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, InstanceOf, TypeAdapter

from nxbridge.contract.models import Customer

MAX_BATCH = 100

_CUSTOMER_LIST: TypeAdapter[list[Customer]] = TypeAdapter(list[Customer])


class BatchCreateRequest(BaseModel):
    """The batch_create body: 1..100 customers for one tenant and app."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal[0, 1, 2]
    tenant_id: int
    app_key: str = Field(min_length=1)
    strict_binding: bool = False
    # Customers already validated where they entered (``validate_customer``, or read on trust from a queue message):
    # a request is assembled from them, its model validator not run again on each of a hundred.
    customers: list[InstanceOf[Customer]] = Field(min_length=1, max_length=MAX_BATCH)

    def to_body(self) -> bytes:
        """Serialize once, compactly, UTF-8 with non-ASCII kept: these are the bytes signed and sent."""
        head = {
            "type": self.type,
            "tenant_id": self.tenant_id,
            "app_key": self.app_key,
            "strict_binding": self.strict_binding,
        }
        opened = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1].encode("utf-8")
        # The customers go straight to JSON in one Rust call: the bytes json.dumps writes for ``Customer.to_api``'s
        # dicts (strings escape alike, and a customer holds only strings and integers), without building the dicts.
        customers = _CUSTOMER_LIST.dump_json(self.customers, exclude_none=True)
        return opened + b',"customers":' + customers + b"}"


# NXCloud's answer is read leniently where leniency cannot lose a record: a Java server may write null for an
# empty list or count, or a number for a phone. A stored batch misread as "not NXCloud JSON" would be re-sent
# dozens of times and finally dead-lettered without a reason.
def _as_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def _zero_if_null(value: Any) -> Any:
    return 0 if value is None else value


def _empty_if_null(value: Any) -> Any:
    return [] if value is None else value


class FailItem(BaseModel):
    """A record NXCloud rejected: ``index`` is its position in the request's customers array."""

    model_config = ConfigDict(extra="ignore")

    index: int
    errorCode: int
    errorMessage: Annotated[str | None, BeforeValidator(_as_text)] = None


class SuccessItem(BaseModel):
    """A record NXCloud stored; customerId is a 64-bit integer and stays exact."""

    model_config = ConfigDict(extra="ignore")

    index: int
    customerId: int
    whatsAppPhone: Annotated[str | None, BeforeValidator(_as_text)] = None


class BatchCreateResult(BaseModel):
    """``data`` of a code-0 answer."""

    model_config = ConfigDict(extra="ignore")

    totalCount: Annotated[int, BeforeValidator(_zero_if_null)] = 0
    successCount: Annotated[int, BeforeValidator(_zero_if_null)] = 0
    failCount: Annotated[int, BeforeValidator(_zero_if_null)] = 0
    failItems: Annotated[list[FailItem], BeforeValidator(_empty_if_null)] = Field(default_factory=list)
    successItems: Annotated[list[SuccessItem], BeforeValidator(_empty_if_null)] = Field(default_factory=list)


class BatchCreateResponse(BaseModel):
    """NXCloud's envelope: code 0 with data, or a non-zero code for the whole request."""

    model_config = ConfigDict(extra="ignore")

    code: int
    message: Annotated[str | None, BeforeValidator(_as_text)] = None
    traceId: Annotated[str | None, BeforeValidator(_as_text)] = None
    data: BatchCreateResult | None = None
