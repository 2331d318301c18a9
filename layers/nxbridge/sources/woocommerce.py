"""WooCommerce webhooks (``customer.created``, ``customer.updated``; ``order.*`` when configured).

Signed with ``X-WC-Webhook-Signature``: base64 HMAC-SHA256 of the raw body with the webhook's secret. The
delivery id is ``X-WC-Webhook-Delivery-ID``. The body is the REST API (v3) resource, or for webhooks set to the
legacy API v3 ``{"customer": {...}}`` with ``billing_address``/``shipping_address``. When a webhook is created,
WooCommerce first posts an unsigned ``webhook_id=<id>`` form body and saves the webhook only on a 200.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from nxbridge.endpoints import EndpointConfig, Kind, WooCommerceEndpoint
from nxbridge.envelope import EventKind
from nxbridge.sources.base import (
    Candidate,
    EventFacts,
    Ignored,
    Source,
    WebhookRequest,
    apply_mapping,
    as_object,
    event_time,
    join_text,
    require_object,
    search,
    text,
)
from nxbridge.sources.verify import matches_base64_hmac

SIGNATURE_HEADER = "x-wc-webhook-signature"
DELIVERY_ID_HEADER = "x-wc-webhook-delivery-id"
WEBHOOK_ID_HEADER = "x-wc-webhook-id"
TOPIC_HEADER = "x-wc-webhook-topic"
TOPIC_EVENTS: dict[str, EventKind] = {
    "customer.created": "create",
    "customer.updated": "update",
    "customer.deleted": "delete",
}
_PING = re.compile(rb"\s*webhook_id=\d{1,20}\s*")


def _postal(address: dict[str, Any]) -> str | None:
    return join_text(
        address.get("address_1"),
        address.get("address_2"),
        address.get("city"),
        address.get("state"),
        address.get("postcode"),
    )


def map_resource(resource: dict[str, Any]) -> Candidate:
    """The NXCloud view of a WooCommerce customer (or order: its billing contact), REST or legacy API v3."""
    billing = as_object(resource.get("billing")) or as_object(resource.get("billing_address"))
    shipping = as_object(resource.get("shipping")) or as_object(resource.get("shipping_address"))
    first = text(resource.get("first_name")) or text(billing.get("first_name")) or text(shipping.get("first_name"))
    last = text(resource.get("last_name")) or text(billing.get("last_name")) or text(shipping.get("last_name"))
    return {
        "first_name": first,
        "last_name": last,
        "email": text(resource.get("email")) or text(billing.get("email")),
        "phone": text(billing.get("phone")) or text(shipping.get("phone")),
        "country": text(billing.get("country")) or text(shipping.get("country")),
        "address": _postal(billing) or _postal(shipping),
        "remark": text(resource.get("customer_note")),
    }


def unwrap_legacy(body: dict[str, Any]) -> dict[str, Any]:
    """The customer of a legacy API v3 body (``{"customer": {...}}``); a REST resource as it is."""
    legacy = body.get("customer")
    return legacy if isinstance(legacy, dict) else body


class WooCommerceSource(Source):
    """WooCommerce webhooks."""

    kind: ClassVar[Kind] = "woocommerce"

    def is_ping(self, request: WebhookRequest) -> bool:
        """WooCommerce's unsigned creation ping: ``webhook_id=<id>`` and no signature header."""
        return request.header(SIGNATURE_HEADER) is None and _PING.fullmatch(request.body or b"") is not None

    def verify(self, request: WebhookRequest, secrets: Sequence[str], config: EndpointConfig, now: dt.datetime) -> bool:
        """Base64 HMAC-SHA256 of the raw body."""
        return matches_base64_hmac(request.header(SIGNATURE_HEADER), request.body or b"", secrets)

    def delivery_id(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> str | None:
        """``X-WC-Webhook-Delivery-ID``."""
        return request.header(DELIVERY_ID_HEADER)

    def dedupe_key(self, request: WebhookRequest, delivery_id: str | None) -> str | None:
        """Webhook id + delivery id + SHA-256 of the body.

        WooCommerce's delivery id is wp_hash(webhook id . current second): two customers sent by one webhook in the
        same second share it. WooCommerce never retries on its own, so hashing the body cannot split a retry.
        """
        if delivery_id is None:
            return None
        digest = hashlib.sha256(request.body or b"").hexdigest()
        return f"{request.header(WEBHOOK_ID_HEADER) or ''}:{delivery_id}:{digest}"

    def candidates(self, payload: Any, request: WebhookRequest, config: EndpointConfig) -> list[Candidate] | Ignored:
        """One customer; other topics than the endpoint's are ignored."""
        assert isinstance(config, WooCommerceEndpoint)
        topic = request.header(TOPIC_HEADER)
        if topic is not None and topic not in config.woocommerce.topics:
            return Ignored(f"topic {topic!r} is not mapped by this endpoint")
        resource = unwrap_legacy(require_object(payload))
        return [apply_mapping(map_resource(resource), config.mapping, lambda expression: search(expression, resource))]

    def event_facts(self, request: WebhookRequest, payload: Any, config: EndpointConfig) -> EventFacts:
        """``date_modified_gmt`` (UTC without an offset), the topic's event, the resource ``id``."""
        resource = unwrap_legacy(as_object(payload))
        return EventFacts(
            at=event_time(resource.get("date_modified_gmt")),
            event=TOPIC_EVENTS.get(request.header(TOPIC_HEADER) or ""),
            customer_id=text(resource.get("id")),
        )


SOURCE = WooCommerceSource()
