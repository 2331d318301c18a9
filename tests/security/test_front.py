"""Hostile requests over real HTTP through the local stack's front (what API Gateway does in front of ingest):
duplicate and folded signature headers on the wire, oversize bodies at both limits, bytes that are not UTF-8,
forged and replayed deliveries. Each gets its 4xx and nothing reaches the queue or NXCloud."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from nxbridge.sources.verify import base64_hmac
from nxbridge_dev.local.demo import Delivery, identity, load_deliveries, post
from nxbridge_dev.local.stack import LocalStack
from tests.fixtures.ingest import documented_secrets

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("log_audit")]

StartStack = Callable[..., LocalStack]
SIGNATURE = "X-Shopify-Hmac-Sha256"


def shopify() -> Delivery:
    """The genuine Shopify sample as an HTTP request."""
    return next(d for d in load_deliveries() if d.name == "api/shopify.json")


def signed(delivery: Delivery, body: bytes) -> Delivery:
    """``delivery`` carrying ``body``, genuinely signed."""
    signature = base64_hmac(documented_secrets()["shopify"], body)
    return replace(delivery, body=body, headers={**delivery.headers, "x-shopify-hmac-sha256": signature})


def raw_request(base_url: str, delivery: Delivery, header_lines: list[str]) -> tuple[int, bytes]:
    """POST ``delivery`` with exactly these header lines (for what HTTP clients refuse to send)."""
    url = urlsplit(base_url)
    lines = [f"POST {delivery.target} HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {len(delivery.body)}"]
    lines += ["Content-Type: application/json", "X-Shopify-Topic: customers/create", "Connection: close"]
    head = ("\r\n".join(lines + header_lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection((url.hostname, url.port), timeout=30) as connection:
        connection.sendall(head + delivery.body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def assert_nothing_queued(stack: LocalStack) -> None:
    status = stack.status()
    assert (status["queue"]["depth"], status["queue"]["in_flight"], status["poller"]["received"]) == (0, 0, 0)
    assert status["simulator"]["calls"] == 0


def test_duplicate_folded_and_smuggled_signature_headers_on_the_wire_get_401(start_local_stack: StartStack) -> None:
    stack = start_local_stack()
    genuine = shopify()
    good = genuine.headers["x-shopify-hmac-sha256"]
    forged = base64_hmac("forged", genuine.body)
    attempts = {
        "forged then genuine": [f"{SIGNATURE}: {forged}", f"{SIGNATURE}: {good}"],
        "genuine then forged": [f"{SIGNATURE}: {good}", f"{SIGNATURE}: {forged}"],
        "genuine twice": [f"{SIGNATURE}: {good}", f"{SIGNATURE}: {good}"],
        "folded continuation": [f"{SIGNATURE}: {forged}", f" {good}"],
        "bare LF then genuine": [f"{SIGNATURE}: {forged}\n{SIGNATURE}: {good}"],
        "bare CR then genuine": [f"{SIGNATURE}: {forged}\r{SIGNATURE}: {good}"],
    }

    answers = {case: raw_request(stack.base_url, genuine, lines)[0] for case, lines in attempts.items()}

    assert answers == dict.fromkeys(attempts, 401)
    assert_nothing_queued(stack)


def test_bodies_over_the_gateway_limit_and_over_the_function_limit_get_413(start_local_stack: StartStack) -> None:
    stack = start_local_stack()
    genuine = shopify()
    over_gateway = signed(genuine, genuine.body[:-1] + b',"pad":"' + b"x" * (10 * 1024 * 1024) + b'"}')
    over_function = signed(genuine, genuine.body[:-1] + b',"pad":"' + b"x" * (2 * 1024 * 1024) + b'"}')

    with requests.Session() as session:
        gateway = post(session, stack.base_url, over_gateway)
        function = post(session, stack.base_url, over_function)

    assert gateway.status == 413
    assert (function.status, function.body["error"]) == (413, "payload_too_large")
    assert_nothing_queued(stack)


def test_hostile_bodies_over_http_get_4xx_and_queue_nothing(start_local_stack: StartStack) -> None:
    stack = start_local_stack()
    genuine = shopify()
    hostile: dict[str, tuple[Delivery, int]] = {
        # The front hands JSON to the function as text, as API Gateway does: bytes that are not UTF-8 do not
        # survive that, so the signature no longer matches.
        "not UTF-8": (signed(genuine, genuine.body.replace(b"maria", b"mar\xffia")), 401),
        "nested too deep": (signed(genuine, b"[" * 100_000 + b"]" * 100_000), 400),
        "tampered": (replace(genuine, body=genuine.body.replace(b"maria", b"mario")), 401),
        "forged": (replace(genuine, headers={**genuine.headers, "x-shopify-hmac-sha256": "AAAA"}), 401),
        "unsigned": (replace(genuine, headers={"content-type": "application/json"}), 401),
    }

    with requests.Session() as session:
        answers = {case: post(session, stack.base_url, delivery).status for case, (delivery, _) in hostile.items()}

    assert answers == {case: status for case, (_, status) in hostile.items()}
    assert_nothing_queued(stack)


def test_a_replayed_delivery_over_http_is_stored_once(start_local_stack: StartStack) -> None:
    stack = start_local_stack()
    genuine = shopify()

    with requests.Session() as session:
        answers = [post(session, stack.base_url, genuine) for _ in range(4)]
    status = stack.wait_settled(30)

    assert [a.status for a in answers] == [202, 200, 200, 200]
    assert all(a.body.get("duplicate") for a in answers[1:])
    assert status["poller"]["received"] == 1
    assert stack.simulator is not None
    stored: list[dict[str, Any]] = list(stack.simulator.customers.values())
    assert [identity(c) for c in stored] == ["maria.garcia@example.com"]
