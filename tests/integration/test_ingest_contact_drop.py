"""IngestFunction drops a source's unusable phone or e-mail when another contact remains: 202, a warning that names
the field (never the value) and a ContactsDropped metric; a customer left without a contact is still a 422."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.ingest import (
    IngestStack,
    Invoke,
    body_of,
    documented_secrets,
    load_event,
    resign,
    response_body,
    with_body,
)

BAD_PHONE = "n/a"
LONG_EMAIL = "firstname.middlename.lastname@subdomain.example-company.com"


def shopify_event(**changes: Any) -> dict[str, Any]:
    """The sample Shopify delivery with ``changes`` to its customer, re-signed."""
    event = load_event("shopify")
    customer = {**json.loads(body_of(event)), **changes}
    return resign(with_body(event, json.dumps(customer).encode()), documented_secrets()["shopify"])


def dropped_metrics(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    return [m for m in lines if "ContactsDropped" in m]


def test_an_unusable_phone_is_dropped_logged_by_name_and_counted(
    ingest_handler: Invoke,
    ingest_stack: IngestStack,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    event = shopify_event(phone=BAD_PHONE, addresses=[], default_address=None)

    result = ingest_handler(event)

    assert result["statusCode"] == 202
    [envelope] = ingest_stack.queued()
    assert "sms_phone" not in envelope["customer"] and "whats_app_phone" not in envelope["customer"]
    assert envelope["customer"]["email"] == json.loads(body_of(event))["email"]
    [warning] = [r for r in caplog.records if r.getMessage() == "contact dropped"]
    assert (warning.levelname, vars(warning)["field"], vars(warning)["endpoint"]) == ("WARNING", "phone", "shopify")
    assert vars(warning)["delivery_id"] == event["headers"]["x-shopify-webhook-id"]
    out = capfd.readouterr().out
    assert BAD_PHONE not in "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records) + out
    assert [m["reason"] for m in dropped_metrics(out)] == ["phone_unreadable"]


def test_an_overlong_email_is_dropped_when_the_phone_remains(
    ingest_handler: Invoke, ingest_stack: IngestStack, capfd: pytest.CaptureFixture[str]
) -> None:
    result = ingest_handler(shopify_event(email=LONG_EMAIL))

    assert result["statusCode"] == 202
    [envelope] = ingest_stack.queued()
    assert "email" not in envelope["customer"] and envelope["customer"]["sms_phone"]
    out = capfd.readouterr().out
    assert LONG_EMAIL not in out
    assert [m["reason"] for m in dropped_metrics(out)] == ["email_too_long"]


def test_a_customer_whose_only_contact_is_unusable_still_gets_422(
    ingest_handler: Invoke, ingest_stack: IngestStack, capfd: pytest.CaptureFixture[str]
) -> None:
    event = shopify_event(email=None, phone=BAD_PHONE, addresses=[], default_address=None)

    result = ingest_handler(event)

    assert result["statusCode"] == 422
    assert [e["field"] for e in response_body(result)["errors"]] == ["sms_phone", "whats_app_phone"]
    assert ingest_stack.depth() == 0
    assert dropped_metrics(capfd.readouterr().out) == []


def test_an_nxcloud_shaped_customer_with_an_unusable_email_gets_422(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = load_event("nxcloud")
    payload = json.loads(body_of(event))
    payload["customers"][0]["email"] = LONG_EMAIL
    event = resign(with_body(event, json.dumps(payload).encode()), documented_secrets()["nxcloud"])

    result = ingest_handler(event)

    assert result["statusCode"] == 422
    assert [(e["index"], e["field"]) for e in response_body(result)["errors"]] == [(0, "email")]
    assert ingest_stack.depth() == 0
