"""Distinct, correctly signed webhook deliveries made from the samples in events/api/.

Each delivery is a sample with a fresh delivery id, its e-mail addresses and phone numbers varied so that every
delivery carries customers NXCloud has not seen (the simulator upserts by contact), and a fresh signature with
the endpoint's documented local secret (events/webhook-secrets.json), the way events/make_events.py signs them.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib.util
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bench.common import EVENTS
from nxbridge.endpoints import EndpointsDocument, parse_endpoints, parse_secrets
from nxbridge.sources import WebhookRequest
from nxbridge.sources.verify import base64_hmac, standard_signature

# Set by API Gateway on the way in: not part of what a provider sends.
GATEWAY_HEADERS = frozenset(
    {"host", "content-length", "x-amzn-trace-id", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
)
# Headers that carry the delivery id, per source (see each source's ``delivery_id``).
DELIVERY_ID_HEADERS = ("x-shopify-webhook-id", "x-shopify-event-id", "x-wc-webhook-delivery-id", "webhook-id")
# Body fields that carry the delivery id (Typeform, Tally).
DELIVERY_ID_FIELDS = ("event_id", "eventId")
_EMAIL = re.compile(r"([^@\s]+)@([^@\s]+\.[^@\s]+)")
_PHONE = re.compile(r"\+?[\d\s().-]+")
PHONE_DIGITS_VARIED = 6


@cache
def make_events() -> ModuleType:
    """events/make_events.py (a script, not a package module), for its API Gateway event builder."""
    spec = importlib.util.spec_from_file_location("bench_make_events", EVENTS / "make_events.py")
    if spec is None or spec.loader is None:
        raise ImportError("cannot load events/make_events.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Delivery:
    """One webhook request as the provider sends it."""

    kind: str
    endpoint: str
    headers: dict[str, str]
    body: bytes
    customers: int
    delivery_id: str | None

    @property
    def path(self) -> str:
        """``/webhooks/<endpoint>``."""
        return f"/webhooks/{self.endpoint}"

    def request(self, request_id: str, received_at: dt.datetime) -> WebhookRequest:
        """The transport-independent request the ingest logic takes."""
        return WebhookRequest(
            endpoint=self.endpoint,
            method="POST",
            headers=self.headers,
            body=self.body,
            request_id=request_id,
            received_at=received_at,
        )

    def event(self, request_id: str, at: dt.datetime) -> dict[str, Any]:
        """The API Gateway HTTP API (payload 2.0) event IngestFunction receives for it."""
        event: dict[str, Any] = make_events().api_event(
            self.endpoint,
            self.body,
            self.headers,
            request_id=request_id,
            at=at,
            source_ip="203.0.113.10",
            base64_body=self.kind == "form",
        )
        return event


def vary_identity(value: str, n: int) -> str:
    """An e-mail gets a ``+b<n>`` tag; a phone number (9+ digits) gets its last digits replaced by ``n``."""
    email = _EMAIL.fullmatch(value)
    if email:
        return f"{email[1]}+b{n}@{email[2]}"
    if _PHONE.fullmatch(value) and sum(c.isdigit() for c in value) >= 9:
        digits = list(f"{n:0{PHONE_DIGITS_VARIED}d}"[-PHONE_DIGITS_VARIED:])
        chars = list(value)
        for position in range(len(chars) - 1, -1, -1):
            if not digits:
                break
            if chars[position].isdigit():
                chars[position] = digits.pop()
        return "".join(chars)
    return value


def _vary(value: Any, n: int) -> Any:
    if isinstance(value, str):
        return vary_identity(value, n)
    if isinstance(value, list):
        return [_vary(item, n) for item in value]
    if isinstance(value, dict):
        return {key: _vary(item, n) for key, item in value.items()}
    return value


class DeliveryFactory:
    """Makes delivery ``n`` of a kind from its sample (events/api/<kind>.json)."""

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.endpoints: EndpointsDocument = parse_endpoints((EVENTS / "endpoints.json").read_text(encoding="utf-8"))
        self.secrets = parse_secrets((EVENTS / "webhook-secrets.json").read_text(encoding="utf-8"))
        self.samples: dict[str, Mapping[str, Any]] = {
            path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted((EVENTS / "api").glob("*.json"))
        }

    @property
    def kinds(self) -> list[str]:
        """The sample kinds (one per file in events/api/)."""
        return list(self.samples)

    def make(self, kind: str, n: int, now: dt.datetime) -> Delivery:
        """Delivery ``n`` of ``kind``: fresh ids, customers unique to ``n``, signed at ``now``."""
        event = self.samples[kind]
        endpoint = (event.get("pathParameters") or {})["endpoint"]
        raw = event.get("body") or ""
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
        headers = {k.lower(): str(v) for k, v in event["headers"].items() if k.lower() not in GATEWAY_HEADERS}
        fresh_id = f"bench-{self.run_id}-{kind}-{n}"
        delivery_id: str | None = None
        for name in DELIVERY_ID_HEADERS:
            if name in headers:
                headers[name] = delivery_id = fresh_id
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            fields = [(key, vary_identity(value, n)) for key, value in parse_qsl(body.decode(), keep_blank_values=True)]
            body = urlencode(fields).encode("ascii")
            customers = 1
        else:
            payload = _vary(json.loads(body), n)
            for name in DELIVERY_ID_FIELDS:
                if name in payload:
                    payload[name] = delivery_id = fresh_id
            customers = len(payload["customers"]) if isinstance(payload.get("customers"), list) else 1
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        configured = self.endpoints.get(endpoint)
        secret_name = configured.secret_name if configured is not None else None
        if secret_name is not None:
            headers = sign(headers, body, self.secrets[secret_name][0], now)
        return Delivery(kind, endpoint, headers, body, customers, delivery_id)


def sign(headers: dict[str, str], body: bytes, secret: str, now: dt.datetime) -> dict[str, str]:
    """``headers`` with the kind's signature over ``body`` (the kind is recognised by its signature header)."""
    signed = dict(headers)
    if "webhook-signature" in signed:
        timestamp = int(now.timestamp())
        signed["webhook-timestamp"] = str(timestamp)
        signed["webhook-signature"] = standard_signature(secret, signed["webhook-id"], timestamp, body)
    elif "typeform-signature" in signed:
        signed["typeform-signature"] = "sha256=" + base64_hmac(secret, body)
    elif "x-webhook-secret" in signed:
        signed["x-webhook-secret"] = secret
    else:
        for name in ("x-shopify-hmac-sha256", "x-wc-webhook-signature", "tally-signature"):
            if name in signed:
                signed[name] = base64_hmac(secret, body)
    return signed


def distinct(factory: DeliveryFactory, kind: str, n: int, now: dt.datetime) -> Delivery:
    """Delivery ``n`` of ``kind`` whose customers are no other delivery's: the source's customer id varies with
    ``n`` too (newest wins would otherwise supersede one delivery's customer by the next one's)."""
    delivery = factory.make(kind, n, now)
    try:
        payload = json.loads(delivery.body)
    except ValueError:
        return delivery
    holders = [payload, payload.get("data")] if isinstance(payload, dict) else []
    varied = False
    for holder in (h for h in holders if isinstance(h, dict) and "id" in h):
        holder["id"] = holder["id"] * 1000 + n if isinstance(holder["id"], int) else f"{holder['id']}-{n}"
        varied = True
    if not varied:
        return delivery
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    configured = factory.endpoints.get(delivery.endpoint)
    secret_name = configured.secret_name if configured is not None else None
    headers = sign(delivery.headers, body, factory.secrets[secret_name][0], now) if secret_name else delivery.headers
    return Delivery(delivery.kind, delivery.endpoint, headers, body, delivery.customers, delivery.delivery_id)
