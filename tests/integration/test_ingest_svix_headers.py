"""A Standard Webhooks delivery signed under svix-* header names goes through IngestFunction and is deduplicated."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.ingest import IngestStack, Invoke, load_event, response_body


def as_svix(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` (signed, current) with its webhook-* headers renamed svix-*, as a Svix-based sender sends them."""
    headers = dict(event["headers"])
    for name in ("id", "timestamp", "signature"):
        headers[f"svix-{name}"] = headers.pop(f"webhook-{name}")
    return {**event, "headers": headers}


@pytest.mark.parametrize("kind", ["standard", "nxcloud"])
def test_a_svix_signed_delivery_is_accepted_once_with_the_svix_id_as_delivery_id(
    kind: str, ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    event = as_svix(load_event(kind))

    first, again = ingest_handler(event), ingest_handler(event)

    assert first["statusCode"] == 202
    assert response_body(again)["duplicate"] is True
    queued = ingest_stack.queued()
    assert queued
    assert {e["delivery_id"] for e in queued} == {event["headers"]["svix-id"]}
