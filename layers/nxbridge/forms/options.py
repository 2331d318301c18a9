"""The ``form`` block of a form endpoint's configuration: authentication headers, browser answers, CORS, spam defences.

Validated when the endpoint document is read (``nxbridge.endpoints.FormEndpoint`` holds one): redirect targets
and origins are checked here, so that nothing the request brings can choose where a browser is sent.
"""

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", to_lower=True)]


def _redirect_url(value: str) -> str:
    # Redirect targets come from the configuration only, never from the request (no open redirect); a browser
    # must be able to follow them, so they are absolute http(s) URLs without credentials or control characters.
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        raise ValueError(f"{value!r} must be an absolute http(s) URL without user or password")
    if not value.isascii() or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise ValueError(f"{value!r} must be ASCII (percent-encode the rest) without spaces or control characters")
    return value


def _origin(value: str) -> str:
    # Browsers send Origin as scheme://host[:port], lower-case, without a path: compare in that form.
    if value == "*":
        return value
    parts = urlsplit(value.strip().rstrip("/").lower())
    port = parts.port  # ValueError for a port that is not one
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"{value!r} is not an origin like https://www.example.com")
    default_port = 443 if parts.scheme == "https" else 80
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default_port else "")


RedirectUrl = Annotated[str, AfterValidator(_redirect_url)]
Origin = Annotated[str, AfterValidator(_origin)]
FormFieldName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
FILL_TOKEN_MAX_AGE_SECONDS = 86_400


class FormOptions(BaseModel):
    """A form endpoint: authentication and delivery id, what a browser gets, CORS and spam defences."""

    # Validated inside FormEndpoint, whose schema holds this one's: no validator of its own unless used alone.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    secret_header: HeaderName = "x-webhook-secret"  # noqa: S105 - a header name, not a secret
    delivery_id_header: HeaderName = "idempotency-key"
    # Browser answers: 303 to these, or the built-in pages when unset.
    success_url: RedirectUrl | None = None
    error_url: RedirectUrl | None = None
    # CORS: the origins whose pages may read the answers (fetch()); "*" alone for any origin, without credentials.
    allowed_origins: tuple[Origin, ...] = ()
    allow_credentials: bool = False
    cors_max_age_seconds: int = Field(default=600, ge=0, le=86_400)
    # Spam defences: a hidden field only bots fill (null disables it), and an optional minimum fill time proven by
    # a signed token the page embeds (see nxbridge.forms.spam).
    honeypot_field: FormFieldName | None = "_gotcha"
    min_fill_seconds: int | None = Field(default=None, ge=1, le=3600)
    fill_token_field: FormFieldName = "_fill_token"  # noqa: S105 - a form field name, not a secret
    fill_token_max_age_seconds: int = Field(default=FILL_TOKEN_MAX_AGE_SECONDS, ge=60, le=30 * 86_400)
    # Name of the fill-token key in the secrets document; default: the endpoint's own secret.
    fill_token_secret: str | None = None
    # Per-endpoint body limit (413), under the function's MAX_BODY_BYTES.
    max_body_bytes: int | None = Field(default=None, ge=1024)
    # Form fields that match no NXCloud field: dropped, or kept in customize_field under their own names.
    unknown_fields: Literal["ignore", "customize"] = "ignore"

    @field_validator("allowed_origins")
    @classmethod
    def _wildcard_alone(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        if "*" in origins and len(origins) > 1:
            raise ValueError('"*" (any origin) cannot be combined with other origins')
        return tuple(dict.fromkeys(origins))

    @model_validator(mode="after")
    def _consistent(self) -> "FormOptions":
        if self.allow_credentials and (not self.allowed_origins or "*" in self.allowed_origins):
            raise ValueError("allow_credentials needs explicit allowed_origins (never the wildcard)")
        if self.min_fill_seconds is not None and self.min_fill_seconds >= self.fill_token_max_age_seconds:
            raise ValueError("min_fill_seconds must be shorter than fill_token_max_age_seconds")
        if self.honeypot_field == self.fill_token_field:
            raise ValueError("honeypot_field and fill_token_field must differ")
        return self
