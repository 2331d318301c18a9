"""Any sender that implements the Standard Webhooks spec (https://www.standardwebhooks.com).

Signed with ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (a space-separated list of
``v1,<base64>``) over ``{id}.{timestamp}.{body}``, with a ``whsec_`` + base64 secret and a 5-minute tolerance
(senders built on Svix name them ``svix-id``, ``svix-timestamp``, ``svix-signature``). The delivery id is
``webhook-id``. The JSON body holds one customer record, or a list found by the endpoint's
``standard.records`` JMESPath; each record is mapped with the endpoint's JMESPath mapping. Fields named like
NXCloud's or as a typical form names them (``name``, ``phone``, ``mobile``, ``tel``, ...) are taken as the form kind
takes them. Without a mapping or ``records``, a body in the spec's own shape (``{"type", "timestamp", "data"}``)
holds its record in ``data``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from nxbridge.endpoints import EndpointConfig, Kind, StandardEndpoint
from nxbridge.sources.base import (
    Candidate,
    EventFacts,
    Ignored,
    InvalidPayload,
    Problem,
    Source,
    WebhookRequest,
    apply_mapping,
    event_time,
    search,
)
from nxbridge.sources.form import DEFAULT_SOURCES
from nxbridge.sources.verify import STANDARD_ID_HEADERS, STANDARD_TIMESTAMP_HEADERS, verify_standard


def records_of(payload: Any, records: str | None, *, spec_shape: bool = False) -> list[Any]:
    """The customer records: the list the ``records`` expression finds, else the body itself (or, with
    ``spec_shape``, the ``data`` object of a body in the spec's ``{"type", "timestamp", "data"}`` shape)."""
    if records is None:
        if spec_shape and _is_spec_shaped(payload):
            return [payload["data"]]
        return [payload]
    found = search(records, payload)
    if found is None:
        raise InvalidPayload([Problem(field="records", reason=f"{records!r} finds nothing in the body")])
    return found if isinstance(found, list) else [found]


def _is_spec_shaped(payload: Any) -> bool:
    return isinstance(payload, dict) and isinstance(payload.get("type"), str) and isinstance(payload.get("data"), dict)


def map_records(payload: Any, mapping: dict[str, str], records: str | None) -> list[Candidate]:
    """Each record mapped: fields by their NXCloud or typical form names, then the mapping's expressions."""
    found = records_of(payload, records, spec_shape=not mapping)
    problems = [
        Problem(field="record", reason="is not a JSON object", index=i)
        for i, r in enumerate(found)
        if not isinstance(r, dict)
    ]
    if problems:
        raise InvalidPayload(problems)
    if not found:
        raise InvalidPayload([Problem(field="records", reason="the body holds no customer record")])
    return [_map_record(record, mapping) for record in found]


# Record field name → (NXCloud target, rank): the form kind's names, walked from the record's side (a record has
# a few fields, the targets are many).
_TARGET_OF: dict[str, tuple[str, int]] = {
    name: (target, rank) for target, names in DEFAULT_SOURCES.items() for rank, name in enumerate(names)
}


def _map_record(record: dict[str, Any], mapping: dict[str, str]) -> Candidate:
    candidate: Candidate = {}
    ranks: dict[str, int] = {}
    for name, value in record.items():
        found = _TARGET_OF.get(name)
        if found is None or value in (None, "", [], {}):
            continue
        target, rank = found
        best = ranks.get(target)
        if best is None or rank < best:
            candidate[target], ranks[target] = value, rank
    return apply_mapping(candidate, mapping, lambda expression: search(expression, record))


class StandardSource(Source):
    """Standard Webhooks senders."""

    kind: ClassVar[Kind] = "standard"

    def verify(self, request: WebhookRequest, secrets: Sequence[str], config: EndpointConfig, now: dt.datetime) -> bool:
        """Standard Webhooks signature and timestamp tolerance."""
        assert isinstance(config, StandardEndpoint)
        return verify_standard(
            request.headers, request.body or b"", secrets, now=now, tolerance_seconds=config.standard.tolerance_seconds
        )

    def delivery_id(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> str | None:
        """``webhook-id`` (or ``svix-id``)."""
        return request.header(*STANDARD_ID_HEADERS)

    def candidates(self, payload: Any, request: WebhookRequest, config: EndpointConfig) -> list[Candidate] | Ignored:
        """One customer per record."""
        assert isinstance(config, StandardEndpoint)
        return map_records(payload, config.mapping, config.standard.records)

    def event_facts(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> EventFacts:
        """``webhook-timestamp`` (signed, within the tolerance)."""
        return EventFacts(at=event_time(request.header(*STANDARD_TIMESTAMP_HEADERS)))


SOURCE = StandardSource()
