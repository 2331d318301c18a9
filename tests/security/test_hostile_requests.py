"""Hostile requests of every kind, genuinely signed where a signature would let them through: oversize bodies,
deeply nested JSON, invalid UTF-8, header injection and huge field values each get the right 4xx and queue
nothing. IngestFunction's lambda_handler gets events built from events/api/<kind>.json, against moto."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.fixtures.ingest import (
    KINDS,
    IngestStack,
    Invoke,
    body_of,
    documented_secrets,
    load_event,
    resign,
    response_body,
    with_body,
)
from tests.fixtures.security import SAMPLE_EMAIL, SAMPLE_PHONE, SIGNATURE_HEADER, LogAudit, with_header

pytestmark = pytest.mark.usefixtures("log_audit")

MAX_BODY_BYTES = 1_048_576  # IngestSettings' default, MAX_BODY_BYTES in the template


def signed(
    kind: str, body: bytes, *, content_type: str | None = None, base64_body: bool | None = None
) -> dict[str, Any]:
    """The sample event of ``kind`` carrying ``body``, genuinely signed with the endpoint's secret."""
    event = load_event(kind)
    if content_type is not None:
        event = with_header(event, "content-type", content_type)
    return resign(with_body(event, body, base64_body=base64_body), documented_secrets()[kind])


def padded(kind: str, size: int) -> bytes:
    """The sample body of ``kind`` grown to exactly ``size`` bytes with an extra field the mapping ignores."""
    body = body_of(load_event(kind))
    if kind == "form":
        filler = b"&comment="
        return body + filler + b"x" * (size - len(body) - len(filler))
    filler = b',"padding":""}'
    return body[:-1] + filler[:-2] + b"x" * (size - len(body) - len(filler) + 1) + filler[-2:]


def error_of(result: dict[str, Any]) -> tuple[int, str]:
    return result["statusCode"], response_body(result).get("error", "")


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_over_the_limit_gets_413_even_when_genuinely_signed(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    over = padded(kind, MAX_BODY_BYTES + 1)
    assert len(over) == MAX_BODY_BYTES + 1

    assert error_of(ingest_handler(signed(kind, over))) == (413, "payload_too_large")
    assert error_of(ingest_handler(with_body(load_event(kind), over))) == (413, "payload_too_large")
    assert ingest_stack.depth() == 0


def test_a_body_at_the_limit_is_still_read(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    at_limit = padded("shopify", MAX_BODY_BYTES)
    assert len(at_limit) == MAX_BODY_BYTES

    assert ingest_handler(signed("shopify", at_limit))["statusCode"] == 202


@pytest.mark.parametrize("kind", KINDS)
def test_json_nested_beyond_the_parsers_limit_gets_400(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    depth = 100_000
    for body in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        # A form reads a JSON body too (what fetch() posts).
        event = signed(kind, body, content_type="application/json" if kind == "form" else None, base64_body=False)
        assert error_of(ingest_handler(event)) == (400, "malformed_body"), body[:8]
    assert ingest_stack.depth() == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_deep_but_parseable_value_where_an_email_is_expected_is_not_mapped(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    # Within the parser's limit, nesting is just a value of the wrong type: it is dropped, never queued as a
    # structure; the customer still has its phone, so it is accepted without the e-mail.
    nested = "[" * 500 + '"x@example.com"' + "]" * 500
    sample = body_of(load_event(kind))
    quoted = f'"{SAMPLE_EMAIL[kind]}"'.encode()
    if kind == "form":
        body = signed(
            "form",
            json.dumps({"name": "Ana Souza", "email": json.loads(nested), "phone": "+55 11 91234-5678"}).encode(),
            content_type="application/json",
            base64_body=False,
        )
    else:
        body = signed(kind, sample.replace(quoted, nested.encode()))

    result = ingest_handler(body)

    assert result["statusCode"] == 202
    customers = [envelope["customer"] for envelope in ingest_stack.queued()]
    assert customers
    assert all("email" not in c or c["email"] != SAMPLE_EMAIL[kind] for c in customers)
    assert all(isinstance(value, str | int) for c in customers for value in c.values())


INVALID_UTF8 = {
    "invalid byte": b"\xff\xfe",
    "overlong slash": b"\xc0\xaf",
    "truncated sequence": b"\xe2\x82",
    "continuation byte alone": b"\x80",
}


@pytest.mark.parametrize("kind", KINDS)
def test_a_genuinely_signed_body_that_is_not_utf8_gets_400(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    for case, bad in INVALID_UTF8.items():
        body = body_of(load_event(kind)).replace(SAMPLE_EMAIL[kind].encode(), b"ana" + bad + b"@example.com")
        # Delivered base64-encoded, as API Gateway hands over bytes it cannot pass as text.
        event = signed(kind, body, base64_body=True)
        assert error_of(ingest_handler(event)) == (400, "malformed_body"), case
    assert ingest_stack.depth() == 0


def surrogate_events(kind: str) -> dict[str, dict[str, Any]]:
    """The sample of ``kind``, genuinely signed, with a lone surrogate in its e-mail, encoded three ways."""
    sample = body_of(load_event(kind))
    email = SAMPLE_EMAIL[kind].encode()
    raw = sample.replace(email, b"ana\xed\xb3\xbf@example.com")
    escaped = sample.replace(email, b"ana%ED%B3%BF%40example.com" if kind == "form" else b"ana\\udcff@example.com")
    events = {"raw bytes": signed(kind, raw, base64_body=True)}
    for name, body in (("text body", raw), ("JSON escape", escaped)):
        # A text body, as API Gateway passes JSON: the handler encodes it back to the signed bytes.
        event = signed(kind, body, base64_body=True)
        event["body"] = body.decode("utf-8", "surrogatepass")
        event["isBase64Encoded"] = False
        events[name] = event
    return events


@pytest.mark.parametrize("kind", KINDS)
def test_a_lone_surrogate_in_an_email_is_refused_or_dropped(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    for encoding, event in surrogate_events(kind).items():
        result = ingest_handler(event)
        if kind in CONTACT_DROPPING_KINDS:
            # A shop/form-service customer keeps its other, valid contact: the broken e-mail is dropped, never
            # queued (docs/sources.md, "unusable contacts").
            assert result["statusCode"] == 202, encoding
            queued = ingest_stack.queued()
            assert len(queued) == 1, encoding
            assert "email" not in queued[0]["customer"], encoding
            assert "\\udcff" not in json.dumps(queued[0]["customer"]), encoding
            ingest_stack.forget_deliveries()
            continue
        # Python's JSON reads surrogates (escaped or raw) into the string and the contract refuses the field
        # (422); form bodies are decoded strictly (400).
        expected = (400, "malformed_body") if kind == "form" else (422, "validation_failed")
        assert error_of(result) == expected, encoding
    assert ingest_stack.depth() == 0


@pytest.mark.parametrize(
    ("kind", "delivery_id"),
    [("typeform", b"01JX3Q8V2K7M9N4P6R8T0W2Y4A"), ("tally", b"7c1e2f4a-93b8-4d6e-a1f0-2b5c8d9e0f13")],
)
def test_a_delivery_id_that_is_not_valid_unicode_gets_400(
    kind: str, delivery_id: bytes, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    # Found by this suite: the id went into the envelope, whose serialization then failed (500, retried forever).
    body = body_of(load_event(kind)).replace(delivery_id, b"\\udcff" + delivery_id)

    result = ingest_handler(signed(kind, body))

    assert error_of(result) == (400, "malformed_body")
    assert ingest_stack.depth() == 0


def smuggled_signatures(kind: str) -> dict[str, str]:
    """Signature header values that try to smuggle a second header or a second signature in."""
    event = load_event(kind)
    header = SIGNATURE_HEADER[kind]
    genuine = event["headers"][header]
    forged = resign(event, "whsec_Zm9yZ2VkLWtleS1mb3JnZWQta2V5" if kind in ("standard", "nxcloud") else "forged")
    forged_value = forged["headers"][header]
    # A genuine signature, but of another body (what an attacker may have captured).
    other = resign(with_body(event, body_of(event) + b" "), documented_secrets()[kind])["headers"][header]
    return {
        "CRLF then a second signature header": f"{forged_value}\r\n{header}: {forged_value}",
        "CRLF then a captured signature": f"{forged_value}\r\n{header}: {other}",
        "LF then a captured signature": f"{forged_value}\n{header}: {other}",
        # API Gateway (payload 2.0) joins repeated headers with commas: a duplicate never passes.
        "duplicate: forged then genuine": f"{forged_value},{genuine}",
        "duplicate: genuine then forged": f"{genuine},{forged_value}",
        "duplicate: genuine twice": f"{genuine},{genuine}",
        "duplicate: captured then forged": f"{other},{forged_value}",
    }


@pytest.mark.parametrize("kind", KINDS)
def test_header_injection_and_duplicate_signature_headers_get_401(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = load_event(kind)
    for case, value in smuggled_signatures(kind).items():
        result = ingest_handler(with_header(event, SIGNATURE_HEADER[kind], value))
        assert error_of(result) == (401, "unauthorized"), case
        # Nothing of the request is reflected into the answer's headers.
        assert SIGNATURE_HEADER[kind] not in result["headers"], case
        assert not any("\r" in v or "\n" in v for v in result["headers"].values()), case
    assert ingest_stack.depth() == 0


# Kinds whose sources drop an unusable derived phone or e-mail when another contact remains (a 422 would make
# the provider retry and finally disable the subscription); form and nxcloud stay strict.
CONTACT_DROPPING_KINDS = {"shopify", "woocommerce", "typeform", "tally", "standard"}


def huge_values(kind: str) -> dict[str, tuple[bytes, bytes]]:
    """Replacements of the sample's e-mail and phone by values far over NXCloud's limits."""
    form = kind == "form"
    email = "a" * 10_000 + ("%40" if form else "@") + "example.com"
    phone = "4" * 10_000
    return {
        "e-mail": (SAMPLE_EMAIL[kind].encode(), email.encode()),
        "phone": (SAMPLE_PHONE[kind].encode(), phone.encode()),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_a_huge_contact_value_is_refused_or_dropped_and_never_echoed(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack, log_audit: LogAudit
) -> None:
    body = body_of(load_event(kind))
    for field, (old, new) in huge_values(kind).items():
        assert old in body, field
        log_audit.forbid([new.decode().replace("%40", "@"), "4" * 50])
        result = ingest_handler(signed(kind, body.replace(old, new)))
        assert len(result["body"]) < 2_000, field
        if kind in CONTACT_DROPPING_KINDS:
            # The customer keeps its other contact; the oversized one is dropped, never queued or echoed.
            assert result["statusCode"] == 202, field
            queued = ingest_stack.queued()
            assert len(queued) == 1, field
            assert all(len(value) <= 255 for value in queued[0]["customer"].values() if isinstance(value, str))
            ingest_stack.forget_deliveries()
            continue
        assert error_of(result) == (422, "validation_failed"), field
    assert ingest_stack.depth() == 0


def test_a_huge_name_in_a_bulk_import_gets_422(
    ingest_handler: Invoke, ingest_stack: IngestStack, log_audit: LogAudit
) -> None:
    huge = "Ahmed " + "H" * 100_000
    log_audit.forbid([huge[:60]])
    body = body_of(load_event("nxcloud")).replace(b"Ahmed Hassan", huge.encode())

    result = ingest_handler(signed("nxcloud", body))

    assert error_of(result) == (422, "validation_failed")
    assert [(e["index"], e["field"]) for e in response_body(result)["errors"]] == [(0, "full_name")]
    assert len(result["body"]) < 2_000
    assert ingest_stack.depth() == 0


def test_a_form_body_that_is_not_valid_base64_gets_400(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    event = load_event("form")
    event["body"] = base64.b64encode(body_of(event)).decode()[:-3] + "!!!"

    assert error_of(ingest_handler(event)) == (400, "malformed_body")
    assert ingest_stack.depth() == 0
