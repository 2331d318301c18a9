"""The issue's measurement, through the local stack: a Shopify ``customers/update`` is delivered and stored, then the
older ``customers/create`` of the same customer arrives (a retry); NXCloud keeps the newer address and phone."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from nxbridge.sources.verify import base64_hmac
from nxbridge_dev.local.stack import LocalStack
from tests.fixtures.ingest import documented_secrets

pytestmark = pytest.mark.e2e


def customer(updated_at: str, address: str, phone: str) -> dict[str, Any]:
    return {
        "id": 820982911946154508,
        "email": "jane.quokka@example.com",
        "first_name": "Jane",
        "last_name": "Quokka",
        "phone": phone,
        "updated_at": updated_at,
        "default_address": {"address1": address, "city": "Ottawa", "country": "Canada"},
    }


def post_shopify(stack: LocalStack, topic: str, body: dict[str, Any], webhook_id: str) -> int:
    raw = json.dumps(body).encode()
    answer = requests.post(
        f"{stack.base_url}/webhooks/shopify",
        data=raw,
        headers={
            "content-type": "application/json",
            "x-shopify-topic": topic,
            "x-shopify-webhook-id": webhook_id,
            "x-shopify-hmac-sha256": base64_hmac(documented_secrets()["shopify"], raw),
        },
        timeout=10,
    )
    return answer.status_code


def test_an_older_create_arriving_after_the_update_leaves_nxcloud_with_the_update(
    start_local_stack: Callable[..., LocalStack],
) -> None:
    stack = start_local_stack()
    assert stack.simulator is not None
    update = customer("2025-06-02T10:05:00Z", "24 Sussex Drive", "+1 613 555 0123")
    create = customer("2025-06-02T10:00:00Z", "1 Old Road", "+1 613 555 0100")

    assert post_shopify(stack, "customers/update", update, "update-1") == 202
    stack.wait_settled()
    assert post_shopify(stack, "customers/create", create, "create-1") == 202
    stack.wait_settled()

    (stored,) = stack.simulator.customers.values()
    assert stored["address"].startswith("24 Sussex Drive")
    assert stored["whats_app_phone"] == "16135550123"
    # The older create was acknowledged as superseded: NXCloud was called for the update only.
    assert len(stack.simulator.calls) == 1
    assert stack.status()["customers"] == {"synced": 1, "failed": 0, "superseded": 1, "retried": 0}
