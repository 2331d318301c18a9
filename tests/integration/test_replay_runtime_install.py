"""``nxbridge dlq`` on a runtime-only install: a separate process that cannot import moto or nxbridge_dev.

The process runs the console script's ``main`` behind an import hook that refuses the development package and moto,
as a ``pip install .`` without extras would; it talks to a moto server this test starts on a free loopback port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

import nxbridge
from nxbridge.envelope import DlqRecord, dlq_message_attributes
from tests.fixtures.replay import envelope, reason

REGION = "eu-west-1"
LAYERS = Path(nxbridge.__file__).resolve().parents[1]
# Run nxbridge's console entry with moto and nxbridge_dev unimportable; fail if either got imported anyway.
RUNTIME_ONLY = """
import sys

BLOCKED = ("moto", "nxbridge_dev")


class RuntimeOnly:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (runtime-only install)", name=name)
        return None


sys.meta_path.insert(0, RuntimeOnly())
from nxbridge.cli import main

try:
    status = main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
leaked = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
if leaked:
    sys.stderr.write(f"imported {leaked}\\n")
    status = 97
sys.exit(status)
"""


def nxbridge_runtime_only(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``nxbridge ARGV`` in a fresh interpreter that sees the runtime package and not the development one."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AWS_ENDPOINT_URL", "AWS_PROFILE")}
    env["PYTHONPATH"] = str(LAYERS)
    return subprocess.run(
        [sys.executable, "-c", RUNTIME_ONLY, *argv], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.fixture
def moto_server() -> Iterator[str]:
    """moto's server on 127.0.0.1 (free port), wiped and stopped afterwards; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        # moto's backends are process-global: leave nothing behind for the next test.
        requests.post(f"{url}/moto-api/reset", timeout=10)
        server.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port held bound but not listening, so a connection to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_dlq_help_needs_neither_moto_nor_the_development_package() -> None:
    done = nxbridge_runtime_only("dlq", "--help")
    assert done.returncode == 0, done.stderr
    for action in ("stats", "list", "show", "replay", "export", "purge"):
        assert action in done.stdout
    # The development commands are still listed, as hints: proof that the hook did refuse nxbridge_dev.
    listing = nxbridge_runtime_only("--help")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count("[needs the development package]") == 3


def test_dlq_stats_runs_against_a_separate_moto_server_without_moto_in_the_process(moto_server: str) -> None:
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_server)
    queue_url = sqs.create_queue(QueueName="RuntimeCustomersQueue")["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName="RuntimeCustomersDLQ")["QueueUrl"]
    record = DlqRecord(envelope=envelope(endpoint="typeform"), error=reason("12148"))
    sqs.send_message(
        QueueUrl=dlq_url, MessageBody=record.to_message(), MessageAttributes=dlq_message_attributes(record)
    )
    sqs.send_message(QueueUrl=dlq_url, MessageBody=envelope().to_message())

    done = nxbridge_runtime_only(
        "dlq",
        "stats",
        "--queue-url",
        queue_url,
        "--dlq-url",
        dlq_url,
        "--endpoint-url",
        moto_server,
        "--region",
        REGION,
        "--wait-seconds",
        "0",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    counted = json.loads(done.stdout)
    assert counted["total"] == 2
    assert counted["by_error_code"] == {"12148": 1, "maxReceiveCount": 1}
    assert counted["by_endpoint"] == {"typeform": 1, "shopify": 1}

    table = nxbridge_runtime_only(
        "dlq",
        "stats",
        "--queue-url",
        queue_url,
        "--dlq-url",
        dlq_url,
        "--endpoint-url",
        moto_server,
        "--region",
        REGION,
    )
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("2 records")


def test_an_unreachable_endpoint_is_a_one_line_error_not_a_traceback(closed_port: int) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}"
    done = nxbridge_runtime_only(
        "dlq",
        "stats",
        "--queue-url",
        f"{endpoint}/123456789012/CustomersQueue",
        "--dlq-url",
        f"{endpoint}/123456789012/CustomersDLQ",
        "--endpoint-url",
        endpoint,
        "--region",
        REGION,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("nxbridge dlq: AWS error: Could not connect to the endpoint URL")
    assert "Traceback" not in done.stderr
