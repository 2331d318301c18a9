"""(Re)generate the extra samples of ``nxbridge demo`` in events/demo/ (expected.json is written by hand).

The events are API Gateway HTTP API (payload 2.0) events, built by the local stack's own front, signed with the
documented local secrets in events/webhook-secrets.json (or deliberately not):

- shopify-duplicate.json       events/api/shopify.json delivered a second time (same X-Shopify-Webhook-Id)
- shopify-bad-signature.json   a customer signed with the wrong secret                        -> 401
- shopify-malformed.json       a truncated JSON body, correctly signed                        -> 400
- form-invalid.json            a form post with an invalid e-mail and no phone                -> 422
- unknown-endpoint.json        a post to an endpoint that is not configured                   -> 404
- nxcloud-unknown-seat.json    two customers, one bound to a seat NXCloud does not have       -> 202, then
                               the drain isolates that one (12148) into the DLQ

    .venv/bin/python events/demo/make_demo_events.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from nxbridge.sources.verify import base64_hmac, standard_signature
from nxbridge_dev.local.front import HttpRequest, build_v2_event

DEMO = Path(__file__).resolve().parent
EVENTS = DEMO.parent
HOST = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
# Fixed request metadata, so that regenerating the files changes nothing.
TIME_EPOCH_MS = 1748859330000
SIGNED_AT = TIME_EPOCH_MS // 1000
MISSING_SEAT = "new.agent@example.com"


def _secrets() -> dict[str, str]:
    document: dict[str, str | list[str]] = json.loads((EVENTS / "webhook-secrets.json").read_text(encoding="utf-8"))
    return {name: value if isinstance(value, str) else value[0] for name, value in document.items()}


def _compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _event(endpoint: str, body: bytes, headers: dict[str, str], request_id: str) -> dict[str, Any]:
    request = HttpRequest("POST", f"/webhooks/{endpoint}", list(headers.items()), body, "198.51.100.23")
    event = build_v2_event(request, endpoint=endpoint, host=HOST, region="eu-west-1")
    event["headers"].update({"host": HOST, "x-forwarded-port": "443", "x-forwarded-proto": "https"})
    event["headers"]["x-amzn-trace-id"] = f"Root=1-{SIGNED_AT:08x}-{request_id.encode().hex()[:24]:0<24}"
    event["requestContext"].update(
        {
            "apiId": HOST.split(".", 1)[0],
            "requestId": request_id,
            "timeEpoch": TIME_EPOCH_MS,
            "time": "02/Jun/2025:10:15:30 +0000",
        }
    )
    return event


def _shopify(body: bytes, secret: str, webhook_id: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "Shopify-Captain-Hook",
        "x-shopify-topic": "customers/create",
        "x-shopify-shop-domain": "nxbridge-demo.myshopify.com",
        "x-shopify-api-version": "2024-10",
        "x-shopify-webhook-id": webhook_id,
        "x-shopify-hmac-sha256": base64_hmac(secret, body),
    }


def build() -> dict[str, dict[str, Any]]:
    """Every demo event by file name."""
    secrets = _secrets()
    events: dict[str, dict[str, Any]] = {}

    events["shopify-duplicate.json"] = json.loads((EVENTS / "api" / "shopify.json").read_text(encoding="utf-8"))

    lucas = _compact(
        {"id": 7401837265200, "email": "lucas.martin@example.com", "first_name": "Lucas", "last_name": "Martin",
         "phone": "+33 6 98 76 54 32", "tags": "", "note": None, "addresses": []}
    )  # fmt: skip
    events["shopify-bad-signature.json"] = _event(
        "shopify", lucas, _shopify(lucas, "not-the-shop-secret", "0c0d6c57-5c43-4c2f-9d1b-5e8a2f7c1a01"), "DemoBadSig01"
    )

    truncated = b'{"id":7401837265300,"email":"nina.berg@example.com","first_name":"Nina"'
    events["shopify-malformed.json"] = _event(
        "shopify",
        truncated,
        _shopify(truncated, secrets["shopify"], "0c0d6c57-5c43-4c2f-9d1b-5e8a2f7c1a02"),
        "DemoMalformed1",
    )

    form = urlencode({"name": "Sam Lee", "email": "sam.lee(at)example.com", "message": "Call me"}).encode()
    events["form-invalid.json"] = _event(
        "form",
        form,
        {
            "content-type": "application/x-www-form-urlencoded",
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0",
            "x-webhook-secret": secrets["form"],
        },
        "DemoInvalid001",
    )

    unknown = _compact({"email": "someone@example.com"})
    events["unknown-endpoint.json"] = _event(
        "hubspot", unknown, {"content-type": "application/json", "user-agent": "HubSpot Connect 2.0"}, "DemoUnknown01"
    )

    bulk = _compact(
        {
            "customers": [
                {"full_name": "Lena Fischer", "email": "lena.fischer@example.de", "country": "DE",
                 "belong_seat_user": "agent@example.com"},
                {"full_name": "Tom Becker", "whats_app_phone": "+49 151 23456789", "country": "DE",
                 "belong_seat_user": MISSING_SEAT},
            ]
        }
    )  # fmt: skip
    msg_id = "msg_2KWPBgLlAfxdpx2AI54pPJDemo1"
    events["nxcloud-unknown-seat.json"] = _event(
        "nxcloud",
        bulk,
        {
            "content-type": "application/json",
            "user-agent": "Svix-Webhooks/1.63.0",
            "webhook-id": msg_id,
            "webhook-timestamp": str(SIGNED_AT),
            "webhook-signature": standard_signature(secrets["nxcloud"], msg_id, SIGNED_AT, bulk),
        },
        "DemoSeat00001",
    )
    return events


def main() -> None:
    """Write every demo event."""
    for name, event in build().items():
        (DEMO / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote events/demo/{name}")  # noqa: T201 - a command-line script


if __name__ == "__main__":
    main()
