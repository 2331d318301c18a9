"""A record as the webhook request its endpoint's kind receives: the body and the headers the platform would send.

The request then takes the webhooks' own path (``nxbridge.ingest.pipeline.customer_messages``) with the payload its
body would decode to; nothing is signed (the file is the operator's) and the ingest's delivery ledger is not used (the
import keeps its own progress).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

from nxbridge.endpoints import Endpoint, ShopifyEndpoint, WooCommerceEndpoint
from nxbridge.importer.formats import Payload
from nxbridge.sources import WebhookRequest

# The topic an import is sent as, in order of preference: a record of the file is the customer as it is now.
SHOPIFY_TOPICS = ("customers/update", "customers/create")
WOOCOMMERCE_TOPICS = ("customer.updated", "customer.created")


def import_topic(endpoint: Endpoint) -> str | None:
    """The customer topic the endpoint maps that an import is sent as (None for kinds without topics).

    ValueError when the endpoint maps no customer topic: each record would be ignored.
    """
    config = endpoint.config
    if isinstance(config, ShopifyEndpoint):
        mapped, preferred = config.shopify.topics, SHOPIFY_TOPICS
    elif isinstance(config, WooCommerceEndpoint):
        mapped, preferred = config.woocommerce.topics, WOOCOMMERCE_TOPICS
    else:
        return None
    topic = next((t for t in preferred if t in mapped), None)
    if topic is None:
        raise ValueError(f"endpoint {endpoint.name!r} maps none of the topics {', '.join(preferred)}")
    return topic


def delivery_id(import_id: str, number: int) -> str:
    """The delivery id of record ``number`` of an import: the same on every run, so a DLQ record names its row."""
    return f"import-{import_id}-{number}"


def import_request(
    endpoint: Endpoint,
    topic: str | None,
    payload: Payload,
    *,
    delivery: str,
    received_at: dt.datetime,
    encoded: bool = True,
) -> WebhookRequest:
    """The webhook request that carries ``payload`` to ``endpoint``, with the event time where its kind sends one.

    ``encoded=False`` leaves the body out (None): the importer hands the pipeline ``payload.body`` itself, which is
    what the body decodes to (the readers' payloads are JSON values), and spares each row a JSON round trip.
    """
    body = json.dumps(payload.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8") if encoded else None
    headers = {"content-type": "application/json", **_headers(endpoint, topic, delivery, payload.event_at)}
    return WebhookRequest(
        endpoint=endpoint.name,
        method="POST",
        headers=headers,
        body=body,
        request_id=delivery,
        received_at=received_at,
    )


def _headers(endpoint: Endpoint, topic: str | None, delivery: str, event_at: str) -> Mapping[str, str]:
    kind = endpoint.kind
    if kind == "shopify":
        # Shopify names the moment the change happened X-Shopify-Triggered-At.
        return {"x-shopify-topic": topic or "", "x-shopify-webhook-id": delivery, "x-shopify-triggered-at": event_at}
    if kind == "woocommerce":
        resource, _, event = (topic or "").partition(".")
        return {
            "x-wc-webhook-topic": topic or "",
            "x-wc-webhook-resource": resource,
            "x-wc-webhook-event": event,
            "x-wc-webhook-delivery-id": delivery,
        }
    # Standard Webhooks senders (and the nxcloud kind) date a delivery with webhook-timestamp, in Unix seconds.
    stamp = dt.datetime.fromisoformat(event_at.replace("Z", "+00:00"))
    return {"webhook-id": delivery, "webhook-timestamp": str(int(stamp.timestamp()))}
