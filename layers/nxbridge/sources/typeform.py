"""Typeform ``form_response`` webhooks.

Signed with ``Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>`` under the webhook's secret. The
delivery id is the body's ``event_id``. Answers are joined to ``form_response.definition.fields`` by field id, so
that the endpoint's mapping can name questions by their ``ref`` (or id); without a mapping the first e-mail and
phone-number answers are used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from nxbridge.endpoints import PHONE, EndpointConfig, Kind, TypeformEndpoint
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

SIGNATURE_HEADER = "typeform-signature"
SIGNATURE_PREFIX = "sha256="
HIDDEN_PREFIX = "hidden."
VARIABLES_PREFIX = "variables."


def answer_value(answer: dict[str, Any]) -> Any:
    """The value of one answer by its type: text, email, phone_number, date, number, boolean, url, file_url,
    choice (its label, or the "other" text) and choices (the list of labels)."""
    kind = answer.get("type")
    if kind == "choice":
        choice = as_object(answer.get("choice"))
        return text(choice.get("label")) or text(choice.get("other"))
    if kind == "choices":
        choices = as_object(answer.get("choices"))
        labels = [text(label) for label in as_list(choices.get("labels")) if text(label)]
        other = text(choices.get("other"))
        return [*labels, other] if other else labels
    if isinstance(kind, str) and kind in answer:
        value = answer[kind]
        return value if isinstance(value, str | int | float | list) else None
    return None


class _Answers:
    def __init__(self, form_response: dict[str, Any]) -> None:
        definition = as_object(form_response.get("definition"))
        refs = {
            field.get("id"): field.get("ref")
            for field in as_list(definition.get("fields"))
            if isinstance(field, dict) and isinstance(field.get("id"), str)
        }
        self.by_key: dict[str, Any] = {}
        self.first_of_type: dict[str, Any] = {}
        for answer in as_list(form_response.get("answers")):
            if not isinstance(answer, dict):
                continue
            field = as_object(answer.get("field"))
            value = answer_value(answer)
            field_id = field.get("id") if isinstance(field.get("id"), str) else None
            ref = field.get("ref") if isinstance(field.get("ref"), str) else refs.get(field_id)
            for key in (ref, field_id):
                if isinstance(key, str):
                    self.by_key.setdefault(key, value)
            kind = answer.get("type")
            if isinstance(kind, str) and value is not None:
                self.first_of_type.setdefault(kind, value)
        self.hidden = as_object(form_response.get("hidden"))
        self.variables = {
            v.get("key"): v.get(v.get("type")) if isinstance(v.get("type"), str) else None
            for v in as_list(form_response.get("variables"))
            if isinstance(v, dict) and isinstance(v.get("key"), str)
        }

    def lookup(self, source: str) -> Any:
        if source.startswith(HIDDEN_PREFIX):
            return self.hidden.get(source.removeprefix(HIDDEN_PREFIX))
        if source.startswith(VARIABLES_PREFIX):
            return self.variables.get(source.removeprefix(VARIABLES_PREFIX))
        return self.by_key.get(source)


class TypeformSource(Source):
    """Typeform form responses."""

    kind: ClassVar[Kind] = "typeform"

    def verify(self, request: WebhookRequest, secrets: Sequence[str], config: EndpointConfig, now: dt.datetime) -> bool:
        """``sha256=`` + base64 HMAC-SHA256 of the raw body."""
        return matches_base64_hmac(
            request.header(SIGNATURE_HEADER), request.body or b"", secrets, prefix=SIGNATURE_PREFIX
        )

    def delivery_id(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> str | None:
        """The body's ``event_id``."""
        return text(as_object(payload).get("event_id"))

    def candidates(self, payload: Any, request: WebhookRequest, config: EndpointConfig) -> list[Candidate] | Ignored:
        """One customer per form response."""
        assert isinstance(config, TypeformEndpoint)
        event = require_object(payload)
        event_type = event.get("event_type")
        if event_type not in config.typeform.event_types:
            return Ignored(f"event_type {text(event_type)!r} is not mapped by this endpoint")
        form_response = event.get("form_response")
        if not isinstance(form_response, dict):
            raise MalformedPayload("form_response must be a JSON object")
        answers = _Answers(form_response)
        candidate: Candidate = {
            "email": answers.first_of_type.get("email"),
            PHONE: answers.first_of_type.get("phone_number"),
        }
        return [apply_mapping(candidate, config.mapping, answers.lookup)]

    def event_facts(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> EventFacts:
        """``form_response.submitted_at``; a response is a submission."""
        submitted = as_object(as_object(payload).get("form_response")).get("submitted_at")
        return EventFacts(at=event_time(submitted), event="submit")


SOURCE = TypeformSource()
