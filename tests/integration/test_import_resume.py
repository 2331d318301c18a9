"""An import killed with SIGKILL mid-file resumes with no row lost, and no row queued twice but where SQS's answer
was lost; on a runtime-only install (no moto, no nxbridge_dev in the process), against a moto server."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from nxbridge.envelope import Envelope
from tests.fixtures.aws import REGION
from tests.integration.test_import_moto import ENDPOINTS, export_of, rows_of
from tests.integration.test_replay_runtime_install import LAYERS, RUNTIME_ONLY, moto_server  # noqa: F401

ROWS = 95
BATCHES_BEFORE_KILL = 3


class HoldingProxy:
    """Forwards every request to moto, but holds the SendMessageBatch after the first ``passed`` ones.

    ``lose_answer``: the held call reaches SQS and only its answer is held (the network lost it); otherwise the
    request itself is held and never reaches SQS.
    """

    def __init__(self, upstream: str, passed: int, *, lose_answer: bool) -> None:
        self.held = threading.Event()
        self._release = threading.Event()
        self._batches = 0
        self._lock = threading.Lock()
        target = urlsplit(upstream)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                is_batch = "SendMessageBatch" in (self.headers.get("X-Amz-Target") or "") or (
                    b"Action=SendMessageBatch" in body
                )
                with proxy._lock:
                    proxy._batches += int(is_batch)
                    hold = is_batch and proxy._batches > passed
                if hold and not lose_answer:
                    proxy.held.set()
                    proxy._release.wait()
                    return
                connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request("POST", self.path, body=body, headers=headers)
                answer = connection.getresponse()
                payload = answer.read()
                if hold:
                    proxy.held.set()
                    proxy._release.wait()
                    return
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()


def nxbridge_import(home: Path, endpoint_url: str, *argv: str) -> subprocess.Popen[str]:
    """``nxbridge import ARGV`` in a fresh interpreter that sees the runtime package and not the development one."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AWS_ENDPOINT_URL", "AWS_PROFILE")}
    env.update({"PYTHONPATH": str(LAYERS), "NXBRIDGE_HOME": str(home)})
    command = [sys.executable, "-c", RUNTIME_ONLY, "import", *argv, "--endpoint-url", endpoint_url, "--json"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def received(sqs: Any, queue_url: str) -> list[Envelope]:
    found: list[Envelope] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(Envelope.model_validate_json(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


@pytest.fixture
def proxy_for(moto_server: str) -> Iterator[Any]:  # noqa: F811
    proxies: list[HoldingProxy] = []

    def make(*, lose_answer: bool) -> HoldingProxy:
        proxies.append(HoldingProxy(moto_server, BATCHES_BEFORE_KILL, lose_answer=lose_answer))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.mark.parametrize("lose_answer", [False, True], ids=["killed-before-sqs-got-the-batch", "sqs-answer-lost"])
def test_a_run_killed_mid_file_resumes_and_queues_every_row(
    moto_server: str,  # noqa: F811
    proxy_for: Any,
    tmp_path: Path,
    lose_answer: bool,
) -> None:
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_server)
    queue_url = sqs.create_queue(QueueName="CustomersQueue")["QueueUrl"]
    export = export_of(tmp_path / "customers_export.csv", ROWS)
    home = tmp_path / "home"
    argv = [str(export), "--format", "shopify-csv", "--endpoint", "shopify"]
    argv += ["--queue-url", queue_url, "--endpoints-file", ENDPOINTS]
    proxy = proxy_for(lose_answer=lose_answer)

    first = nxbridge_import(home, proxy.url, *argv)
    try:
        assert proxy.held.wait(60), "the import never reached its fourth batch"
    finally:
        first.kill()
        first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL

    second = nxbridge_import(home, moto_server, *argv)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    summary = json.loads(out)
    held = list(range(BATCHES_BEFORE_KILL * 10 + 1, BATCHES_BEFORE_KILL * 10 + 11))
    assert summary["skipped"] == BATCHES_BEFORE_KILL * 10
    # The batch being sent when the first run died is sent again, and said so.
    assert summary["resent"] == len(held)
    assert summary["queued"] == ROWS - BATCHES_BEFORE_KILL * 10
    twice = held if lose_answer else []
    assert rows_of(received(sqs, queue_url)) == sorted([*range(1, ROWS + 1), *twice])
