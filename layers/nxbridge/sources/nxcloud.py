"""Bulk imports already in NXCloud's customer shape: ``{"customers": [...]}`` (up to 100) or one customer object.

Signed like Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature`` with a ``whsec_``
secret; the ``svix-*`` names are accepted too); ``webhook-id`` is the delivery id. Customers are validated as
they are: no mapping, no trimming, no dropped contact; the endpoint's defaults still apply.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from nxbridge.endpoints import EndpointConfig, Kind, NxcloudEndpoint
from nxbridge.sources.base import Candidate, Ignored, InvalidPayload, Problem, Source, WebhookRequest, require_object
from nxbridge.sources.verify import STANDARD_ID_HEADERS, verify_standard


class NxcloudSource(Source):
    """Customers in NXCloud's own shape."""

    kind: ClassVar[Kind] = "nxcloud"
    trims_text: ClassVar[bool] = False
    # What the sender asked for, exactly: a phone is not re-read, and a value NXCloud would refuse is a 422.
    normalizes_phones: ClassVar[bool] = False
    drops_unusable_contacts: ClassVar[bool] = False

    def verify(self, request: WebhookRequest, secrets: Sequence[str], config: EndpointConfig, now: dt.datetime) -> bool:
        """Standard Webhooks signature and timestamp tolerance."""
        assert isinstance(config, NxcloudEndpoint)
        return verify_standard(
            request.headers, request.body or b"", secrets, now=now, tolerance_seconds=config.nxcloud.tolerance_seconds
        )

    def delivery_id(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> str | None:
        """``webhook-id`` (or ``svix-id``)."""
        return request.header(*STANDARD_ID_HEADERS)

    def candidates(self, payload: Any, request: WebhookRequest, config: EndpointConfig) -> list[Candidate] | Ignored:
        """The customers as sent."""
        assert isinstance(config, NxcloudEndpoint)
        body = require_object(payload)
        customers = body.get("customers", [body])
        if not isinstance(customers, list):
            raise InvalidPayload([Problem(field="customers", reason="must be a JSON array of customers")])
        limit = config.nxcloud.max_customers
        if not customers or len(customers) > limit:
            raise InvalidPayload([Problem(field="customers", reason=f"must hold 1 to {limit} customers")])
        problems = [
            Problem(field="customer", reason="is not a JSON object", index=i)
            for i, customer in enumerate(customers)
            if not isinstance(customer, dict)
        ]
        if problems:
            raise InvalidPayload(problems)
        return [dict(customer) for customer in customers]


SOURCE = NxcloudSource()
