"""Pydantic models for NXCloud's batch_create, with every field rule of CONTRACT.md.

Values are normalized before they are validated (whitespace trimmed, phone punctuation dropped, dates with a time
cut to the date, lists and dicts turned into the strings NXCloud wants), so that what passes here is exactly what
NXCloud accepts. Phone numbers are made E.164 before they get here (``nxbridge.normalize``); the punctuation rule
is for customers that arrive already in NXCloud's shape.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    InstanceOf,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from nxbridge.normalize.dates import iso_date
from nxbridge.normalize.sqs_text import sqs_safe
from nxbridge.redact import PII_FIELDS, mask

MAX_BATCH = 100

# Fields NXCloud says must be "digits only"; users write phones with '+', spaces, dashes and brackets.
PHONE_LIKE_FIELDS: tuple[str, ...] = (
    "sms_phone",
    "whats_app_phone",
    "viber_phone",
    "messenger",
    "instagram",
    "zalo",
)
# At least one of these must be non-empty.
CONTACT_FIELDS: tuple[str, ...] = (
    "sms_phone",
    "whats_app_phone",
    "email",
    "viber_phone",
    "messenger",
    "instagram",
    "line",
    "zalo",
)
_PHONE_PUNCTUATION = re.compile(r"[\s+\-().\u00a0/]")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_GENDERS: dict[str, int] = {
    "1": 1,
    "m": 1,
    "male": 1,
    "man": 1,
    "0": 0,
    "f": 0,
    "female": 0,
    "woman": 0,
}

Str30 = Annotated[str | None, Field(default=None, max_length=30)]
Str32 = Annotated[str | None, Field(default=None, max_length=32)]
Str50 = Annotated[str | None, Field(default=None, max_length=50)]
Str128 = Annotated[str | None, Field(default=None, max_length=128)]


class Customer(BaseModel):
    """One NXCloud customer, normalized and valid per the contract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    full_name: str = Field(min_length=1, max_length=255)
    first_name: Str128
    last_name: Str128
    sms_phone: Str30
    whats_app_phone: Str30
    viber_phone: Str30
    messenger: Str32
    instagram: Str32
    zalo: Str32
    line: Str50
    country: Str50
    email: Str50
    address: str | None = Field(default=None, max_length=100)
    birthday: str | None = None
    tagStr: str | None = None
    remark: str | None = Field(default=None, max_length=2000)
    time_zone: str | None = None
    gender: Literal[0, 1] | None = None
    customize_field: str | None = None
    belong_seat_user: Str128
    weight: int | None = Field(default=None, ge=1, le=5)

    @model_validator(mode="before")
    @classmethod
    def _trim_and_drop_empty(cls, data: Any) -> Any:
        """Trim every string and treat empty values as absent, as the API page's padded example implies."""
        if not isinstance(data, Mapping):
            return data
        cleaned: dict[str, Any] = {}
        for key, raw in data.items():
            # Runs on every decode of every queued customer: the common case (a non-empty string) is tested first.
            if isinstance(raw, str):
                value = raw.strip()
                if value:
                    cleaned[key] = value
            elif raw is not None and raw not in ("", [], {}):
                cleaned[key] = raw
        return cleaned

    @field_validator(*PHONE_LIKE_FIELDS, mode="before")
    @classmethod
    def _digits_only(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return value
        if value.isascii() and value.isdigit():
            return value  # the common case: E.164 digits made by nxbridge.normalize
        digits = _PHONE_PUNCTUATION.sub("", value)
        if not digits.isascii() or not digits.isdigit():
            raise ValueError("must contain digits only (spaces, '+', '-', '(', ')' are removed)")
        return digits

    @field_validator("email", mode="after")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError("is not an e-mail address")
        return value

    @field_validator("email", "line", mode="after")
    @classmethod
    def _queueable(cls, value: str | None) -> str | None:
        # An identity with a character SQS refuses (U+FFFF, ...) would reach NXCloud changed: it is refused instead.
        if value is not None and sqs_safe(value) != value:
            raise ValueError("holds characters that are not text (U+FFFE, U+FFFF or another non-character)")
        return value

    @field_validator("birthday", mode="before")
    @classmethod
    def _real_date(cls, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            return value.isoformat()
        if not isinstance(value, str):
            return value
        # Senders write dates with a time too (1976-04-12T00:00:00Z, a Typeform date answer): the date is kept.
        day = iso_date(value)
        if day is not None:
            return day
        if _DATE.match(value):
            raise ValueError("is not a real calendar date")
        raise ValueError("must be a date as yyyy-MM-dd")

    @field_validator("tagStr", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        parts: Iterable[Any]
        if isinstance(value, str):
            parts = value.split(",")
        elif isinstance(value, list | tuple | set):
            parts = value
        else:
            return value
        tags = [tag for tag in (str(p).strip() for p in parts) if tag]
        return ",".join(dict.fromkeys(tags)) or None

    @field_validator("gender", mode="before")
    @classmethod
    def _gender(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be 1 (male) or 0 (female)")
        key = str(value).strip().lower()
        if key not in _GENDERS:
            raise ValueError("must be 1 (male) or 0 (female); 'male', 'female', 'm', 'f' are accepted")
        return _GENDERS[key]

    @field_validator("weight", mode="before")
    @classmethod
    def _weight(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be an integer from 1 to 5")
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @field_validator("customize_field", mode="before")
    @classmethod
    def _json_object_string(cls, value: Any) -> Any:
        # NaN/Infinity are Python's JSON extensions, not JSON: NXCloud's parser refuses them.
        if isinstance(value, Mapping):
            try:
                return json.dumps(
                    dict(value), ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
                )
            except (TypeError, ValueError):
                raise ValueError("must be a JSON object (or a string holding one)") from None
        if not isinstance(value, str):
            return value
        try:
            parsed = json.loads(value, parse_constant=_reject_json_constant)
        except ValueError:
            raise ValueError("must be a JSON object (or a string holding one)") from None
        if not isinstance(parsed, dict):
            raise ValueError("must be a JSON object (or a string holding one)")
        return value

    @model_validator(mode="after")
    def _one_contact(self) -> Customer:
        for name in CONTACT_FIELDS:
            if getattr(self, name):
                return self
        raise ValueError("at least one of " + ", ".join(CONTACT_FIELDS) + " is required")

    def to_api(self) -> dict[str, Any]:
        """The customer as NXCloud's JSON object: absent fields left out."""
        return self.model_dump(exclude_none=True)


def _reject_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class FieldError(BaseModel):
    """One reason a customer was refused: which field, why, and the value masked if it is PII."""

    model_config = ConfigDict(frozen=True)

    field: str
    reason: str
    value: str | None = None
    code: str | None = None  # pydantic's error type (string_too_long, value_error, ...), for callers that branch


class CustomerValidationError(ValueError):
    """A customer failed the contract; ``errors`` says field by field why."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors


def _shown_value(field: str, value: Any) -> str | None:
    if value is None or isinstance(value, Mapping | list):
        return None
    if field in PII_FIELDS:
        return mask(value)
    text = str(value)
    return text if len(text) <= 64 else text[:61] + "..."


def field_errors(exc: ValidationError, data: Mapping[str, Any] | None = None) -> list[FieldError]:
    """Turn a pydantic ValidationError into FieldErrors that never echo raw PII."""
    errors: list[FieldError] = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in err["loc"]]
        field = ".".join(loc) if loc else "customer"
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "is not a field NXCloud knows"
        raw = data.get(loc[0]) if data is not None and loc else None
        shown = _shown_value(loc[0] if loc else "", raw)
        errors.append(FieldError(field=field, reason=reason, value=shown, code=err["type"]))
    return errors


def validate_customer(data: Mapping[str, Any]) -> Customer:
    """Normalize and validate one customer; raise CustomerValidationError with field-level reasons."""
    try:
        return Customer.model_validate(data)
    except ValidationError as exc:
        raise CustomerValidationError(field_errors(exc, data)) from None


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
