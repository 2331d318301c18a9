"""The batch_create request around the customers, and NXCloud's answer: the drain's part of the contract.

Apart from ``nxbridge.contract.models`` so that the ingest and the replay, which never call NXCloud, do not build
these models on every cold start.
"""

import json
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    InstanceOf,
    TypeAdapter,
)
from pydantic_core import CoreSchema, core_schema

# pydantic reads typing.TypedDict only from Python 3.12 on.
from typing_extensions import TypedDict

from nxbridge.contract.models import Customer

MAX_BATCH = 100

_CUSTOMER_LIST: TypeAdapter[list[Customer]] = TypeAdapter(list[Customer])
# ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, its encoder built once rather than per request.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


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
        opened = _COMPACT(head)[:-1].encode("utf-8")
        # The customers go straight to JSON in one Rust call: the bytes json.dumps writes for ``Customer.to_api``'s
        # dicts (strings escape alike, and a customer holds only strings and integers), without building the dicts.
        customers = _CUSTOMER_LIST.dump_json(self.customers, exclude_none=True)
        return opened + b',"customers":' + customers + b"}"


# NXCloud's answer is read leniently where leniency cannot lose a record: a Java server may write null for an
# empty list or count, or a number for a phone. A stored batch misread as "not NXCloud JSON" would be re-sent
# dozens of times and finally dead-lettered without a reason.
def _zero_if_null(value: Any) -> Any:
    return 0 if value is None else value


def _empty_if_null(value: Any) -> Any:
    return [] if value is None else value


def _text_schema(_source: Any, _handler: GetCoreSchemaHandler) -> CoreSchema:
    # A string or null as it is, anything else (a number for a phone) as its text. The first two are checked in
    # pydantic-core: Python runs only for an odd value, not once for each item of a 100-item answer.
    return core_schema.union_schema(
        [
            core_schema.str_schema(strict=True),
            core_schema.none_schema(),
            core_schema.no_info_after_validator_function(str, core_schema.any_schema()),
        ],
        mode="left_to_right",
    )


# Text NXCloud may write as null or as a number: read as ``str | None``.
Text = Annotated[str | None, GetPydanticSchema(_text_schema)]


# The drain reads NXCloud's answer with ``RESPONSE`` (below), which holds these models' rules itself: the models'
# own validators are built when first used (``Delivered.result``, tests, the simulator), not on every cold start.


class FailItem(BaseModel):
    """A record NXCloud rejected: ``index`` is its position in the request's customers array."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    index: int
    errorCode: int
    errorMessage: Text = None


class SuccessItem(BaseModel):
    """A record NXCloud stored; customerId is a 64-bit integer and stays exact."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    index: int
    customerId: int
    whatsAppPhone: Text = None


class BatchCreateResult(BaseModel):
    """``data`` of a code-0 answer."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    totalCount: Annotated[int, BeforeValidator(_zero_if_null)] = 0
    successCount: Annotated[int, BeforeValidator(_zero_if_null)] = 0
    failCount: Annotated[int, BeforeValidator(_zero_if_null)] = 0
    failItems: Annotated[list[FailItem], BeforeValidator(_empty_if_null)] = Field(default_factory=list)
    successItems: Annotated[list[SuccessItem], BeforeValidator(_empty_if_null)] = Field(default_factory=list)


class BatchCreateResponse(BaseModel):
    """NXCloud's envelope: code 0 with data, or a non-zero code for the whole request."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    code: int
    message: Text = None
    traceId: Text = None
    data: BatchCreateResult | None = None


# The same answer as the models above, field for field and rule for rule (unknown keys ignored, null for a count or
# a list, text for a number), read into dicts: the drain's reading. pydantic-core builds a model instance for each
# of up to 100 successItems at twice the cost of checking the whole answer; the drain needs two numbers of each.
# tests/unit/test_client_parse.py holds both readings to the same verdicts on the same answers.
class SuccessFields(TypedDict):
    """A successItem as read by ``RESPONSE``."""

    index: int
    customerId: int
    whatsAppPhone: NotRequired[Text]


class ResultFields(TypedDict):
    """``data`` of a code-0 answer as read by ``RESPONSE``; a count or list may be null or missing."""

    totalCount: NotRequired[int | None]
    successCount: NotRequired[int | None]
    failCount: NotRequired[int | None]
    failItems: NotRequired[list[FailItem] | None]
    successItems: NotRequired[list[SuccessFields] | None]


class ResponseFields(TypedDict):
    """NXCloud's envelope as read by ``RESPONSE``."""

    code: int
    message: NotRequired[Text]
    traceId: NotRequired[Text]
    data: NotRequired[ResultFields | None]


RESPONSE: TypeAdapter[ResponseFields] = TypeAdapter(ResponseFields)
