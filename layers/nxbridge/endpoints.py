"""Endpoint configuration (which sources exist and how they map) and the webhook signing secrets.

An *endpoint* is a named, configured source served at ``POST /webhooks/{endpoint}``. The configuration is one
JSON document, ``{"endpoints": {"<name>": {"kind": ..., ...}}}``, validated here; it lives in an SSM parameter
in AWS (read through Powertools parameters, cached) and in a file during local development. The signing
secrets live in one Secrets Manager JSON secret ``{"<secret name>": "value" or ["new", "old"]}``. A form
endpoint's ``form`` block is ``nxbridge.forms.FormOptions``. What cannot be used raises a ``ConfigError``:
``InvalidConfig``, ``StoreUnavailable``, ``MissingSecret`` or ``SettingsError``.
"""

import json
import os
import time
from collections.abc import Callable
from functools import cached_property, lru_cache, partial
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, Protocol, TypeVar, get_args

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from nxbridge import facts
from nxbridge.contract import Customer
from nxbridge.forms import FormOptions
from nxbridge.normalize.policy import NormalizePolicy
from nxbridge.record import Record

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

# The source kinds are stated in nxbridge.facts.
Kind = facts.SourceKind
KINDS: tuple[Kind, ...] = facts.SOURCE_KINDS

# Mapping targets: every NXCloud customer field, plus "phone", the source's phone number, which goes to the
# endpoint's ``phone_fields``.
PHONE = "phone"
MAPPABLE_FIELDS: frozenset[str] = frozenset(Customer.model_fields) | {PHONE}
# ``customize_field.<key>`` targets one key of NXCloud's custom-field object (e.g. customize_field.customize_1_14).
CUSTOM_FIELD_PREFIX = "customize_field."
PhoneField = Literal["sms_phone", "whats_app_phone", "viber_phone", "zalo"]
# A shop's or form's phone number is both an SMS number and, most often, the customer's WhatsApp number.
DEFAULT_PHONE_FIELDS: tuple[PhoneField, ...] = ("sms_phone", "whats_app_phone")
STANDARD_TOLERANCE_SECONDS = 300
# batch_create type 2 keeps NXCloud's old data and drops the new: it cannot serve an endpoint that receives updates.
KEEP_OLD_DATA = 2

EndpointName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
T = TypeVar("T")


class ConfigError(Exception):
    """The bridge's configuration cannot be used; catch this base for all four cases below."""


class InvalidConfig(ConfigError):
    """A configuration document (endpoints, webhook secrets) was read but does not validate."""


class StoreUnavailable(ConfigError):
    """A configuration store (SSM parameter, Secrets Manager secret, local file) cannot be read."""


class MissingSecret(ConfigError):
    """A named webhook secret or fill-token key is absent from the secrets document."""


class SettingsError(ConfigError):
    """The environment does not say where the configuration is."""


@lru_cache(maxsize=512)
def compile_jmespath(expression: str) -> "ParsedResult":
    """Compile (once) a JMESPath expression from the configuration; ValueError when it is not one."""
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ValueError(f"{expression!r} is not a JMESPath expression: {exc}") from None


class _Frozen(BaseModel):
    # defer_build: these are parts of an endpoint's model (or the whole document), whose schema holds theirs; they
    # get validators of their own only if something validates one alone. The ingest validates each endpoint by its
    # kind's model on first use (EndpointIndex), so the kinds a function never serves cost it nothing.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class CustomerDefaults(_Frozen):
    """Values every customer of an endpoint gets: tags are added to the source's own, the rest fill gaps."""

    tagStr: str | list[str] | None = None
    belong_seat_user: str | None = None
    country: str | None = None
    time_zone: str | None = None
    weight: int | None = Field(default=None, ge=1, le=5)

    @cached_property
    def given(self) -> dict[str, Any]:
        """The values set, as ``model_dump(exclude_none=True)`` gives them: read for every customer, made once."""
        return self.model_dump(exclude_none=True)


def _is_custom_field(target: str) -> bool:
    return target.startswith(CUSTOM_FIELD_PREFIX) and len(target) > len(CUSTOM_FIELD_PREFIX)


class _EndpointBase(_Frozen):
    # Unset means "the endpoint's own name"; an explicit null (form endpoints only) means unsigned.
    secret: str | None = None
    mapping: dict[str, str] = Field(default_factory=dict)
    defaults: CustomerDefaults = Field(default_factory=CustomerDefaults)
    phone_fields: tuple[PhoneField, ...] = Field(default=DEFAULT_PHONE_FIELDS, min_length=1)
    # Phone strictness, sms_phone and country forms, the region of national numbers (docs/sources.md).
    normalize: NormalizePolicy = Field(default_factory=NormalizePolicy)

    allows_unsigned: ClassVar[bool] = False

    @property
    def update_topics(self) -> tuple[str, ...]:
        """The configured topics that carry updates of existing customers (none for forms and form services)."""
        return ()

    @field_validator("mapping")
    @classmethod
    def _known_targets(cls, mapping: dict[str, str]) -> dict[str, str]:
        unknown = sorted(t for t in mapping if t not in MAPPABLE_FIELDS and not _is_custom_field(t))
        if unknown:
            raise ValueError(
                f"unknown NXCloud field(s) {unknown}; use one of {sorted(MAPPABLE_FIELDS)} or customize_field.<key>"
            )
        if any(not source.strip() for source in mapping.values()):
            raise ValueError("a mapping source must not be empty")
        return mapping

    @model_validator(mode="after")
    def _signed_unless_allowed(self) -> "_EndpointBase":
        if "secret" in self.model_fields_set and self.secret is None and not self.allows_unsigned:
            raise ValueError("secret may be null only for form endpoints; other kinds are always signed")
        return self


class _JmesPathEndpoint(_EndpointBase):
    """Kinds whose mapping sources are JMESPath expressions over the JSON record."""

    @field_validator("mapping")
    @classmethod
    def _expressions_compile(cls, mapping: dict[str, str]) -> dict[str, str]:
        for expression in mapping.values():
            compile_jmespath(expression)
        return mapping


class ShopifyOptions(_Frozen):
    """Which ``X-Shopify-Topic`` values carry customers; other topics are acknowledged and ignored."""

    topics: tuple[str, ...] = ("customers/create", "customers/update")


class ShopifyEndpoint(_JmesPathEndpoint):
    """A Shopify store's customer webhooks."""

    kind: Literal["shopify"]
    shopify: ShopifyOptions = Field(default_factory=ShopifyOptions)

    @property
    def update_topics(self) -> tuple[str, ...]:
        """``customers/update`` (and any other ``*/update`` topic) when configured."""
        return tuple(topic for topic in self.shopify.topics if topic.endswith("/update"))


class WooCommerceOptions(_Frozen):
    """Which ``X-WC-Webhook-Topic`` values carry customers (``order.*`` topics map the order's billing contact)."""

    topics: tuple[str, ...] = ("customer.created", "customer.updated")


class WooCommerceEndpoint(_JmesPathEndpoint):
    """A WooCommerce store's webhooks."""

    kind: Literal["woocommerce"]
    woocommerce: WooCommerceOptions = Field(default_factory=WooCommerceOptions)

    @property
    def update_topics(self) -> tuple[str, ...]:
        """``customer.updated`` (and ``order.updated``) when configured."""
        return tuple(topic for topic in self.woocommerce.topics if topic.endswith(".updated"))


class TypeformOptions(_Frozen):
    """Which ``event_type`` values are mapped (``form_response_partial`` is ignored unless listed)."""

    event_types: tuple[str, ...] = ("form_response",)


class TypeformEndpoint(_EndpointBase):
    """A Typeform form; mapping sources are question refs (or ids), ``hidden.<name>`` or ``variables.<key>``."""

    kind: Literal["typeform"]
    typeform: TypeformOptions = Field(default_factory=TypeformOptions)


class TallyOptions(_Frozen):
    """Which ``eventType`` values are mapped."""

    event_types: tuple[str, ...] = ("FORM_RESPONSE",)


class TallyEndpoint(_EndpointBase):
    """A Tally form; mapping sources are field keys or labels."""

    kind: Literal["tally"]
    tally: TallyOptions = Field(default_factory=TallyOptions)


class StandardOptions(_Frozen):
    """``records``: JMESPath to the list of customer records (default: the body is one record)."""

    records: str | None = None
    tolerance_seconds: int = Field(default=STANDARD_TOLERANCE_SECONDS, ge=1, le=3600)

    @field_validator("records")
    @classmethod
    def _records_compiles(cls, records: str | None) -> str | None:
        if records is not None:
            compile_jmespath(records)
        return records


class StandardEndpoint(_JmesPathEndpoint):
    """Any sender that implements the Standard Webhooks spec; mapping sources are JMESPath per record."""

    kind: Literal["standard"]
    standard: StandardOptions = Field(default_factory=StandardOptions)


# Form field names a typical form uses for an NXCloud field (beside the NXCloud name itself, which comes first).
FORM_FIELD_ALIASES: dict[str, str] = {
    "name": "full_name",
    "tel": PHONE,
    "mobile": PHONE,
    "message": "remark",
    "tags": "tagStr",
}


class FormEndpoint(_EndpointBase):
    """A website form (urlencoded, multipart or JSON); mapping sources are form field names."""

    kind: Literal["form"]
    form: FormOptions = Field(default_factory=FormOptions)

    allows_unsigned: ClassVar[bool] = True

    @model_validator(mode="after")
    def _fill_token_has_a_key(self) -> "FormEndpoint":
        unsigned = "secret" in self.model_fields_set and self.secret is None
        if self.form.min_fill_seconds is not None and self.form.fill_token_secret is None and unsigned:
            raise ValueError("min_fill_seconds on an unsigned endpoint needs form.fill_token_secret")
        return self

    @model_validator(mode="after")
    def _internal_fields_are_not_customer_fields(self) -> "FormEndpoint":
        # Here rather than in FormOptions: which form fields map by default is the form source's rule (beside it).
        internal = {self.form.honeypot_field, self.form.fill_token_field}
        taken = sorted(name for name in internal if name in MAPPABLE_FIELDS or name in FORM_FIELD_ALIASES)
        if taken:
            raise ValueError(f"{taken} are customer fields; the honeypot and the fill token need other names")
        return self


class NxcloudOptions(_Frozen):
    """Bulk imports already in NXCloud's customer shape, signed like Standard Webhooks."""

    max_customers: int = Field(default=100, ge=1, le=100)
    tolerance_seconds: int = Field(default=STANDARD_TOLERANCE_SECONDS, ge=1, le=3600)


class NxcloudEndpoint(_EndpointBase):
    """Customers already in NXCloud's shape; no mapping (defaults and phone_fields still apply)."""

    kind: Literal["nxcloud"]
    nxcloud: NxcloudOptions = Field(default_factory=NxcloudOptions)

    @field_validator("mapping")
    @classmethod
    def _no_mapping(cls, mapping: dict[str, str]) -> dict[str, str]:
        if mapping:
            raise ValueError("nxcloud endpoints take customers in NXCloud's own shape and have no mapping")
        return mapping


EndpointConfig = Annotated[
    ShopifyEndpoint
    | WooCommerceEndpoint
    | TypeformEndpoint
    | TallyEndpoint
    | StandardEndpoint
    | FormEndpoint
    | NxcloudEndpoint,
    Field(discriminator="kind"),
]


class Endpoint(Record):
    """One configured endpoint: its name, its validated configuration and the name of its signing secret."""

    name: str
    config: EndpointConfig

    @property
    def kind(self) -> Kind:
        """The source kind."""
        return self.config.kind

    @property
    def secret_name(self) -> str | None:
        """Key of this endpoint's secret(s) in the secrets document; None for an unsigned form endpoint."""
        return self.config.secret if "secret" in self.config.model_fields_set else self.name


class EndpointsDocument(_Frozen):
    """The whole endpoint configuration."""

    endpoints: dict[EndpointName, EndpointConfig]

    def get(self, name: str) -> Endpoint | None:
        """The endpoint called ``name``, or None."""
        config = self.endpoints.get(name)
        return None if config is None else Endpoint(name, config)


def _errors(exc: ValidationError, whole: str = "document") -> str:
    """Where and why a document is invalid, without the values: a form's ``fill_token_secret`` may be among them, and
    this text goes to the log (pydantic's own message shows each failing input)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or whole}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    )


def parse_endpoints(raw: str | bytes, *, nxcloud_type: int = 1) -> EndpointsDocument:
    """Validate an endpoint configuration document (for the drain's batch_create type); InvalidConfig says why not."""
    try:
        document = EndpointsDocument.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidConfig(f"invalid endpoint configuration: {_errors(exc)}") from None
    updating = {name: config.update_topics for name, config in document.endpoints.items() if config.update_topics}
    if nxcloud_type == KEEP_OLD_DATA and updating:
        raise InvalidConfig(_keep_old_data_refusal(updating))
    return document


# Kind -> its model: the members of EndpointConfig, each by its ``kind`` literal (one list of the kinds, the union's).
ENDPOINT_MODELS: dict[str, type[_EndpointBase]] = {
    get_args(model.model_fields["kind"].annotation)[0]: model for model in get_args(get_args(EndpointConfig)[0])
}


class _Outline(BaseModel):
    """The endpoint document's shape, each endpoint's contents left for its kind's model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoints: dict[EndpointName, dict[str, Any]]


class EndpointIndex:
    """The endpoint document as the ingest reads it: its shape validated at once, each endpoint by its kind's model
    the first time a request names it (then kept), with the same rules as ``parse_endpoints``. A function pays only
    for the kinds it serves, and an invalid endpoint refuses its own requests (InvalidConfig) without taking the
    others down. ``parse_endpoints`` validates the whole document (the CLI, the console, imports)."""

    def __init__(self, raw: str | bytes, *, nxcloud_type: int = 1) -> None:
        try:
            self._outline = _Outline.model_validate_json(raw)
        except ValidationError as exc:
            raise InvalidConfig(f"invalid endpoint configuration: {_errors(exc)}") from None
        self._nxcloud_type = nxcloud_type
        # Name -> its endpoint, or why it cannot be used.
        self._validated: dict[str, Endpoint | str] = {}

    def get(self, name: str) -> Endpoint | None:
        """The endpoint called ``name``, or None; InvalidConfig when its configuration is not valid."""
        endpoint = self._validated.get(name)
        if endpoint is None:
            raw = self._outline.endpoints.get(name)
            if raw is None:
                return None
            endpoint = self._validated[name] = self._validate(name, raw)
        if isinstance(endpoint, str):
            raise InvalidConfig(endpoint)
        return endpoint

    def _validate(self, name: str, raw: dict[str, Any]) -> Endpoint | str:
        kind = raw.get("kind")
        model = ENDPOINT_MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            return f"invalid endpoint configuration: endpoint {name!r} has kind {kind!r}; use one of {list(KINDS)}"
        try:
            # Re-read as JSON: the same (JSON-mode) validation as the whole document's.
            config = model.model_validate_json(json.dumps(raw))
        except ValidationError as exc:
            return f"invalid endpoint configuration: endpoint {name!r}: {_errors(exc, whole='endpoint')}"
        if self._nxcloud_type == KEEP_OLD_DATA and config.update_topics:
            return _keep_old_data_refusal({name: config.update_topics})
        return Endpoint(name, config)  # type: ignore[arg-type]  # one of EndpointConfig's members


def _keep_old_data_refusal(updating: dict[str, tuple[str, ...]]) -> str:
    shown = ", ".join(f"{name} ({', '.join(topics)})" for name, topics in sorted(updating.items()))
    return (
        f"NXCLOUD_TYPE is 2 (keep old data), so NXCloud would drop every update these endpoints receive: {shown}; "
        "use type 1 (update/add), or remove the update topics from those endpoints"
    )


_SECRETS_DOCUMENT = TypeAdapter(dict[str, Annotated[str, Field(min_length=1)] | list[str]])


def parse_secrets(raw: str | bytes) -> dict[str, tuple[str, ...]]:
    """Validate the secrets document; every name maps to the tuple of its current secrets (rotation: several)."""
    try:
        document = _SECRETS_DOCUMENT.validate_json(raw)
    except ValidationError as exc:
        # The error must not echo secret values: report only where the document is wrong.
        where = sorted({".".join(str(part) for part in err["loc"]) for err in exc.errors(include_input=False)})
        raise InvalidConfig(f"invalid webhook secrets document at {where}") from None
    secrets: dict[str, tuple[str, ...]] = {}
    for name, value in document.items():
        values = tuple(v for v in ([value] if isinstance(value, str) else value) if v)
        if not values:
            raise InvalidConfig(f"webhook secret {name!r} has no value")
        secrets[name] = values
    return secrets


class EndpointStore(Protocol):
    """Where endpoint configurations come from."""

    def get(self, name: str) -> Endpoint | None:
        """The endpoint called ``name`` (None when unknown); ConfigError when the configuration is unusable."""
        ...


class SecretStore(Protocol):
    """Where signing secrets come from."""

    def get(self, name: str, *, refresh: bool = False) -> tuple[str, ...] | None:
        """The current secrets called ``name`` (None when absent); ``refresh`` bypasses the cache."""
        ...


class _Parsed(Generic[T]):
    """Remembers the last raw document and its parsed form, so an unchanged cached document is parsed once."""

    def __init__(self, parse: Callable[[str | bytes], T]) -> None:
        self._parse = parse
        self._raw: str | bytes | None = None
        self._value: T | None = None

    def __call__(self, raw: str | bytes) -> T:
        if self._value is None or raw != self._raw:
            self._value = self._parse(raw)
            self._raw = raw
        return self._value


class ParameterEndpoints:
    """Endpoint configuration from an SSM parameter, cached for ``max_age`` seconds by Powertools parameters."""

    def __init__(self, ssm: "SSMClient", parameter: str, *, max_age: int, nxcloud_type: int = 1) -> None:
        from aws_lambda_powertools.utilities.parameters import SSMProvider  # noqa: PLC0415 (only AWS needs it)

        self._provider = SSMProvider(boto3_client=ssm)
        self._parameter = parameter
        self._max_age = max_age
        self._parsed = _Parsed(partial(EndpointIndex, nxcloud_type=nxcloud_type))

    def get(self, name: str) -> Endpoint | None:
        """The endpoint called ``name``."""
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError  # noqa: PLC0415

        try:
            raw = self._provider.get(self._parameter, max_age=self._max_age)
        except GetParameterError as exc:
            cause = type(exc.__cause__).__name__
            raise StoreUnavailable(f"cannot read the endpoint configuration parameter: {cause}") from exc
        if not isinstance(raw, str | bytes):
            raise StoreUnavailable("the endpoint configuration parameter is empty")
        return self._parsed(raw).get(name)


class FileEndpoints:
    """Endpoint configuration from a local JSON file, re-read when the file changes."""

    def __init__(self, path: str, *, nxcloud_type: int = 1) -> None:
        self._file = _WatchedFile(path)
        self._parsed = _Parsed(partial(EndpointIndex, nxcloud_type=nxcloud_type))

    def get(self, name: str) -> Endpoint | None:
        """The endpoint called ``name``."""
        return self._parsed(self._file.read()).get(name)


class SecretsManagerSecrets:
    """The webhook secrets document from Secrets Manager, cached by Powertools parameters.

    ``refresh`` (asked for after a signature failure) bypasses the cache so that a rotated secret is picked up
    at once; forced reads are spaced by ``min_refresh_seconds`` so that a flood of forged requests cannot turn
    into a flood of GetSecretValue calls.
    """

    def __init__(
        self,
        client: "SecretsManagerClient",
        secret_id: str,
        *,
        max_age: int,
        min_refresh_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider  # noqa: PLC0415 (only AWS needs it)

        self._provider = SecretsProvider(boto3_client=client)
        self._secret_id = secret_id
        self._max_age = max_age
        self._min_refresh = min_refresh_seconds
        self._monotonic = monotonic
        self._last_refresh = -min_refresh_seconds
        self._parsed = _Parsed(parse_secrets)

    def get(self, name: str, *, refresh: bool = False) -> tuple[str, ...] | None:
        """The secrets called ``name``."""
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError  # noqa: PLC0415

        force = refresh and self._monotonic() - self._last_refresh >= self._min_refresh
        if force:
            self._last_refresh = self._monotonic()
        try:
            raw = self._provider.get(self._secret_id, max_age=self._max_age, force_fetch=force)
        except GetParameterError as exc:
            raise StoreUnavailable(f"cannot read the webhook secrets: {type(exc.__cause__).__name__}") from exc
        if not isinstance(raw, str | bytes):
            raise StoreUnavailable("the webhook secrets document is empty")
        return self._parsed(raw).get(name)


class FileSecrets:
    """The webhook secrets document from a local JSON file (development only), re-read when it changes."""

    def __init__(self, path: str) -> None:
        self._file = _WatchedFile(path)
        self._parsed = _Parsed(parse_secrets)

    def get(self, name: str, *, refresh: bool = False) -> tuple[str, ...] | None:
        """The secrets called ``name``; the file is always current, so ``refresh`` changes nothing."""
        return self._parsed(self._file.read()).get(name)


class _WatchedFile:
    def __init__(self, path: str) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._text = ""

    def read(self) -> str:
        try:
            stat = os.stat(self._path)
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                with open(self._path, encoding="utf-8") as handle:
                    self._text = handle.read()
                self._stamp = stamp
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {self._path}: {exc.strerror}") from exc
        return self._text
