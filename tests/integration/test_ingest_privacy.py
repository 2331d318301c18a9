"""Shopify's privacy topics and customers/delete, end to end on moto: the ingest handler answers at once, deletes the
customer's watermarks itself, and leaves the DLQ scan to the ReplayFunction (run here after the answer, as an
asynchronous invocation would); a forged one is 401; audit lines carry hashes and counts, never the customer.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from nxbridge.config import IngestSettings
from nxbridge.envelope import DlqRecord, Envelope
from nxbridge.handlers import Lazy
from nxbridge.handlers.ingest import make_handler
from nxbridge.ingest import Ingest
from nxbridge.ingest.privacy import PurgeUnavailable
from nxbridge.ordering import ClaimRequest, Granted, Release, Watermarks, identity_hash, micros
from tests.fixtures.aws import REGION
from tests.fixtures.ingest import (
    FakeLambdaContext,
    IngestStack,
    documented_secrets,
    load_event,
    resign,
    response_body,
    with_body,
)
from tests.fixtures.replay import Queues, reason
from tests.fixtures.security import LogAudit

JANE = {"id": 5550001, "email": "Jane.Quokka@Example.com", "phone": "+44 7700 900123"}
JANE_CUSTOMER = {"full_name": "Jane Quokka", "email": "jane.quokka@example.com", "whats_app_phone": "447700900123"}
BOB_CUSTOMER = {"full_name": "Bob Wombat", "email": "bob.wombat@example.com", "whats_app_phone": "447700900456"}
SHOP = "shopify"
PRIVACY_TOPICS = ("customers/redact", "customers/data_request", "shop/redact")
PAYLOADS: dict[str, dict[str, Any]] = {
    "customers/redact": {
        "shop_id": 954889,
        "shop_domain": "nxbridge-demo.myshopify.com",
        "customer": JANE,
        "orders_to_redact": [299938, 280263],
    },
    "customers/data_request": {
        "shop_id": 954889,
        "shop_domain": "nxbridge-demo.myshopify.com",
        "customer": JANE,
        "orders_requested": [299938],
        "data_request": {"id": 9999},
    },
    "shop/redact": {"shop_id": 954889, "shop_domain": "nxbridge-demo.myshopify.com"},
}


@dataclass
class LaterPurger:
    """The ReplayFunction as an asynchronous invocation: a request waits until the test runs it, after the answer."""

    pending: list[dict[str, Any]] = field(default_factory=list)
    refuse: bool = False

    def request(self, event: Mapping[str, Any]) -> None:
        if self.refuse:
            raise PurgeUnavailable("TooManyRequestsException")
        self.pending.append(dict(event))

    def run(self, replay_handler: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
        answers = [replay_handler(event) for event in self.pending]
        self.pending.clear()
        return answers


@dataclass
class Bridge:
    """What the bridge holds in moto, and the two functions that act on it."""

    post: Callable[[dict[str, Any]], dict[str, Any]]
    purger: LaterPurger
    watermarks: Watermarks
    queues: Queues
    replay: Callable[..., dict[str, Any]]
    dlq: dict[str, str] = field(default_factory=dict)

    def dlq_now(self) -> set[str]:
        """The names of the seeded DLQ records still there."""
        present = self.queues.dlq_ids()
        return {name for name, message_id in self.dlq.items() if message_id in present}

    def held(self, identity: str) -> bool:
        return self.watermarks.read(identity) is not None


def sent(watermarks: Watermarks, identity: str, endpoint: str) -> None:
    """A watermark as the drain leaves it after NXCloud stored a version of the customer through ``endpoint``."""
    claim = ClaimRequest(identity, micros(dt.datetime(2025, 6, 1, tzinfo=dt.UTC)), endpoint)
    assert isinstance(watermarks.claim(claim, owner="drain", lease_seconds=120), Granted)
    assert watermarks.release(Release(identity, claim.event_us), owner="drain")


@pytest.fixture
def bridge(ingest_stack: IngestStack, replay_queues: Queues, replay_handler: Callable[..., dict[str, Any]]) -> Bridge:
    purger = LaterPurger()
    handler = make_handler(Lazy(lambda: Ingest.from_settings(IngestSettings.from_env(), purger=purger)))
    watermarks = Watermarks(boto3.client("dynamodb", region_name=REGION), ingest_stack.table)

    def post(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = handler(event, FakeLambdaContext(aws_request_id=str(uuid.uuid4())))
        return result

    bridge = Bridge(post, purger, watermarks, replay_queues, replay_handler)
    sent(watermarks, f"{SHOP}:id:{JANE['id']}", SHOP)
    sent(watermarks, "email:jane.quokka@example.com", "form")
    sent(watermarks, f"{SHOP}:id:42", SHOP)
    records = {
        "jane-shop": Envelope(endpoint=SHOP, kind="shopify", customer=JANE_CUSTOMER, identity=f"{SHOP}:id:5550001"),
        # Written before envelopes carried an identity: found by the e-mail.
        "jane-form-legacy": Envelope(endpoint="form", kind="form", customer=JANE_CUSTOMER),
        "bob-shop": Envelope(endpoint=SHOP, kind="shopify", customer=BOB_CUSTOMER, identity=f"{SHOP}:id:42"),
        "bob-form": Envelope(endpoint="form", kind="form", customer=BOB_CUSTOMER),
    }
    for name, envelope in records.items():
        bridge.dlq[name] = replay_queues.put_record(DlqRecord(envelope=envelope, error=reason()))
    return bridge


def shopify_event(topic: str, payload: Mapping[str, Any], *, forged: bool = False) -> dict[str, Any]:
    """A Shopify webhook of ``topic``, signed with the endpoint's secret (or another one)."""
    event = with_body(load_event("shopify"), json.dumps(payload).encode())
    event["headers"]["x-shopify-topic"] = topic
    event["headers"]["x-shopify-webhook-id"] = str(uuid.uuid4())
    event["requestContext"]["requestId"] = f"req-{uuid.uuid4().hex[:8]}"
    return resign(event, "shpss_not_the_apps_secret" if forged else documented_secrets()["shopify"])


@pytest.fixture
def audit(log_audit: LogAudit) -> LogAudit:
    log_audit.forbid([*JANE_CUSTOMER.values(), str(JANE["email"]), str(JANE["phone"]), *BOB_CUSTOMER.values()])
    log_audit.retain(lambda record: record.getMessage().startswith("privacy request"))
    return log_audit


def audit_lines(audit: LogAudit, message: str) -> list[dict[str, Any]]:
    return [vars(r) for r in audit.records if r.getMessage() == message]


@pytest.mark.parametrize("topic", PRIVACY_TOPICS)
def test_a_forged_privacy_request_is_refused_and_changes_nothing(bridge: Bridge, topic: str) -> None:
    answer = bridge.post(shopify_event(topic, PAYLOADS[topic], forged=True))

    assert answer["statusCode"] == 401
    assert bridge.purger.pending == []
    assert bridge.held(f"{SHOP}:id:5550001") and bridge.held("email:jane.quokka@example.com")


def test_customers_redact_purges_the_watermarks_at_once_and_the_dlq_records_after_the_answer(
    bridge: Bridge, audit: LogAudit
) -> None:
    answer = bridge.post(shopify_event("customers/redact", PAYLOADS["customers/redact"]))

    assert answer["statusCode"] == 200
    assert response_body(answer)["acknowledged"] == "customers/redact"
    assert not bridge.held(f"{SHOP}:id:5550001") and not bridge.held("email:jane.quokka@example.com")
    assert bridge.held(f"{SHOP}:id:42")
    # The DLQ scan is not in the request: it runs when the ReplayFunction takes the asynchronous request.
    assert bridge.dlq_now() == set(bridge.dlq)
    (done,) = bridge.purger.run(bridge.replay)

    assert (done["ok"], done["erased"]) == (True, 2)
    assert bridge.dlq_now() == {"bob-shop", "bob-form"}
    (line,) = audit_lines(audit, "privacy request")
    hashes = {identity_hash(i) for i in (f"{SHOP}:id:5550001", "email:jane.quokka@example.com", "phone:447700900123")}
    assert (line["topic"], set(line["identities"]), line["watermarksDeleted"]) == ("customers/redact", hashes, 2)
    (carried_out,) = audit_lines(audit, "privacy request carried out")
    assert carried_out["erased"] == 2 and carried_out["audit"].startswith("customers/redact:")


def test_a_data_request_logs_what_the_bridge_holds_as_counts(bridge: Bridge, audit: LogAudit) -> None:
    answer = bridge.post(shopify_event("customers/data_request", PAYLOADS["customers/data_request"]))
    (counted,) = bridge.purger.run(bridge.replay)

    assert answer["statusCode"] == 200
    assert counted["total"] == 2
    assert bridge.dlq_now() == set(bridge.dlq)
    (line,) = audit_lines(audit, "privacy request")
    assert (line["topic"], line["watermarks"]) == ("customers/data_request", 2)
    assert "idempotency" in line
    (carried_out,) = audit_lines(audit, "privacy request carried out")
    assert (carried_out["action"], carried_out["total"]) == ("stats", 2)


def test_shop_redact_purges_the_endpoints_dlq_records_and_watermarks(bridge: Bridge, audit: LogAudit) -> None:
    answer = bridge.post(shopify_event("shop/redact", PAYLOADS["shop/redact"]))
    assert answer["statusCode"] == 200
    (done,) = bridge.purger.run(bridge.replay)

    assert (done["erased"], done["watermarks_erased"]) == (2, 2)
    assert bridge.dlq_now() == {"jane-form-legacy", "bob-form"}
    assert not bridge.held(f"{SHOP}:id:5550001") and not bridge.held(f"{SHOP}:id:42")
    assert bridge.held("email:jane.quokka@example.com")
    (line,) = audit_lines(audit, "privacy request")
    assert line["topic"] == "shop/redact" and "identities" not in line


def test_customers_delete_is_acknowledged_counted_and_changes_nothing(
    bridge: Bridge, ingest_stack: IngestStack, drain_metrics: Callable[[str], list[float]], capsys: Any
) -> None:
    answer = bridge.post(shopify_event("customers/delete", {"id": JANE["id"], "phone": None, "addresses": []}))

    assert answer["statusCode"] == 200
    assert "NXCloud has no delete call" in response_body(answer)["ignored"]
    assert ingest_stack.queued() == [] and bridge.purger.pending == []
    assert bridge.held(f"{SHOP}:id:5550001")
    assert '"CustomersDeleteIgnored"' in capsys.readouterr().out


def test_a_privacy_request_that_cannot_be_passed_on_is_answered_503_so_shopify_retries(bridge: Bridge) -> None:
    bridge.purger.refuse = True

    answer = bridge.post(shopify_event("customers/redact", PAYLOADS["customers/redact"]))

    assert answer["statusCode"] == 503
    assert response_body(answer)["error"] == "privacy_unavailable"


def test_idempotency_entries_hold_no_customer_data(bridge: Bridge, ingest_stack: IngestStack) -> None:
    body = {
        "id": JANE["id"],
        "email": JANE["email"],
        "first_name": "Jane",
        "last_name": "Quokka",
        "phone": JANE["phone"],
    }
    assert bridge.post(shopify_event("customers/create", body))["statusCode"] == 202

    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=ingest_stack.table)["Items"]
    ingest_items = [item for item in items if item["id"]["S"].startswith("nxbridge-ingest")]

    assert ingest_items
    text = json.dumps(items).lower()
    for value in (*JANE_CUSTOMER.values(), "quokka", "jane", "7700", str(JANE["id"])):
        assert value.lower() not in text
