"""The local stack runs the real ingest and drain functions behind real HTTP, as API Gateway, SQS and Lambda would."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from nxbridge.envelope import DlqRecord, Envelope
from nxbridge.sources.verify import base64_hmac
from nxbridge_dev.local.demo import Delivery, identity, load_deliveries, post
from nxbridge_dev.local.stack import ROOT, LocalSettings, LocalStack, run
from tests.fixtures.local import FAST_WINDOW

pytestmark = pytest.mark.e2e

StartStack = Callable[..., LocalStack]
# A visibility timeout longer than the batching window: shorter, a message comes back inside the window that
# received it and the batch holds it twice (which is why AWS asks for 6 x the function timeout plus the window).
RETRY_SECONDS = 2

# What the samples in events/api and events/demo must leave behind (written out here, independently of
# events/demo/expected.json, which the demo checks).
SYNCED = {
    "919876543210",
    "ahmed.hassan@example.ae",
    "ana.souza@example.com.br",
    "kenji.tanaka@example.jp",
    "lena.fischer@example.de",
    "maria.garcia@example.com",
    "oliver.smith@example.co.uk",
    "sophie.dubois@example.fr",
    "wei.zhang@example.com",
}


def _deliveries() -> dict[str, Delivery]:
    return {d.name: d for d in load_deliveries()}


def _dlq_bodies(stack: LocalStack) -> list[str]:
    """Every DLQ message body; the messages are left in the queue (visible again at once)."""
    resources = stack.require_resources()
    sqs = stack.aws.sqs()
    seen: dict[str, str] = {}
    handles: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=resources.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30)
        messages = got.get("Messages", [])
        if not messages:
            break
        for message in messages:
            seen[message["MessageId"]] = message["Body"]
            handles.append(message["ReceiptHandle"])
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=resources.dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return list(seen.values())


def _stored(stack: LocalStack) -> list[dict[str, Any]]:
    assert stack.simulator is not None
    return list(stack.simulator.customers.values())


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.05)


def test_sample_webhooks_end_in_nxcloud_or_in_the_dlq_and_nowhere_else(start_local_stack: StartStack) -> None:
    stack = start_local_stack()
    with requests.Session() as session:
        answers = {d.name: post(session, stack.base_url, d) for d in load_deliveries()}

    status = requests.get(f"{stack.base_url}/_local/status", timeout=10).json()
    deadline = time.monotonic() + 30
    while not status["settled"]:
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
        status = requests.get(f"{stack.base_url}/_local/status", timeout=10).json()

    assert {name: a.status for name, a in answers.items() if a.status != 202} == {
        "demo/form-invalid.json": 422,
        "demo/shopify-bad-signature.json": 401,
        "demo/shopify-duplicate.json": 200,
        "demo/shopify-malformed.json": 400,
        "demo/unknown-endpoint.json": 404,
    }
    assert sorted(identity(c) for c in _stored(stack)) == sorted(SYNCED)
    dead = [DlqRecord.model_validate_json(body) for body in _dlq_bodies(stack)]
    assert len(dead) == 1
    assert dead[0].envelope is not None
    assert dead[0].envelope.endpoint == "nxcloud"
    assert dead[0].envelope.customer.full_name == "Tom Becker"
    assert dead[0].envelope.customer.belong_seat_user == "new.agent@example.com"
    assert dead[0].error.errorCode == "12148"
    # Ten customers were accepted (the duplicate delivery queued nothing): nine synced, one dead-lettered.
    assert status["poller"]["received"] == 10
    assert status["customers"] == {"synced": 9, "failed": 1, "superseded": 0, "retried": 0}
    assert status["queue"]["depth"] == 0
    assert status["dlq"]["depth"] == 1
    assert status["simulator"]["stored"] == 9


def test_a_duplicate_delivery_is_queued_once(start_local_stack: StartStack) -> None:
    stack = start_local_stack()
    shopify = _deliveries()["api/shopify.json"]
    with requests.Session() as session:
        first = post(session, stack.base_url, shopify)
        again = post(session, stack.base_url, shopify)

    status = stack.wait_settled(30)

    assert (first.status, first.body["accepted"]) == (202, 1)
    assert (again.status, again.body["duplicate"]) == (200, True)
    assert status["poller"]["received"] == 1
    assert [identity(c) for c in _stored(stack)] == ["maria.garcia@example.com"]


def test_a_chunked_request_body_reaches_the_function_whole(start_local_stack: StartStack) -> None:
    stack = start_local_stack()
    shopify = _deliveries()["api/shopify.json"]

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(shopify.body), 100):
            yield shopify.body[start : start + 100]

    response = requests.post(stack.base_url + shopify.target, data=pieces(), headers=shopify.headers, timeout=10)
    stack.wait_settled(30)

    assert (response.status_code, response.json()["accepted"]) == (202, 1)
    assert [identity(c) for c in _stored(stack)] == ["maria.garcia@example.com"]


def test_a_webhook_secret_can_be_overridden_from_the_environment(
    start_local_stack: StartStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET_SHOPIFY", "rotated-shop-secret")
    stack = start_local_stack(LocalSettings.from_env(port=0, batch_window=FAST_WINDOW))
    documented = _deliveries()["api/shopify.json"]
    signature = base64_hmac("rotated-shop-secret", documented.body)
    resigned = replace(documented, headers={**documented.headers, "x-shopify-hmac-sha256": signature})

    with requests.Session() as session:
        old = post(session, stack.base_url, documented)
        new = post(session, stack.base_url, resigned)

    assert old.status == 401
    assert new.status == 202


def test_transient_nxcloud_failures_come_back_after_the_visibility_timeout_and_are_delivered(
    start_local_stack: StartStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One attempt per invocation: each failure is a batchItemFailure that SQS delivers again a second later.
    monkeypatch.setenv("NXCLOUD_MAX_ATTEMPTS", "1")
    stack = start_local_stack(visibility_timeout=RETRY_SECONDS)
    assert stack.simulator is not None
    stack.simulator.inject("http_500", count=2)

    with requests.Session() as session:
        assert post(session, stack.base_url, _deliveries()["api/woocommerce.json"]).status == 202
    status = stack.wait_settled(30)

    assert [identity(c) for c in _stored(stack)] == ["oliver.smith@example.co.uk"]
    assert status["poller"]["batches"] == 3
    assert status["customers"] == {"synced": 1, "failed": 0, "superseded": 0, "retried": 2}
    assert status["dlq"]["depth"] == 0


def test_a_message_that_always_fails_is_moved_to_the_dlq_after_max_receive_count(
    start_local_stack: StartStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NXCLOUD_MAX_ATTEMPTS", "1")
    stack = start_local_stack(visibility_timeout=RETRY_SECONDS)
    receives = stack.require_resources().max_receive_count
    assert stack.simulator is not None
    # 1001: the bridge is misconfigured, no record is at fault; the drain hands every message back to SQS.
    stack.simulator.inject("code", count=10, code=1001)

    with requests.Session() as session:
        assert post(session, stack.base_url, _deliveries()["api/tally.json"]).status == 202
    _wait_for(lambda: stack.status()["dlq"]["depth"] == 1 and stack.status()["settled"])

    bodies = _dlq_bodies(stack)
    assert len(bodies) == 1
    # SQS's own redrive moves the message as it is: the bare envelope, without a reason.
    envelope = Envelope.model_validate_json(bodies[0])
    assert envelope.endpoint == "tally"
    assert envelope.customer.email == "sophie.dubois@example.fr"
    assert _stored(stack) == []
    assert stack.status()["customers"] == {"synced": 0, "failed": 0, "superseded": 0, "retried": receives}


def test_only_the_templates_routes_reach_the_ingest_function(start_local_stack: StartStack) -> None:
    stack = start_local_stack()
    assert stack.ingest is not None

    preflight = requests.options(
        stack.webhook_url("form"),
        headers={"Origin": "https://www.example.com", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    invoked_by_options = stack.ingest.invocations
    get = requests.get(stack.webhook_url("form"), timeout=10)
    nested = requests.post(f"{stack.base_url}/webhooks/form/extra", data=b"{}", timeout=10)

    assert invoked_by_options == 1
    assert preflight.status_code != 404
    assert (get.status_code, get.json()) == (404, {"message": "Not Found"})
    assert (nested.status_code, nested.json()) == (404, {"message": "Not Found"})
    assert stack.ingest.invocations == 1


def test_the_local_routes_are_the_templates_routes(start_local_stack: StartStack) -> None:
    class _CfnLoader(yaml.SafeLoader):
        pass

    _CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_CfnLoader)
    events = template["Resources"]["IngestFunction"]["Properties"]["Events"].values()
    routes = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events if e["Type"] == "HttpApi"}
    stack = start_local_stack()
    assert stack.front is not None and stack.ingest is not None

    assert {(route.method, route.path) for route in stack.front.routes} == routes
    assert {route.function.arn for route in stack.front.routes} == {stack.ingest.arn}


def test_stopping_restores_the_environment_the_stack_changed(start_local_stack: StartStack) -> None:
    before = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "QUEUE_URL", "NXCLOUD_SECRET_ARN", "AWS_REGION")}
    stack = start_local_stack()
    assert os.environ["AWS_ENDPOINT_URL"] == stack.require_resources().endpoint_url

    stack.stop()

    assert {k: os.environ.get(k) for k in before} == before


def test_nxbridge_run_explains_a_busy_port_and_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setenv("PORT", str(busy.getsockname()[1]))

        status = run(
            argparse.Namespace(
                port=None,
                batch_window=None,
                visibility_timeout=None,
                ingest_concurrency=None,
                endpoints_file=None,
                parameter_overrides=None,
            )
        )

    assert status == 1
    assert "is in use" in capsys.readouterr().out
    assert "QUEUE_URL" not in os.environ


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_nxbridge_run_serves_status_and_stops_cleanly_on_a_signal(stop_signal: signal.Signals, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "BATCH_WINDOW_SECONDS": "1"}
    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "nxbridge", "run"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
        try:
            deadline = time.monotonic() + 60
            status: dict[str, Any] | None = None
            while status is None:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    status = requests.get(f"http://127.0.0.1:{port}/_local/status", timeout=2).json()
                except requests.ConnectionError:
                    time.sleep(0.1)
            process.send_signal(stop_signal)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    output = log.read_text()
    assert code == 0, output
    assert status["settled"] is True
    assert status["simulator"]["stored"] == 0
    assert f"http://127.0.0.1:{port}/webhooks/shopify" in output
    assert "in memory" in output
