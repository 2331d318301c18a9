"""What a source adapter is, the registry that finds one by kind, and the mapping steps every kind shares."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from functools import cache, lru_cache
from typing import Any, ClassVar

from jmespath.exceptions import JMESPathError

from nxbridge.contract import CONTACT_FIELDS, Customer, CustomerValidationError, FieldError, validate_customer
from nxbridge.endpoints import CUSTOM_FIELD_PREFIX, PHONE, EndpointConfig, Kind, compile_jmespath
from nxbridge.envelope import EventKind
from nxbridge.normalize.customer import Refusal, country_in_form, normalize_customer, own_region
from nxbridge.normalize.sqs_text import sqs_safe
from nxbridge.observability import logger
from nxbridge.record import Record

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
# Fields whose text is never altered but trimmed (see ``prepare``).
_IDENTITY_FIELDS = frozenset({*CONTACT_FIELDS, PHONE})
# Where a nameless customer's full_name comes from: the e-mail first, then a phone or messenger id.
_NAME_FALLBACKS = ("email", "sms_phone", "whats_app_phone", "viber_phone", "zalo", "line", "messenger", "instagram")


class WebhookRequest(Record):
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


class Problem(Record):
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


class Ignored(Record):
    """A verified delivery that carries no customer for this endpoint (another topic or event type): 200."""

    reason: str


class EventFacts(Record):
    """What a delivery says about the change it carries (newest wins, ``nxbridge.ordering``); all optional.

    ``at``: when the source changed the customer (the receive time stands in when None); ``event``: what it did;
    ``customer_id``: the source's own id of the customer, for a delivery that carries one customer.
    """

    at: dt.datetime | None = None
    event: EventKind | None = None
    customer_id: str | None = None


class PrivacyNotice(Record):
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
    # Whether the source's phone numbers are read by the phone library into E.164 digits (``nxbridge.normalize``).
    normalizes_phones: ClassVar[bool] = True
    # Whether a value that cannot be made right or that NXCloud would refuse (a phone, an e-mail, a bad optional
    # field) is dropped and counted when the customer stays valid: a provider that gets a 4xx retries, then disables
    # the webhook. Kinds whose sender can correct the answer say no, and get field errors.
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
    return _text_time(value.strip())


# Cached: a file's records (or a shop's retries) carry the same time again and again; datetimes are immutable.
@lru_cache(maxsize=256)
def _text_time(raw: str) -> dt.datetime | None:
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
    if type(value) is str:
        # The common case first (every field of every mapped customer); str subclasses take the isinstance below.
        return value.strip() or None
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
    candidate: Mapping[str, Any], config: EndpointConfig, *, trim_text: bool = True, normalize_phones: bool = True
) -> dict[str, Any]:
    """Turn a source's candidate into the input of ``validate_customer`` (values that cannot be made right left out).

    See ``prepare``, which also says what was left out and why.
    """
    return prepare(candidate, config, trim_text=trim_text, normalize_phones=normalize_phones).data


class Prepared(Record):
    """A candidate made into NXCloud fields, the values taken out of it, and the fields its ``phone`` filled."""

    data: dict[str, Any]
    refused: tuple[Refusal, ...]
    from_phone: frozenset[str]


def prepare(
    candidate: Mapping[str, Any],
    config: EndpointConfig,
    *,
    trim_text: bool = True,
    normalize_phones: bool = True,
    without: frozenset[str] = frozenset(),
) -> Prepared:
    """The mapping steps every kind shares, in order.

    Text SQS refuses is removed; the phone goes to the endpoint's phone fields (explicit ones win); ``without``
    fields are left out; phones (with ``normalize_phones``) and the country are made right under the endpoint's
    policy, national numbers read in the customer's own country; the endpoint's defaults fill gaps and add tags;
    a missing full name is built from the first and last name or else from a contact; free text is cut to
    NXCloud's limits.
    """
    data: dict[str, Any] = {}
    for key, raw in candidate.items():
        # Most values are text or absent: what _coerce, _clean and _is_empty do to those, without the calls.
        if raw is None:
            continue
        if isinstance(raw, str):
            # Identity fields are never altered: one holding a character SQS refuses is invalid, not another address.
            text_value = (raw if key in _IDENTITY_FIELDS else sqs_safe(raw)).strip()
            if text_value:
                data[key] = text_value
            continue
        value = _coerce(key, raw)
        value = value if key in _IDENTITY_FIELDS else _clean(value)
        if isinstance(value, str):
            value = value.strip()
        if not _is_empty(value):
            data[key] = value
    region = own_region(data)
    phone = data.pop(PHONE, None)
    from_phone = frozenset(f for f in config.phone_fields if phone is not None and f not in data)
    for phone_field in from_phone:
        data[phone_field] = phone
    for field in without:
        data.pop(field, None)
    policy = config.normalize
    data, refused = normalize_customer(data, policy, phones=normalize_phones, region=region)
    # A copy: the loop below takes values out of it.
    defaults = dict(config.defaults.given)
    default_tags = defaults.pop("tagStr", None)
    if default_tags:
        data["tagStr"] = _merge_tags(data.get("tagStr"), default_tags)
    default_country = defaults.pop("country", None)
    if default_country is not None and "country" not in data:
        # The operator's own text stays when the table does not know it: it is configuration, not customer data.
        data["country"] = country_in_form(default_country, policy.country) or default_country
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
    return Prepared(data, tuple(refused), from_phone)


def _clean(value: Any) -> Any:
    # Every string a customer carries, nested ones too (tags, custom fields), is text SQS accepts.
    if isinstance(value, str):
        return sqs_safe(value)
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {sqs_safe(str(k)): _clean(v) for k, v in value.items()}
    return value


def _merge_tags(own: Any, extra: Any) -> Any:
    if not isinstance(own, str | list | tuple):
        # Whatever the source sent is not tags; keep it so that validation reports it.
        return own if own is not None else extra
    return [*_tag_list(own), *_tag_list(extra)]


def _tag_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return value.split(",")
    return list(value) if isinstance(value, list | tuple) else []


class DroppedContact(Record):
    """A value left out of a valid customer: a contact NXCloud would refuse or that cannot be made right (when
    another contact remains), or a bad optional field. Counted by ``metric`` with ``reason``; never shown."""

    field: str  # "phone" (every phone field the source's phone filled), or the NXCloud field
    reason: str  # metric dimension: phone_unreadable, phone_no_region, email_malformed, gender_invalid, ...

    @property
    def is_contact(self) -> bool:
        """Whether the value was a way to reach the customer (a phone, an e-mail, a messenger id)."""
        return self.field == PHONE or self.field in CONTACT_FIELDS

    @property
    def metric(self) -> str:
        """The metric that counts it: ContactsDropped or FieldsDropped."""
        return "ContactsDropped" if self.is_contact else "FieldsDropped"


class BuiltCustomer(Record):
    """A valid customer and the values left out of it."""

    customer: Customer
    dropped: tuple[DroppedContact, ...] = ()


def build_customer(
    candidate: Candidate,
    config: EndpointConfig,
    *,
    trim_text: bool = True,
    normalize_phones: bool = True,
    drop_unusable: bool = True,
) -> BuiltCustomer:
    """Prepare and validate a candidate; CustomerValidationError when it is invalid.

    With ``drop_unusable``, a value that cannot be made right or that NXCloud would refuse (a phone, an e-mail, a
    bad optional field such as a gender NXCloud has no code for) is left out and reported in ``dropped`` when what
    remains is a valid customer: a provider that gets a 4xx for one messy value retries, then disables the
    webhook (Shopify, WooCommerce). A customer whose only contact is unusable, or that has no name, stays invalid.
    Without it, every such value is a field error for the sender to correct.
    """
    first = prepare(candidate, config, trim_text=trim_text, normalize_phones=normalize_phones)
    try:
        customer = validate_customer(first.data)
    except CustomerValidationError as exc:
        invalid = exc.errors
    else:
        if not first.refused:
            return BuiltCustomer(customer)
        if drop_unusable:
            return BuiltCustomer(customer, _dropped(first, ()))
        invalid = []
    errors = _reported(first, invalid)
    droppable = _droppable(invalid) if drop_unusable else None
    if not droppable:
        raise CustomerValidationError(errors)
    second = prepare(
        candidate, config, trim_text=trim_text, normalize_phones=normalize_phones, without=frozenset(droppable)
    )
    try:
        customer = validate_customer(second.data)
    except CustomerValidationError:
        raise CustomerValidationError(errors) from None
    return BuiltCustomer(customer, _dropped(second, [e for e in invalid if e.field in droppable]))


def _reported(prepared: Prepared, invalid: Sequence[FieldError]) -> list[FieldError]:
    """What the sender is told: the values that could not be made right, then the contract's errors.

    A contact that was given but could not be made right is what to correct, not "a contact is required".
    """
    refused = [FieldError(field=r.field, reason=r.message, code=r.reason) for r in prepared.refused]
    gave_contact = any(r.field in CONTACT_FIELDS for r in prepared.refused)
    rest = [e for e in invalid if not (gave_contact and e.field == "customer")]
    return [*refused, *rest]


def _droppable(errors: Sequence[FieldError]) -> dict[str, FieldError] | None:
    """The fields every error is about, or None when an error cannot be fixed by leaving a value out."""
    found: dict[str, FieldError] = {}
    for error in errors:
        field = error.field.split(".", 1)[0]
        if field in ("customer", "full_name"):
            return None
        found.setdefault(field, error)
    return found or None


def _dropped(prepared: Prepared, invalid: Sequence[FieldError]) -> tuple[DroppedContact, ...]:
    """One entry per value left out; the phone's fields refused for one reason are one entry for the phone."""
    dropped: dict[tuple[str, str], DroppedContact] = {}
    by_reason: dict[str, set[str]] = {}
    for refusal in prepared.refused:
        by_reason.setdefault(refusal.reason, set()).add(refusal.field)
    for refusal in prepared.refused:
        whole_phone = prepared.from_phone and prepared.from_phone <= by_reason[refusal.reason]
        field = PHONE if whole_phone and refusal.field in prepared.from_phone else refusal.field
        dropped.setdefault((field, refusal.reason), DroppedContact(field, refusal.reason))
    for error in invalid:
        field = error.field.split(".", 1)[0]
        dropped.setdefault((field, ""), DroppedContact(field, _drop_reason(field, error)))
    return tuple(dropped.values())


def _drop_reason(field: str, error: FieldError) -> str:
    if error.code == "string_too_long":
        return f"{field}_too_long"
    return "email_malformed" if field == "email" else f"{field}_invalid"
