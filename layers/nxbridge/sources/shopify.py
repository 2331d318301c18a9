"""Shopify ``customers/create`` and ``customers/update`` webhooks.

Signed with ``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256 of the raw body with the app's client secret (or,
for webhooks created in the admin, the secret shown under Settings > Notifications > Webhooks). The delivery id
is ``X-Shopify-Webhook-Id``, the same on every retry. The body is the REST customer resource.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

from nxbridge.endpoints import EndpointConfig, Kind, ShopifyEndpoint
from nxbridge.envelope import EventKind
from nxbridge.sources.base import (
    Candidate,
    EventFacts,
    Ignored,
    PrivacyNotice,
    Source,
    WebhookRequest,
    apply_mapping,
    as_list,
    as_object,
    event_time,
    join_text,
    require_object,
    search,
    text,
)
from nxbridge.sources.verify import matches_base64_hmac

# Shopify's newer Events deliveries drop the X- prefix; both spellings are accepted.
SIGNATURE_HEADERS = ("x-shopify-hmac-sha256", "shopify-hmac-sha256")
DELIVERY_ID_HEADERS = ("x-shopify-webhook-id", "shopify-webhook-id", "x-shopify-event-id", "shopify-event-id")
TOPIC_HEADERS = ("x-shopify-topic", "shopify-topic")
TRIGGERED_AT_HEADERS = ("x-shopify-triggered-at", "shopify-triggered-at")
TOPIC_EVENTS: dict[str, EventKind] = {
    "customers/create": "create",
    "customers/update": "update",
    "customers/delete": "delete",
}
# The mandatory compliance topics (every App Store app answers them) and the deletion notice: no customer to map.
PRIVACY_TOPICS = frozenset({"customers/redact", "customers/data_request", "shop/redact", "customers/delete"})


def _address(customer: dict[str, Any]) -> dict[str, Any]:
    address = as_object(customer.get("default_address"))
    if address:
        return address
    addresses = [a for a in as_list(customer.get("addresses")) if isinstance(a, dict)]
    return next((a for a in addresses if a.get("default")), addresses[0] if addresses else {})


def map_customer(customer: dict[str, Any]) -> Candidate:
    """The NXCloud view of a Shopify customer resource (before the endpoint's own mapping)."""
    address = _address(customer)
    first = text(customer.get("first_name")) or text(address.get("first_name"))
    last = text(customer.get("last_name")) or text(address.get("last_name"))
    addresses = as_list(customer.get("addresses"))
    phone = (
        text(customer.get("phone"))
        or text(address.get("phone"))
        or next((p for p in (text(as_object(a).get("phone")) for a in addresses) if p), None)
    )
    return {
        "first_name": first,
        "last_name": last,
        "full_name": join_text(first, last, sep=" ") or text(address.get("name")),
        "email": text(customer.get("email")),
        "phone": phone,
        # Customer tags are a comma-separated string (API versions before 2025-01 include them).
        "tagStr": text(customer.get("tags")),
        "remark": text(customer.get("note")),
        # The ISO code first: it is what reads the address's national phone number, and it is never translated.
        "country": text(address.get("country_code")) or text(address.get("country")),
        "address": join_text(
            address.get("address1"),
            address.get("address2"),
            address.get("city"),
            address.get("province"),
            address.get("zip"),
        ),
    }


class ShopifySource(Source):
    """Shopify customer webhooks."""

    kind: ClassVar[Kind] = "shopify"

    def verify(self, request: WebhookRequest, secrets: Sequence[str], config: EndpointConfig, now: dt.datetime) -> bool:
        """Base64 HMAC-SHA256 of the raw body."""
        return matches_base64_hmac(request.header(*SIGNATURE_HEADERS), request.body or b"", secrets)

    def delivery_id(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> str | None:
        """``X-Shopify-Webhook-Id``."""
        return request.header(*DELIVERY_ID_HEADERS)

    def candidates(self, payload: Any, request: WebhookRequest, config: EndpointConfig) -> list[Candidate] | Ignored:
        """One customer; other topics than the endpoint's are ignored."""
        assert isinstance(config, ShopifyEndpoint)
        topic = request.header(*TOPIC_HEADERS)
        if topic is not None and topic not in config.shopify.topics:
            return Ignored(f"topic {topic!r} is not mapped by this endpoint")
        customer = require_object(payload)
        return [apply_mapping(map_customer(customer), config.mapping, lambda expression: search(expression, customer))]

    def event_facts(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> EventFacts:
        """The resource's ``updated_at`` (else ``X-Shopify-Triggered-At``), the topic's event, the customer ``id``."""
        customer = as_object(payload)
        return EventFacts(
            at=event_time(customer.get("updated_at")) or event_time(request.header(*TRIGGERED_AT_HEADERS)),
            event=TOPIC_EVENTS.get(request.header(*TOPIC_HEADERS) or ""),
            customer_id=text(customer.get("id")),
        )

    def privacy_notice(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> PrivacyNotice | None:
        """``customers/redact``, ``customers/data_request``, ``shop/redact`` and ``customers/delete``."""
        topic = request.header(*TOPIC_HEADERS)
        if topic not in PRIVACY_TOPICS:
            return None
        body = require_object(payload)
        # The compliance payloads name the customer under "customer"; customers/delete is the customer itself.
        customer = body if topic == "customers/delete" else as_object(body.get("customer"))
        return PrivacyNotice(topic, text(customer.get("id")), text(customer.get("email")), text(customer.get("phone")))


SOURCE = ShopifySource()
