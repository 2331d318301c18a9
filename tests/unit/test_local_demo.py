"""The demo rebuilds HTTP requests from the sample API Gateway events, and its expectations cover every sample."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from nxbridge.endpoints import parse_endpoints, parse_secrets
from nxbridge.sources.verify import verify_standard
from nxbridge_dev.local.demo import EVENTS_DIR, Delivery, Expectations, delivery_from_event, sample_files

NOW = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _delivery(name: str, **changes: str) -> tuple[dict[str, Any], Delivery]:
    event = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    event["headers"].update(changes)
    delivery = delivery_from_event(
        name,
        event,
        endpoints=parse_endpoints((EVENTS_DIR / "endpoints.json").read_text(encoding="utf-8")),
        secrets=parse_secrets((EVENTS_DIR / "webhook-secrets.json").read_text(encoding="utf-8")),
        now=NOW,
    )
    return event, delivery


def _secrets(name: str) -> tuple[str, ...]:
    return parse_secrets((EVENTS_DIR / "webhook-secrets.json").read_text(encoding="utf-8"))[name]


def test_a_valid_standard_webhooks_signature_is_renewed_for_the_posting_time() -> None:
    _, delivery = _delivery("api/standard.json")

    assert delivery.headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert verify_standard(delivery.headers, delivery.body, _secrets("standard"), now=NOW, tolerance_seconds=300)


def test_a_bad_standard_webhooks_signature_is_not_repaired() -> None:
    forged = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    event, delivery = _delivery("api/nxcloud.json", **{"webhook-signature": forged})

    assert delivery.headers["webhook-signature"] == forged
    assert delivery.headers["webhook-timestamp"] == event["headers"]["webhook-timestamp"]


def test_the_request_is_the_one_api_gateway_received() -> None:
    _, delivery = _delivery("api/form.json")

    assert delivery.method == "POST"
    assert delivery.target == "/webhooks/form"
    assert delivery.body.startswith(b"name=")
    assert delivery.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "host" not in delivery.headers
    assert "x-forwarded-for" not in delivery.headers


def test_the_expectations_name_every_sample_and_nothing_else() -> None:
    expectations = Expectations.model_validate_json((EVENTS_DIR / "demo" / "expected.json").read_text("utf-8"))

    names = {path.relative_to(EVENTS_DIR).as_posix() for path in sample_files()}

    assert set(expectations.deliveries) == names
