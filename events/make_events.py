"""(Re)generate events/api/<kind>.json: one API Gateway HTTP API (payload 2.0) event per source kind.

Each event carries a realistic payload in the provider's published shape and is signed with the test secret
of its endpoint in events/webhook-secrets.json, so it works with ``sam local invoke -e`` and in the tests.
Standard Webhooks signatures (kinds ``standard`` and ``nxcloud``) include a timestamp that is valid for five
minutes: run this script right before invoking those two events.

It also writes events/forms/<name>.json: what a browser sends to the unsigned ``contact`` form endpoint (a form
post that navigates, and a ``fetch()`` of FormData). They live outside events/api because the demo posts every
file there and a browser post is answered with a redirect or a page, not JSON.

    .venv/bin/python events/make_events.py            # all kinds and the browser form samples
    .venv/bin/python events/make_events.py standard   # only some
    .venv/bin/python events/make_events.py forms      # only the browser form samples
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from nxbridge.sources.verify import base64_hmac, standard_signature

EVENTS = Path(__file__).resolve().parent
API_EVENTS = EVENTS / "api"
FORM_EVENTS = EVENTS / "forms"
FORMS = "forms"
BROWSER_FORM_ENDPOINT = "contact"
SECRETS_FILE = EVENTS / "webhook-secrets.json"
ENDPOINTS_FILE = EVENTS / "endpoints.json"
KINDS = ("shopify", "woocommerce", "typeform", "tally", "standard", "form", "nxcloud")
# HMAC-signed samples carry this fixed request time, so that regenerating them changes nothing.
FIXED_TIME = dt.datetime(2025, 6, 2, 10, 15, 30, tzinfo=dt.UTC)
API_ID = "a1b2c3d4e5"
DOMAIN = f"{API_ID}.execute-api.eu-west-1.amazonaws.com"

Json = dict[str, Any]


def load_secrets(path: Path = SECRETS_FILE) -> dict[str, str]:
    """The documented test secrets: the current (first) secret of each name."""
    document: dict[str, str | list[str]] = json.loads(path.read_text(encoding="utf-8"))
    return {name: value if isinstance(value, str) else value[0] for name, value in document.items()}


def compact(payload: Any, *, ascii_only: bool = False) -> bytes:
    """JSON the way the providers send it: no whitespace."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only).encode("utf-8")


def api_event(
    endpoint: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    request_id: str,
    at: dt.datetime,
    source_ip: str,
    base64_body: bool = False,
) -> Json:
    """An HTTP API payload-2.0 event for ``POST /webhooks/{endpoint}`` (header names lower-case, as AWS sends)."""
    path = f"/webhooks/{endpoint}"
    all_headers = {
        **{name.lower(): value for name, value in headers.items()},
        "content-length": str(len(body)),
        "host": DOMAIN,
        "x-amzn-trace-id": f"Root=1-{int(at.timestamp()):08x}-{hashlib.sha256(request_id.encode()).hexdigest()[:24]}",
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/{endpoint}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": all_headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "POST /webhooks/{endpoint}",
            "stage": "$default",
            "time": at.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(at.timestamp() * 1000),
        },
        "pathParameters": {"endpoint": endpoint},
        "body": base64.b64encode(body).decode("ascii") if base64_body else body.decode("utf-8"),
        "isBase64Encoded": base64_body,
    }


def event_body(event: Mapping[str, Any]) -> bytes:
    """The raw body bytes of an event."""
    body: str = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


# --- payloads, in each provider's published shape -----------------------------------------------------------


def shopify_customer() -> Json:
    """A ``customers/create`` payload (REST customer resource, API version 2024-10, which still carries tags)."""
    address = {
        "id": 9876543210123,
        "customer_id": 7401837265123,
        "first_name": "María",
        "last_name": "García",
        "company": None,
        "address1": "Calle de Alcalá 48",
        "address2": "3º B",
        "city": "Madrid",
        "province": "Madrid",
        "country": "Spain",
        "zip": "28014",
        "phone": "+34 612 345 678",
        "name": "María García",
        "province_code": "M",
        "country_code": "ES",
        "country_name": "Spain",
        "default": True,
    }
    return {
        "id": 7401837265123,
        "email": "maria.garcia@example.com",
        "created_at": "2025-06-02T12:15:28+02:00",
        "updated_at": "2025-06-02T12:15:29+02:00",
        "first_name": "María",
        "last_name": "García",
        "orders_count": 0,
        "state": "disabled",
        "total_spent": "0.00",
        "last_order_id": None,
        "note": "Prefers WhatsApp; asked about wholesale prices.",
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "tags": "newsletter, vip",
        "last_order_name": None,
        "currency": "EUR",
        "phone": "+34612345678",
        "addresses": [address],
        "tax_exemptions": [],
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": "2025-06-02T12:15:28+02:00",
        },
        "sms_marketing_consent": {
            "state": "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None,
            "consent_collected_from": "SHOPIFY",
        },
        "admin_graphql_api_id": "gid://shopify/Customer/7401837265123",
        "default_address": address,
    }


def woocommerce_customer() -> Json:
    """A ``customer.created`` payload: the REST API v3 customer resource."""
    billing = {
        "first_name": "Oliver",
        "last_name": "Smith",
        "company": "",
        "address_1": "221B Baker Street",
        "address_2": "",
        "city": "London",
        "state": "",
        "postcode": "NW1 6XE",
        "country": "GB",
        "email": "oliver.smith@example.co.uk",
        "phone": "+44 20 7946 0958",
    }
    shipping = {key: value for key, value in billing.items() if key != "email"} | {"phone": ""}
    base = "https://shop.example.co.uk/wp-json/wc/v3/customers"
    return {
        "id": 42,
        "date_created": "2025-06-02T11:20:11",
        "date_created_gmt": "2025-06-02T10:20:11",
        "date_modified": "2025-06-02T11:20:11",
        "date_modified_gmt": "2025-06-02T10:20:11",
        "email": "oliver.smith@example.co.uk",
        "first_name": "Oliver",
        "last_name": "Smith",
        "role": "customer",
        "username": "oliver.smith",
        "billing": billing,
        "shipping": shipping,
        "is_paying_customer": False,
        "avatar_url": "https://secure.gravatar.com/avatar/5c0f4e2a9d3b7c1e8f6a4b2d0c9e7f5a?s=96&d=mm&r=g",
        "meta_data": [],
        "_links": {"self": [{"href": f"{base}/42"}], "collection": [{"href": base}]},
    }


def _typeform_field(field_id: str, ref: str, kind: str, title: str, **extra: Any) -> Json:
    return {"id": field_id, "title": title, "type": kind, "ref": ref, "properties": {}, **extra}


def typeform_response() -> Json:
    """A ``form_response`` payload; two answers carry no ``field.ref`` (older deliveries), joined by field id."""
    countries = [
        {"id": "kR8vXq2LmN0p", "ref": "cn", "label": "China"},
        {"id": "a7GhT3pQ9wEr", "ref": "sg", "label": "Singapore"},
    ]
    interests = [
        {"id": "Tz4Wq8LpR2sY", "ref": "demo", "label": "Product demo"},
        {"id": "Hk9Vb1NcX5mJ", "ref": "pricing", "label": "Pricing"},
        {"id": "Qe3Ru7Io0PaS", "ref": "jobs", "label": "Careers"},
    ]
    fields = [
        _typeform_field("fN1rStNmE01a", "first_name", "short_text", "What's your first name?"),
        _typeform_field("lN2aStNmE02b", "last_name", "short_text", "And your last name, {{field:first_name}}?"),
        _typeform_field("eM3aIlAdD03c", "email", "email", "Your e-mail address"),
        _typeform_field("pH4oNeNuM04d", "phone", "phone_number", "Your WhatsApp number"),
        _typeform_field("bD5aTe0fB05e", "birthday", "date", "When is your birthday?"),
        _typeform_field("cN6tRyChO06f", "country", "dropdown", "Where are you based?", choices=countries),
        _typeform_field(
            "iN7tErEsT07g",
            "interests",
            "multiple_choice",
            "What would you like to hear about?",
            allow_multiple_selections=True,
            allow_other_choice=False,
            choices=interests,
        ),
        _typeform_field("mS8gBoDy008h", "message", "long_text", "Anything else we should know?"),
        _typeform_field("cO9nSeNt009i", "consent", "legal", "I agree to be contacted."),
    ]

    def answer(index: int, kind: str, value: Any, *, with_ref: bool = True) -> Json:
        field = fields[index]
        reference = {"id": field["id"], "type": field["type"]} | ({"ref": field["ref"]} if with_ref else {})
        return {"type": kind, kind: value, "field": reference}

    return {
        "event_id": "01JX3Q8V2K7M9N4P6R8T0W2Y4A",
        "event_type": "form_response",
        "form_response": {
            "form_id": "Xq7bT2",
            "token": "8u4kq1x0m2n3b5v7c9z1a3s5d7f9g1h2",
            "landed_at": "2025-06-02T09:58:41Z",
            "submitted_at": "2025-06-02T10:01:07Z",
            "hidden": {"utm_source": "newsletter"},
            "definition": {"id": "Xq7bT2", "title": "Book a demo", "fields": fields},
            "answers": [
                answer(0, "text", "Wei"),
                answer(1, "text", "Zhang", with_ref=False),
                answer(2, "email", "wei.zhang@example.com"),
                answer(3, "phone_number", "+8613812345678"),
                answer(4, "date", "1990-04-18", with_ref=False),
                answer(5, "choice", countries[0]),
                answer(6, "choices", {"ids": ["Tz4Wq8LpR2sY", "Hk9Vb1NcX5mJ"], "labels": ["Product demo", "Pricing"]}),
                answer(7, "text", "We run 12 stores and want WhatsApp campaigns."),
                answer(8, "boolean", True),
            ],
            "ending": {"id": "EnD1ngScRn01", "ref": "default_tys"},
        },
    }


def _tally_field(key: str, label: str, kind: str, value: Any) -> Json:
    return {"key": key, "label": label, "type": kind, "value": value}


def tally_response() -> Json:
    """A ``FORM_RESPONSE`` payload; choice fields give option ids with their ``options``."""
    countries = [
        {"id": "0c6f2b1e-7d4a-4f3b-9a8e-5c2d1b0a9f87", "text": "Belgium"},
        {"id": "b3f1d2c4-5e6a-4b7c-8d9e-0f1a2b3c4d5e", "text": "France"},
    ]
    topics = [
        {"id": "1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b", "text": "Product news"},
        {"id": "2b3c4d5e-1111-4f6a-9b0c-1d2e3f4a5b6c", "text": "Events"},
        {"id": "3c4d5e6f-2222-4a7b-8c1d-2e3f4a5b6c7d", "text": "Jobs"},
    ]
    picked = [topics[0]["id"], topics[1]["id"]]
    return {
        "eventId": "7c1e2f4a-93b8-4d6e-a1f0-2b5c8d9e0f13",
        "eventType": "FORM_RESPONSE",
        "createdAt": "2025-06-02T10:05:12.345Z",
        "data": {
            "responseId": "mZ8jLq",
            "submissionId": "mZ8jLq",
            "respondentId": "Vx2k9P",
            "formId": "nPq4Rs",
            "formName": "Newsletter sign-up",
            "createdAt": "2025-06-02T10:05:12.000Z",
            "fields": [
                _tally_field("question_Ab12Cd", "Full name", "INPUT_TEXT", "Sophie Dubois"),
                _tally_field("question_Ef34Gh", "Email", "INPUT_EMAIL", "sophie.dubois@example.fr"),
                _tally_field("question_Ij56Kl", "Phone number", "INPUT_PHONE_NUMBER", "+33612345678"),
                {
                    "key": "question_Mn78Op",
                    "label": "Country",
                    "type": "DROPDOWN",
                    "value": [countries[1]["id"]],
                    "options": countries,
                },
                {"key": "question_Qr90St", "label": "Topics", "type": "CHECKBOXES", "value": picked, "options": topics},
                *(
                    {
                        "key": f"question_Qr90St_{topic['id']}",
                        "label": f"Topics ({topic['text']})",
                        "type": "CHECKBOXES",
                        "value": topic["id"] in picked,
                    }
                    for topic in topics
                ),
                {
                    "key": "question_Uv12Wx",
                    "label": "Anything else?",
                    "type": "TEXTAREA",
                    "value": "Please send the French edition.",
                },
                {
                    "key": "question_Yz34Ab_9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a",
                    "label": "utm_campaign",
                    "type": "HIDDEN_FIELDS",
                    "value": "spring_launch",
                },
            ],
        },
    }


def standard_contact() -> Json:
    """A Standard Webhooks payload shaped like the spec's own ``contact.created`` example."""
    return {
        "type": "contact.created",
        "timestamp": "2025-06-02T10:07:44.512Z",
        "data": {
            "id": "1f81eb52-5198-4599-803e-771906343485",
            "type": "contact",
            "fullName": "Kenji Tanaka",
            "email": "kenji.tanaka@example.jp",
            "address": "1-1 Marunouchi, Chiyoda-ku, Tokyo 100-0005",
            "phoneNumber": "+81 90-1234-5678",
            "birthday": "1985-11-03",
            "occupation": "Store manager",
        },
    }


def nxcloud_customers() -> Json:
    """A bulk import already in NXCloud's customer shape."""
    return {
        "customers": [
            {
                "full_name": "Ahmed Hassan",
                "first_name": "Ahmed",
                "last_name": "Hassan",
                "whats_app_phone": "971501234567",
                "email": "ahmed.hassan@example.ae",
                "country": "AE",
                "tagStr": "import,vip",
                "gender": 1,
                "time_zone": "GMT+4",
                "weight": 3,
            },
            {
                "full_name": "Priya Sharma",
                "sms_phone": "+91 98765 43210",
                "whats_app_phone": "+91 98765 43210",
                "birthday": "1992-07-21",
                "customize_field": '{"customize_1_14":"gold"}',
                "remark": "Imported from the legacy CRM",
            },
        ]
    }


def form_fields() -> list[tuple[str, str]]:
    """A website contact form, as a browser posts it."""
    return [
        ("name", "Ana Souza"),
        ("email", "ana.souza@example.com.br"),
        ("phone", "+55 11 91234-5678"),
        ("country", "Brazil"),
        ("tags", "newsletter"),
        ("tags", "demo"),
        ("message", "Please call me after 5 pm."),
    ]


# --- events -------------------------------------------------------------------------------------------------


def shopify_event(secret: str, now: dt.datetime) -> Json:
    """``customers/create`` as Shopify delivers it."""
    body = compact(shopify_customer())
    headers = {
        "content-type": "application/json",
        "user-agent": "Shopify-Captain-Hook",
        "x-shopify-api-version": "2024-10",
        "x-shopify-event-id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "x-shopify-hmac-sha256": base64_hmac(secret, body),
        "x-shopify-shop-domain": "nxbridge-demo.myshopify.com",
        "x-shopify-topic": "customers/create",
        "x-shopify-triggered-at": "2025-06-02T10:15:29.000Z",
        "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    }
    return api_event("shopify", body, headers, request_id="Shp1kRzXoAMEJfA=", at=now, source_ip="34.194.98.21")


def woocommerce_event(secret: str, now: dt.datetime) -> Json:
    """``customer.created`` as WooCommerce delivers it (wp_json_encode escapes slashes)."""
    body = compact(woocommerce_customer(), ascii_only=True).replace(b"/", b"\\/")
    headers = {
        "content-type": "application/json",
        "user-agent": "WooCommerce/9.8.5 Hookshot (WordPress/6.8.1)",
        "x-wc-webhook-source": "https://shop.example.co.uk/",
        "x-wc-webhook-topic": "customer.created",
        "x-wc-webhook-resource": "customer",
        "x-wc-webhook-event": "created",
        "x-wc-webhook-signature": base64_hmac(secret, body),
        "x-wc-webhook-id": "3",
        "x-wc-webhook-delivery-id": "6f1d2b4c8a9e0f3b5d7c1e2a4b6c8d0e",
    }
    return api_event("woocommerce", body, headers, request_id="WcD2hQ0pLrkEJgB=", at=now, source_ip="203.0.113.24")


def typeform_event(secret: str, now: dt.datetime) -> Json:
    """``form_response`` as Typeform delivers it."""
    body = compact(typeform_response())
    headers = {
        "content-type": "application/json",
        "user-agent": "Typeform Webhooks",
        "typeform-signature": "sha256=" + base64_hmac(secret, body),
    }
    return api_event("typeform", body, headers, request_id="TyF3mW1qMslEJhC=", at=now, source_ip="52.31.98.117")


def tally_event(secret: str, now: dt.datetime) -> Json:
    """``FORM_RESPONSE`` as Tally delivers it."""
    body = compact(tally_response())
    headers = {
        "content-type": "application/json",
        "user-agent": "Tally Webhooks",
        "tally-signature": base64_hmac(secret, body),
    }
    return api_event("tally", body, headers, request_id="TlY4nX2rNtmEJiD=", at=now, source_ip="35.187.12.201")


def _standard_event(
    endpoint: str, payload: Json, *, msg_id: str, request_id: str, secret: str, now: dt.datetime
) -> Json:
    body = compact(payload)
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": "Svix-Webhooks/1.63.0",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
    }
    return api_event(endpoint, body, headers, request_id=request_id, at=now, source_ip="44.228.126.217")


def standard_event(secret: str, now: dt.datetime) -> Json:
    """A Standard Webhooks ``contact.created`` delivery, signed at ``now``."""
    msg_id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    return _standard_event(
        "standard", standard_contact(), msg_id=msg_id, request_id="StD5oY3sOunEJjE=", secret=secret, now=now
    )


def nxcloud_event(secret: str, now: dt.datetime) -> Json:
    """A bulk import in NXCloud's shape, signed like Standard Webhooks at ``now``."""
    msg_id = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4X"
    return _standard_event(
        "nxcloud", nxcloud_customers(), msg_id=msg_id, request_id="NxC6pZ4tPvoEJkF=", secret=secret, now=now
    )


def form_event(secret: str, now: dt.datetime) -> Json:
    """A urlencoded form post; HTTP APIs hand such bodies to Lambda base64-encoded."""
    body = urlencode(form_fields()).encode("ascii")
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
        "origin": "https://www.example.com.br",
        "referer": "https://www.example.com.br/contact",
        "x-webhook-secret": secret,
    }
    return api_event(
        "form", body, headers, request_id="FrM7qA5uQwpEJlG=", at=now, source_ip="198.51.100.7", base64_body=True
    )


# --- browser form samples (events/forms) --------------------------------------------------------------------

URLENCODED = "application/x-www-form-urlencoded"
SITE = "https://www.example.com"


def browser_form_fields() -> list[tuple[str, str]]:
    """A contact form as a browser posts it: typical field names, one field NXCloud does not know, the honeypot."""
    return [
        ("name", "Lucía Fernández"),
        ("email", "lucia.fernandez@example.es"),
        ("phone", "+34 622 123 456"),
        ("company", "Panadería Lucía"),
        ("message", "¿Hacéis envíos a Canarias?"),
        ("_gotcha", ""),
    ]


def fetch_form_fields() -> list[tuple[str, str]]:
    """A sign-up form sent by ``fetch()`` as FormData: first and last name, ``tel``, two checked boxes."""
    return [
        ("first_name", "Jan"),
        ("last_name", "Kowalski"),
        ("email", "jan.kowalski@example.pl"),
        ("tel", "+48 601 234 567"),
        ("tags", "newsletter"),
        ("tags", "events"),
        ("message", "Proszę o ofertę dla 3 sklepów."),
        ("_gotcha", ""),
    ]


def multipart_body(fields: Sequence[tuple[str, str]], boundary: str) -> bytes:
    """A multipart/form-data body as browsers build it (RFC 7578): CRLF lines, UTF-8 values, quoted names."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name.replace(chr(34), "%22")}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode("utf-8")


def browser_post_event(now: dt.datetime) -> Json:
    """A form post that navigates (``<form method="post" action=...>``): urlencoded, HTML preferred."""
    body = urlencode(browser_form_fields()).encode("ascii")
    headers = {
        "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        "accept-language": "es-ES,es;q=0.9,en;q=0.8",
        "cache-control": "max-age=0",
        "content-type": URLENCODED,
        "origin": SITE,
        "referer": f"{SITE}/contact",
        "sec-fetch-dest": "document",
        "sec-fetch-mode": "navigate",
        "sec-fetch-site": "cross-site",
        "sec-fetch-user": "?1",
        "upgrade-insecure-requests": "1",
        "user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
    }
    return api_event(
        BROWSER_FORM_ENDPOINT,
        body,
        headers,
        request_id="BrW8rB6vRxqEJmH=",
        at=now,
        source_ip="203.0.113.45",
        base64_body=True,
    )


def fetch_multipart_event(now: dt.datetime) -> Json:
    """``fetch(form.action, {method: "POST", body: new FormData(form), headers: {Accept: "application/json"}})``."""
    boundary = "----WebKitFormBoundaryq7T3mZ9kLp2VxYcA"
    body = multipart_body(fetch_form_fields(), boundary)
    headers = {
        "accept": "application/json",
        "accept-language": "pl-PL,pl;q=0.9,en;q=0.5",
        "content-type": f"multipart/form-data; boundary={boundary}",
        "origin": SITE,
        "referer": f"{SITE}/newsletter",
        "sec-fetch-dest": "empty",
        "sec-fetch-mode": "cors",
        "sec-fetch-site": "cross-site",
        "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    }
    return api_event(
        BROWSER_FORM_ENDPOINT,
        body,
        headers,
        request_id="FtC9sC7wSyrEJnI=",
        at=now,
        source_ip="198.51.100.23",
        base64_body=True,
    )


FORM_SAMPLES: dict[str, Callable[[dt.datetime], Json]] = {
    "form-browser-urlencoded": browser_post_event,
    "form-fetch-multipart": fetch_multipart_event,
}


def build_form_sample(name: str) -> Json:
    """The browser form sample called ``name`` (unsigned: the ``contact`` endpoint has no secret)."""
    return FORM_SAMPLES[name](FIXED_TIME)


def write_form_samples() -> list[Path]:
    """Write events/forms/<name>.json; return the paths written."""
    FORM_EVENTS.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FORM_SAMPLES:
        path = FORM_EVENTS / f"{name}.json"
        path.write_text(json.dumps(build_form_sample(name), indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    return written


BUILDERS: dict[str, Callable[[str, dt.datetime], Json]] = {
    "shopify": shopify_event,
    "woocommerce": woocommerce_event,
    "typeform": typeform_event,
    "tally": tally_event,
    "standard": standard_event,
    "form": form_event,
    "nxcloud": nxcloud_event,
}
TIMESTAMPED = frozenset({"standard", "nxcloud"})


def build_event(kind: str, secrets: Mapping[str, str], now: dt.datetime | None = None) -> Json:
    """The event of ``kind`` signed with its endpoint's secret; Standard Webhooks kinds are signed at ``now``."""
    at = (now or dt.datetime.now(dt.UTC)) if kind in TIMESTAMPED else FIXED_TIME
    return BUILDERS[kind](secrets[kind], at)


def write_events(kinds: Sequence[str], secrets: Mapping[str, str], now: dt.datetime | None = None) -> list[Path]:
    """Write events/api/<kind>.json for ``kinds``; return the paths written."""
    API_EVENTS.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in kinds:
        path = API_EVENTS / f"{kind}.json"
        path.write_text(json.dumps(build_event(kind, secrets, now), indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the sample events."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kinds_help = f"kinds to regenerate, of {', '.join(KINDS)}, or {FORMS} for events/forms (default: all)"
    parser.add_argument("kinds", nargs="*", metavar="KIND", help=kinds_help)
    parser.add_argument("--secrets", type=Path, default=SECRETS_FILE, help="secrets document (default: %(default)s)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.kinds) - {*KINDS, FORMS})
    if unknown:
        parser.error(f"unknown kind(s): {', '.join(unknown)}")
    kinds = [kind for kind in args.kinds if kind != FORMS] if args.kinds else list(KINDS)
    written = write_events(kinds, load_secrets(args.secrets)) if kinds else []
    if not args.kinds or FORMS in args.kinds:
        written += write_form_samples()
    for path in written:
        print(f"wrote {path.relative_to(EVENTS.parent)}")  # noqa: T201 - a script reports what it wrote
    return 0


if __name__ == "__main__":
    sys.exit(main())
