"""Pydantic models for NXCloud's customer, with every field rule of CONTRACT.md (the batch request and the
answer around it are in ``nxbridge.contract.batch``: only the drain needs them).

Values are normalized before they are validated (whitespace trimmed, phone punctuation dropped, dates with a time
cut to the date, lists and dicts turned into the strings NXCloud wants), so that what passes here is exactly what
NXCloud accepts. Phone numbers are made E.164 before they get here (``nxbridge.normalize``); the punctuation rule
is for customers that arrive already in NXCloud's shape.
"""

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from nxbridge.normalize.dates import iso_date
from nxbridge.normalize.sqs_text import sqs_safe
from nxbridge.redact import PII_FIELDS, mask

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
    def _one_contact(self) -> "Customer":
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

    # Built with the first refusal, not on every cold start (a valid customer never needs it).
    model_config = ConfigDict(frozen=True, defer_build=True)

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
