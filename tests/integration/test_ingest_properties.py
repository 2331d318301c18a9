"""Property: whatever body and headers reach an endpoint of any kind, the answer is never a 5xx and a webhook is
queued whole or not at all (the queue grows by exactly the accepted count on 202, by nothing otherwise)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nxbridge.sources.verify import base64_hmac, standard_signature
from tests.fixtures.ingest import KINDS, IngestStack, Invoke, body_of, documented_secrets, load_event

ALLOWED = {200, 202, 400, 401, 404, 405, 409, 413, 415, 422}
SIGNATURE_HEADERS = [
    "x-shopify-hmac-sha256",
    "x-shopify-topic",
    "x-shopify-webhook-id",
    "x-wc-webhook-signature",
    "x-wc-webhook-topic",
    "x-wc-webhook-delivery-id",
    "typeform-signature",
    "tally-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-webhook-secret",
    "idempotency-key",
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "text/plain",
    "application/vnd.api+json",
]
FIELD_NAMES = [
    "email",
    "phone",
    "full_name",
    "first_name",
    "last_name",
    "name",
    "tags",
    "tagStr",
    "message",
    "sms_phone",
    "birthday",
    "gender",
    "weight",
    "customize_field",
    "customers",
    "default_address",
    "billing",
    "event_type",
    "form_response",
    "eventType",
    "data",
    "note",
]

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), texts), inner, max_size=4)
    ),
    max_leaves=12,
)


def sample_payload(kind: str) -> Any:
    return json.loads(body_of(load_event(kind))) if kind != "form" else None


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    children: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    found = [prefix] if prefix else []
    for key, child in children:
        found.extend(paths(child, (*prefix, key)))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy: Any = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = replaced(copy[head], rest, value)
    return copy


JSON = "application/json"
URLENCODED = "application/x-www-form-urlencoded"


@st.composite
def bodies(draw: st.DrawFn, kind: str) -> tuple[bytes, str | None]:
    """A body and the content type that fits it: the kind's real payload with a few values replaced anywhere in
    it (most often), random JSON, random bytes, a random urlencoded form, or a WooCommerce-style ping."""
    choice = draw(st.sampled_from(["mutated"] * 5 + ["json", "bytes", "form", "form", "ping"]))
    if choice == "bytes":
        return draw(st.binary(max_size=300)), None
    if choice == "json":
        return json.dumps(draw(json_values)).encode(), JSON
    if choice == "ping":
        return f"webhook_id={draw(st.integers(min_value=0, max_value=10**6))}".encode(), URLENCODED
    payload = sample_payload(kind)
    if choice == "form" or payload is None:
        pairs = draw(st.lists(st.tuples(st.one_of(st.sampled_from(FIELD_NAMES), texts), texts), max_size=6))
        if kind == "form" and draw(st.booleans()):
            pairs = [("email", draw(st.sampled_from(["a@example.com", "b@example.com", "x"]))), *pairs]
        return urlencode(pairs).encode(), URLENCODED
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        path = draw(st.sampled_from(paths(payload)))
        payload = replaced(payload, path, draw(json_values))
    return json.dumps(payload, ensure_ascii=draw(st.booleans())).encode(), JSON


def sign(kind: str, body: bytes, headers: dict[str, str], delivery_id: str) -> None:
    """Add the kind's valid signature (and delivery id) for ``body``."""
    secret = documented_secrets()[kind]
    if kind == "shopify":
        headers.update({"x-shopify-hmac-sha256": base64_hmac(secret, body), "x-shopify-webhook-id": delivery_id})
    elif kind == "woocommerce":
        headers.update({"x-wc-webhook-signature": base64_hmac(secret, body), "x-wc-webhook-delivery-id": delivery_id})
    elif kind == "typeform":
        headers["typeform-signature"] = "sha256=" + base64_hmac(secret, body)
    elif kind == "tally":
        headers["tally-signature"] = base64_hmac(secret, body)
    elif kind == "form":
        headers.update({"x-webhook-secret": secret, "idempotency-key": delivery_id})
    else:
        timestamp = int(dt.datetime.now(dt.UTC).timestamp())
        headers.update(
            {
                "webhook-id": delivery_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": standard_signature(secret, delivery_id, timestamp, body),
            }
        )


@st.composite
def events(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """An API Gateway event for ``kind``'s endpoint with arbitrary body and headers, signed or not."""
    event = load_event(kind)
    body, natural_type = draw(bodies(kind))
    headers: dict[str, str] = draw(
        st.dictionaries(st.one_of(st.sampled_from(SIGNATURE_HEADERS), texts.map(str.lower)), texts, max_size=3)
    )
    content_type = draw(st.sampled_from([natural_type] * 4 + [None, *CONTENT_TYPES]))
    if content_type is not None:
        headers["content-type"] = content_type
    if draw(st.sampled_from([True, True, True, False])):
        sign(kind, body, headers, draw(st.sampled_from(["delivery-1", "delivery-2", "delivery-3", "delivery-4"])))
    as_base64 = draw(st.booleans())
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        as_base64 = True  # API Gateway hands non-text bodies to Lambda base64-encoded
    event["headers"] = headers
    event["body"] = base64.b64encode(body).decode() if as_base64 else text
    event["isBase64Encoded"] = as_base64
    event["requestContext"]["http"]["method"] = draw(st.sampled_from(["POST"] * 9 + ["GET"]))
    event["pathParameters"] = {"endpoint": draw(st.sampled_from([kind] * 9 + ["unknown"]))}
    return event


@pytest.mark.parametrize("kind", KINDS)
def test_no_input_gets_a_5xx_or_queues_part_of_a_webhook(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(event=events(kind))
    def check(event: dict[str, Any]) -> None:
        before = ingest_stack.depth()

        result = ingest_handler(event)

        body = json.loads(result["body"])
        queued = ingest_stack.depth() - before
        assert result["statusCode"] in ALLOWED, body
        assert isinstance(body, dict) and "requestId" in body
        assert queued == (body["accepted"] if result["statusCode"] == 202 else 0)

    check()
