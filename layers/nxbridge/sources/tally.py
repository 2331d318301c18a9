"""Tally ``FORM_RESPONSE`` webhooks.

Signed (when the webhook has a signing secret) with ``Tally-Signature``: base64 HMAC-SHA256 of the raw body.
The delivery id is the body's ``eventId``. Each of ``data.fields`` has a ``key``, a ``label``, a ``type`` and a
``value``; choice fields give option ids and list the ``options`` (id, text) beside them, and the texts are what
gets mapped. The endpoint's mapping names fields by key or by label; without a mapping the first e-mail and
phone-number fields are used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from nxbridge.endpoints import PHONE, EndpointConfig, Kind, TallyEndpoint
from nxbridge.sources.base import (
    Candidate,
    EventFacts,
    Ignored,
    MalformedPayload,
    Source,
    WebhookRequest,
    apply_mapping,
    as_list,
    as_object,
    event_time,
    require_object,
    text,
)
from nxbridge.sources.verify import matches_base64_hmac

SIGNATURE_HEADER = "tally-signature"


def field_value(field: dict[str, Any]) -> Any:
    """A field's value with option ids replaced by option texts and uploads by their URLs."""
    value = field.get("value")
    options = {
        option.get("id"): option.get("text")
        for option in as_list(field.get("options"))
        if isinstance(option, dict) and isinstance(option.get("id"), str)
    }
    if isinstance(value, list):
        resolved = []
        for item in value:
            if isinstance(item, dict):
                resolved.append(item.get("url") or item.get("name"))
            else:
                resolved.append(options.get(item, item) if isinstance(item, str) else item)
        return resolved
    if isinstance(value, str) and value in options:
        return options[value]
    return value


class _Fields:
    def __init__(self, fields: list[Any]) -> None:
        self.by_key: dict[str, Any] = {}
        self.by_label: dict[str, Any] = {}
        self.by_folded_label: dict[str, Any] = {}
        self.first_of_type: dict[str, Any] = {}
        for field in fields:
            if not isinstance(field, dict):
                continue
            value = field_value(field)
            if isinstance(field.get("key"), str):
                self.by_key.setdefault(field["key"], value)
            label = field.get("label")
            if isinstance(label, str):
                self.by_label.setdefault(label, value)
                self.by_folded_label.setdefault(label.strip().casefold(), value)
            kind = field.get("type")
            if isinstance(kind, str) and value not in (None, "", []):
                self.first_of_type.setdefault(kind, value)

    def lookup(self, source: str) -> Any:
        for index, key in ((self.by_key, source), (self.by_label, source), (self.by_folded_label, source.casefold())):
            if key in index:
                return index[key]
        return None


class TallySource(Source):
    """Tally form responses."""

    kind: ClassVar[Kind] = "tally"

    def verify(self, request: WebhookRequest, secrets: Sequence[str], config: EndpointConfig, now: dt.datetime) -> bool:
        """Base64 HMAC-SHA256 of the raw body."""
        return matches_base64_hmac(request.header(SIGNATURE_HEADER), request.body or b"", secrets)

    def delivery_id(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> str | None:
        """The body's ``eventId``."""
        return text(as_object(payload).get("eventId"))

    def candidates(self, payload: Any, request: WebhookRequest, config: EndpointConfig) -> list[Candidate] | Ignored:
        """One customer per form response."""
        assert isinstance(config, TallyEndpoint)
        event = require_object(payload)
        event_type = event.get("eventType")
        if event_type not in config.tally.event_types:
            return Ignored(f"eventType {text(event_type)!r} is not mapped by this endpoint")
        fields = as_object(event.get("data")).get("fields")
        if not isinstance(fields, list):
            raise MalformedPayload("data.fields must be a JSON array")
        answers = _Fields(fields)
        candidate: Candidate = {
            "email": answers.first_of_type.get("INPUT_EMAIL"),
            PHONE: answers.first_of_type.get("INPUT_PHONE_NUMBER"),
        }
        return [apply_mapping(candidate, config.mapping, answers.lookup)]

    def event_facts(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> EventFacts:
        """``createdAt`` of the event (or of its ``data``); a response is a submission."""
        event = as_object(payload)
        created = event.get("createdAt") or as_object(event.get("data")).get("createdAt")
        return EventFacts(at=event_time(created), event="submit")


SOURCE = TallySource()
