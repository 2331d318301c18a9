"""What a source adapter is, the registry that finds one by kind, and the mapping steps every kind shares."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from jmespath.exceptions import JMESPathError

from nxbridge.contract import Customer, CustomerValidationError, FieldError, validate_customer
from nxbridge.endpoints import CUSTOM_FIELD_PREFIX, PHONE, EndpointConfig, Kind, compile_jmespath
from nxbridge.envelope import EventKind
from nxbridge.observability import logger

JSON_MEDIA_TYPES: frozenset[str] = frozenset({"application/json"})

# A customer as a source sees it before validation: NXCloud field names, plus "phone" (see endpoints.PHONE).
Candidate = dict[str, Any]

# Free-text fields a source composes or copies (names, addresses, notes): cut to NXCloud's limits rather than
# refusing a real shop customer whose street name is long. Identity fields (e-mail, phones) are never cut.
TEXT_LIMITS: Mapping[str, int] = {
    "full_name": 255,
    "first_name": 128,
    "last_name": 128,
    "address": 100,
    "country": 50,
    "remark": 2000,
}
_NON_TEXT_FIELDS = frozenset({"gender", "weight", "customize_field", "tagStr"})
# Fields that hold a collection (tags, the custom-field object); every other field holds one value.
_COLLECTION_FIELDS = frozenset({"tagStr", "customize_field"})
# An extension after the number ("ext. 12", "x12", "#2") is not part of what NXCloud stores or dials.
_PHONE_EXTENSION = re.compile(r"(?<=[\d\s).])\s*(?:ext[.:]?|x|#)\s*\d+\s*$", re.IGNORECASE)
# Where a nameless customer's full_name comes from: the e-mail first, then a phone or messenger id.
_NAME_FALLBACKS = ("email", "sms_phone", "whats_app_phone", "viber_phone", "zalo", "line", "messenger", "instagram")


@dataclass(frozen=True)
class WebhookRequest:
    """One webhook request, independent of the transport that carried it.

    ``headers`` have lower-case names. ``body`` is the raw bytes the sender signed, or None when the transport
    could not decode it.
    """

    endpoint: str
    method: str
    headers: Mapping[str, str]
    body: bytes | None
    request_id: str
    received_at: dt.datetime

    def header(self, *names: str) -> str | None:
        """The value of the first of ``names`` (lower-case) that is present."""
        for name in names:
            value = self.headers.get(name)
            if value is not None:
                return value
        return None

    @property
    def media_type(self) -> str | None:
        """The Content-Type without parameters, lower-case (``application/json``), or None."""
        value = self.headers.get("content-type")
        if value is None:
            return None
        return value.split(";", 1)[0].strip().lower() or None


@dataclass(frozen=True)
class Problem:
    """Why (part of) a payload was refused: which customer, which field, why; the value masked if shown."""

    field: str
    reason: str
    index: int | None = None
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of a 422 answer."""
        shown: dict[str, Any] = {"field": self.field, "reason": self.reason}
        if self.index is not None:
            shown = {"index": self.index, **shown}
        if self.value is not None:
            shown["value"] = self.value
        return shown


class MalformedPayload(Exception):
    """The body cannot be read as the kind's format (400). The message is safe to show the sender."""


class InvalidPayload(Exception):
    """The body is readable but cannot yield valid customers (422)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Ignored:
    """A verified delivery that carries no customer for this endpoint (another topic or event type): 200."""

    reason: str


@dataclass(frozen=True)
class EventFacts:
    """What a delivery says about the change it carries (newest wins, ``nxbridge.ordering``); all optional.

    ``at``: when the source changed the customer (the receive time stands in when None); ``event``: what it did;
    ``customer_id``: the source's own id of the customer, for a delivery that carries one customer.
    """

    at: dt.datetime | None = None
    event: EventKind | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class PrivacyNotice:
    """A verified delivery about a customer's or a shop's data rather than a change to it (Shopify's compliance
    topics and ``customers/delete``): the ingest acknowledges it and acts on what the bridge holds."""

    topic: str
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None


class Source(ABC):
    """One webhook kind: how it is signed, where its delivery id is, how its payload becomes customers."""

    kind: ClassVar[Kind]
    media_types: ClassVar[frozenset[str]] = JSON_MEDIA_TYPES
    # Whether free text may be cut to NXCloud's limits (sources that already speak NXCloud's shape say no).
    trims_text: ClassVar[bool] = True
    # Whether an extension is cut from the source's phone ("ext. 12"); see ``build_customer``.
    cuts_phone_extension: ClassVar[bool] = True
    # Whether a derived phone or e-mail NXCloud would refuse is dropped when another contact remains: a provider
    # that gets a 4xx retries, then disables the webhook. Kinds whose sender can correct the answer say no.
    drops_unusable_contacts: ClassVar[bool] = True

    def accepts(self, media_type: str | None) -> bool:
        """Whether a body of this media type can be read (a missing Content-Type is read as the kind's own)."""
        return media_type is None or media_type in self.media_types or _is_json_suffix(media_type, self.media_types)

    def is_ping(self, request: WebhookRequest) -> bool:
        """Whether this is an unsigned liveness ping to acknowledge with 200 and nothing queued."""
        return False

    @abstractmethod
    def verify(self, request: WebhookRequest, secrets: Sequence[str], config: EndpointConfig, now: dt.datetime) -> bool:
        """Whether the request is signed with one of ``secrets`` (constant-time)."""

    def parse(self, request: WebhookRequest, config: EndpointConfig) -> Any:
        """The decoded body; MalformedPayload when it is not the kind's format."""
        return parse_json(request.body or b"")

    @abstractmethod
    def delivery_id(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> str | None:
        """The sender's id of this delivery (the same on every retry), or None."""

    def dedupe_key(self, request: WebhookRequest, delivery_id: str | None) -> str | None:
        """What identifies a repeat of this delivery for the dedupe ledger: the delivery id, unless ids collide."""
        return delivery_id

    @abstractmethod
    def candidates(self, payload: Any, request: WebhookRequest, config: EndpointConfig) -> list[Candidate] | Ignored:
        """The customers the payload carries, mapped to NXCloud field names but not yet validated."""

    def event_facts(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> EventFacts:
        """When and what the source changed, and its customer id; by default nothing (the receive time counts)."""
        return EventFacts()

    def privacy_notice(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> PrivacyNotice | None:
        """The privacy or deletion notice this delivery is, if it is one (only Shopify sends them)."""
        return None


def _is_json_suffix(media_type: str, accepted: frozenset[str]) -> bool:
    # RFC 6839 structured syntax suffix: application/vnd.example+json is JSON.
    return "application/json" in accepted and media_type.startswith("application/") and media_type.endswith("+json")


@cache
def source_for(kind: Kind) -> Source:
    """The adapter for ``kind``; its module is imported on first use."""
    module = importlib.import_module(f"nxbridge.sources.{kind}")
    source: Source = module.SOURCE
    return source


def event_time(value: Any) -> dt.datetime | None:
    """A source's timestamp: ISO 8601 (without an offset: UTC) or epoch seconds; None when it is neither."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    raw = value.strip()
    if raw.isdigit():
        return event_time(int(raw))
    try:
        moment = dt.datetime.fromisoformat(raw.replace(" ", "T", 1) if "T" not in raw else raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_json(body: bytes) -> Any:
    """JSON from the raw body; MalformedPayload when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedPayload("the body is not valid JSON") from None


def require_object(payload: Any, what: str = "the body") -> dict[str, Any]:
    """``payload`` when it is a JSON object; MalformedPayload otherwise."""
    if not isinstance(payload, dict):
        raise MalformedPayload(f"{what} must be a JSON object")
    return payload


def as_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (for optional nested parts of a payload)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def text(value: Any) -> str | None:
    """A scalar as trimmed text (numbers included, booleans not); None for empty or non-scalar values."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def join_text(*parts: Any, sep: str = ", ") -> str | None:
    """The non-empty scalar parts joined by ``sep``, or None."""
    texts = [t for t in (text(p) for p in parts) if t]
    return sep.join(texts) or None


def search(expression: str, data: Any) -> Any:
    """Evaluate a configured JMESPath expression against ``data``; None when it does not apply to this payload."""
    try:
        return compile_jmespath(expression).search(data)
    except JMESPathError as exc:
        # e.g. join() over a value that is not text: the payload, not the configuration, is unusual.
        logger.warning("mapping expression failed", extra={"expression": expression, "error": type(exc).__name__})
        return None


def apply_mapping(candidate: Candidate, mapping: Mapping[str, str], lookup: Callable[[str], Any]) -> Candidate:
    """Override ``candidate`` field by field with what the endpoint's mapping finds (absent finds change nothing).

    A ``customize_field.<key>`` target sets that key of the customer's custom-field object.
    """
    for target, source in mapping.items():
        value = lookup(source)
        if _is_empty(value):
            continue
        if target.startswith(CUSTOM_FIELD_PREFIX):
            custom = candidate.get("customize_field")
            custom = dict(custom) if isinstance(custom, dict) else {}
            custom[target.removeprefix(CUSTOM_FIELD_PREFIX)] = value
            candidate["customize_field"] = custom
        else:
            candidate[target] = value
    return candidate


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict | tuple) and not value)


def _coerce(field: str, value: Any) -> Any:
    # A choice question answers with a list even when it allows one option (Tally's ["Female"] for a gender).
    if field not in _COLLECTION_FIELDS and _is_single_scalar(value):
        value = value[0]
    # Sources deliver numbers and lists where NXCloud wants strings (a Typeform number, Tally checkboxes).
    if field in _NON_TEXT_FIELDS or isinstance(value, str | dict):
        return value
    if isinstance(value, list | tuple):
        parts = [text(v) for v in value]
        return ", ".join(p for p in parts if p) or None
    return text(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _is_single_scalar(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 1 and isinstance(value[0], str | int | float)


def finalize(
    candidate: Mapping[str, Any], config: EndpointConfig, *, trim_text: bool = True, cut_extension: bool = False
) -> dict[str, Any]:
    """Turn a source's candidate into the input of ``validate_customer``.

    The phone (without its extension if ``cut_extension``) goes to the endpoint's phone fields (explicit ones win),
    the endpoint's defaults fill gaps and add tags, a missing full name is built from the first and last name or
    else from the e-mail or phone, and free text is cut to NXCloud's limits.
    """
    data: dict[str, Any] = {}
    for key, raw in candidate.items():
        value = _coerce(key, raw)
        if isinstance(value, str):
            value = value.strip()
        if not _is_empty(value):
            data[key] = value
    phone = data.pop(PHONE, None)
    if cut_extension and isinstance(phone, str):
        phone = _PHONE_EXTENSION.sub("", phone) or phone
    if phone is not None:
        for phone_field in config.phone_fields:
            data.setdefault(phone_field, phone)
    defaults = config.defaults.model_dump(exclude_none=True)
    default_tags = defaults.pop("tagStr", None)
    if default_tags:
        data["tagStr"] = _merge_tags(data.get("tagStr"), default_tags)
    for name, value in defaults.items():
        data.setdefault(name, value)
    if "full_name" not in data:
        full_name = join_text(data.get("first_name"), data.get("last_name"), sep=" ")
        contact = next((data[f] for f in _NAME_FALLBACKS if isinstance(data.get(f), str)), None)
        if full_name or contact:
            data["full_name"] = full_name or contact
    if trim_text:
        for field, limit in TEXT_LIMITS.items():
            value = data.get(field)
            if isinstance(value, str) and len(value) > limit:
                data[field] = value[:limit].rstrip()
    return data


def _merge_tags(own: Any, extra: Any) -> Any:
    if not isinstance(own, str | list | tuple):
        # Whatever the source sent is not tags; keep it so that validation reports it.
        return own if own is not None else extra
    return [*_tag_list(own), *_tag_list(extra)]


def _tag_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return value.split(",")
    return list(value) if isinstance(value, list | tuple) else []


@dataclass(frozen=True)
class DroppedContact:
    """A contact the source derived that NXCloud would refuse, left out because the customer has another one."""

    field: str  # "phone" (all of the endpoint's phone fields) or "email"
    reason: str  # metric dimension: phone_not_digits, phone_too_long, email_malformed, email_too_long


@dataclass(frozen=True)
class BuiltCustomer:
    """A valid customer and the contacts left out of it."""

    customer: Customer
    dropped: tuple[DroppedContact, ...] = ()


def build_customer(
    candidate: Candidate,
    config: EndpointConfig,
    *,
    trim_text: bool = True,
    cut_extension: bool = True,
    drop_unusable: bool = True,
) -> BuiltCustomer:
    """Finalize and validate a candidate; CustomerValidationError when it is invalid.

    With ``drop_unusable``, the candidate's phone or e-mail that NXCloud would refuse is left out when what remains
    is a valid customer (a provider that gets a 4xx for one messy contact retries, then disables the webhook:
    Shopify, WooCommerce). A customer whose only contact is unusable stays invalid.
    """
    options = {"trim_text": trim_text, "cut_extension": cut_extension}
    try:
        return BuiltCustomer(validate_customer(finalize(candidate, config, **options)))
    except CustomerValidationError as exc:
        dropped = _droppable(candidate, config, exc.errors, options) if drop_unusable else None
        if not dropped:
            raise
        rest = {key: value for key, value in candidate.items() if key not in {d.field for d in dropped}}
        try:
            customer = validate_customer(finalize(rest, config, **options))
        except CustomerValidationError:
            raise exc from None
        return BuiltCustomer(customer, tuple(dropped))


def _droppable(
    candidate: Candidate, config: EndpointConfig, errors: Sequence[FieldError], options: Mapping[str, bool]
) -> list[DroppedContact] | None:
    """The derived contacts that every error is about, or None when an error is about anything else."""
    without_phone = finalize({k: v for k, v in candidate.items() if k != PHONE}, config, **options)
    from_phone = {f for f in config.phone_fields if f not in without_phone}
    found: dict[str, DroppedContact] = {}
    for error in errors:
        if error.field == "email" and "email" in candidate:
            contact, kind = "email", "malformed"
        elif error.field in from_phone:
            contact, kind = PHONE, "not_digits"
        else:
            return None
        if error.code == "string_too_long":
            kind = "too_long"
        found.setdefault(contact, DroppedContact(contact, f"{contact}_{kind}"))
    return list(found.values())
