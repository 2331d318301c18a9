"""Any sender that implements the Standard Webhooks spec (https://www.standardwebhooks.com).

Signed with ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (a space-separated list of
``v1,<base64>``) over ``{id}.{timestamp}.{body}``, with a ``whsec_`` + base64 secret and a 5-minute tolerance
(senders built on Svix name them ``svix-id``, ``svix-timestamp``, ``svix-signature``). The delivery id is
``webhook-id``. The JSON body holds one customer record, or a list found by the endpoint's
``standard.records`` JMESPath; each record is mapped with the endpoint's JMESPath mapping (fields named like
NXCloud's, and ``phone``, are taken as they are).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from nxbridge.endpoints import MAPPABLE_FIELDS, EndpointConfig, Kind, StandardEndpoint
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
from nxbridge.sources.verify import STANDARD_ID_HEADERS, STANDARD_TIMESTAMP_HEADERS, verify_standard


def records_of(payload: Any, records: str | None) -> list[Any]:
    """The customer records: the body itself, or the list the ``records`` expression finds."""
    if records is None:
        return [payload]
    found = search(records, payload)
    if found is None:
        raise InvalidPayload([Problem(field="records", reason=f"{records!r} finds nothing in the body")])
    return found if isinstance(found, list) else [found]


def map_records(payload: Any, mapping: dict[str, str], records: str | None) -> list[Candidate]:
    """Each record mapped: same-named fields as they are, then the mapping's expressions."""
    found = records_of(payload, records)
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


def _map_record(record: dict[str, Any], mapping: dict[str, str]) -> Candidate:
    candidate: Candidate = {key: value for key, value in record.items() if key in MAPPABLE_FIELDS}
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
