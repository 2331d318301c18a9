"""Plain website forms: ``application/x-www-form-urlencoded``, ``multipart/form-data`` or a flat JSON object.

A form endpoint is signed by a shared secret sent in a header (``form.secret_header``, compared in constant
time), or unsigned when its ``secret`` is null. The delivery id is the optional ``form.delivery_id_header``
(``Idempotency-Key``). Form fields named like NXCloud's fields (and ``phone``), or like a typical form names them
(``name``, ``tel``, ``mobile``, ``message``, ``tags``), are taken as they are; the endpoint's mapping names the
form field for any other NXCloud field, and ``form.unknown_fields`` keeps the rest in ``customize_field``.
Internal fields (the honeypot, the fill token, any name starting with ``_``) are never mapped by name. Uploaded
files are ignored. The ``form`` options, what a browser gets back, CORS and spam defences are in ``nxbridge.forms``;
this adapter is a source kind like the others (``source_for("form")``).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qs

from nxbridge.endpoints import (
    CUSTOM_FIELD_PREFIX,
    FORM_FIELD_ALIASES,
    MAPPABLE_FIELDS,
    PHONE,
    EndpointConfig,
    FormEndpoint,
    Kind,
)
from nxbridge.forms import FormOptions
from nxbridge.sources.base import (
    JSON_MEDIA_TYPES,
    Candidate,
    EventFacts,
    Ignored,
    MalformedPayload,
    Source,
    WebhookRequest,
    apply_mapping,
    parse_json,
    text,
)

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
MAX_FIELDS = 1000

FormData = dict[str, str | list[str]]
# Where a mapping target is looked for by default, in order: its NXCloud name first, then the typical form names.
DEFAULT_SOURCES: dict[str, tuple[str, ...]] = {
    target: (target, *(name for name, aliased in FORM_FIELD_ALIASES.items() if aliased == target))
    for target in sorted(MAPPABLE_FIELDS)
}


def _collect(pairs: list[tuple[str, str]]) -> FormData:
    data: dict[str, list[str]] = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in data.items()}


def parse_urlencoded(body: bytes) -> FormData:
    """Fields of a urlencoded body (repeated names become lists)."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise MalformedPayload("the body is not a UTF-8 urlencoded form") from None
    return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}


def parse_multipart(content_type: str, body: bytes) -> FormData:
    """Text fields of a multipart/form-data body (file parts are skipped)."""
    # Only form endpoints need a MIME parser: imported here to keep the other kinds' cold start small.
    from email import policy  # noqa: PLC0415
    from email.parser import BytesParser  # noqa: PLC0415

    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("utf-8", "replace")
    try:
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        if not message.is_multipart():
            raise MalformedPayload("the body is not multipart/form-data with a boundary")
        pairs: list[tuple[str, str]] = []
        for part in message.iter_parts():
            if part.get_content_disposition() != "form-data" or part.get_filename() is not None:
                continue
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(name, str) or not isinstance(payload, bytes):
                continue
            pairs.append((name, payload.decode(part.get_content_charset() or "utf-8")))
            if len(pairs) > MAX_FIELDS:
                raise MalformedPayload("the form has too many fields")
    except (ValueError, LookupError, TypeError, IndexError, AttributeError):
        # The stdlib MIME parser signals malformed input with a variety of exceptions.
        raise MalformedPayload("the body is not valid multipart/form-data") from None
    return _collect(pairs)


def parse_json_form(body: bytes) -> FormData:
    """A flat JSON object of form fields (what a ``fetch()`` with a JSON body sends)."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise MalformedPayload("the body must be a JSON object of form fields")
    form: FormData = {}
    for name, value in payload.items():
        if isinstance(value, list):
            form[name] = [str(v) for v in value if isinstance(v, str | int | float) and not isinstance(v, bool)]
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            form[name] = str(value)
    return form


class FormSource(Source):
    """Website form posts."""

    kind: ClassVar[Kind] = "form"
    media_types: ClassVar[frozenset[str]] = frozenset({URLENCODED, MULTIPART}) | JSON_MEDIA_TYPES
    # A person is there to read the answer ("e-mail is not valid") and correct it: nothing they typed is dropped.
    drops_unusable_contacts: ClassVar[bool] = False

    def accepts(self, media_type: str | None) -> bool:
        """Forms must say what they are: there is no default encoding to guess."""
        return media_type is not None and super().accepts(media_type)

    def verify(self, request: WebhookRequest, secrets: Sequence[str], config: EndpointConfig, now: dt.datetime) -> bool:
        """The shared secret in the endpoint's secret header."""
        assert isinstance(config, FormEndpoint)
        received = request.header(config.form.secret_header)
        if received is None:
            return False
        matched = False
        for secret in secrets:
            matched |= hmac.compare_digest(received.encode("utf-8"), secret.encode("utf-8"))
        return matched

    def parse(self, request: WebhookRequest, config: EndpointConfig) -> FormData:
        """The form's fields."""
        body = request.body or b""
        if request.media_type == URLENCODED:
            return parse_urlencoded(body)
        if request.media_type == MULTIPART:
            return parse_multipart(request.header("content-type") or MULTIPART, body)
        return parse_json_form(body)

    def delivery_id(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> str | None:
        """The optional ``Idempotency-Key`` header (or the endpoint's own header)."""
        assert isinstance(config, FormEndpoint)
        return request.header(config.form.delivery_id_header)

    def candidates(self, payload: Any, request: WebhookRequest, config: EndpointConfig) -> list[Candidate] | Ignored:
        """One customer per post: fields by their default names, then the mapping, then (optionally) the rest."""
        assert isinstance(config, FormEndpoint)
        form: FormData = payload
        candidate: Candidate = {}
        used: set[str] = set(config.mapping.values())
        for target, names in DEFAULT_SOURCES.items():
            name = _first_filled(form, names, config.form)
            if name is not None:
                candidate[target] = form[name]
                used.add(name)
        candidate = apply_mapping(candidate, config.mapping, form.get)
        if config.form.unknown_fields == "customize":
            _keep_unknown(candidate, form, used, config.form)
        return [candidate]

    def event_facts(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> EventFacts:
        """A post is a submission, made when it was received."""
        return EventFacts(event="submit")


def is_internal(name: str, options: FormOptions) -> bool:
    """Whether a form field is for the bridge, not the customer: the honeypot, the fill token, any ``_name``."""
    return name.startswith("_") or name in (options.honeypot_field, options.fill_token_field)


def is_filled(value: str | list[str] | None) -> bool:
    """Whether a form value holds more than whitespace."""
    return bool(value.strip()) if isinstance(value, str) else bool(value and any(v.strip() for v in value))


def _first_filled(form: FormData, names: Sequence[str], options: FormOptions) -> str | None:
    return next((n for n in names if not is_internal(n, options) and is_filled(form.get(n))), None)


def _keep_unknown(candidate: Candidate, form: FormData, used: set[str], options: FormOptions) -> None:
    unknown = {
        name: ", ".join(t for t in (text(v) for v in ([value] if isinstance(value, str) else value)) if t)
        for name, value in form.items()
        if name not in used and not is_internal(name, options) and is_filled(value)
    }
    if not unknown:
        return
    own = candidate.get("customize_field")
    if isinstance(own, str):
        try:
            own = json.loads(own)
        except ValueError:
            return  # not an object: left as it is, so that validation reports it
    if own is None or isinstance(own, dict):
        # Explicitly mapped keys win over same-named leftovers.
        candidate["customize_field"] = {**unknown, **(own or {})}


def field_of(target: str, form: FormData, config: FormEndpoint) -> str:
    """The form field an NXCloud field's value came from (to name it in an error), else the NXCloud name."""
    mapped = config.mapping.get(target)
    if mapped is not None and is_filled(form.get(mapped)):
        return mapped
    if target in config.phone_fields and _first_filled(form, DEFAULT_SOURCES[target], config.form) is None:
        return field_of(PHONE, form, config)
    if target.startswith(CUSTOM_FIELD_PREFIX) or target not in DEFAULT_SOURCES:
        return target
    return _first_filled(form, DEFAULT_SOURCES[target], config.form) or mapped or target


SOURCE = FormSource()
