"""What newest-wins ordering adds to one drain batch: wall time per 100 records with and without the watermarks.

``python -m bench.ordering`` drains batches of 100 distinct customers with an NXCloud that answers at once, three
ways: without a watermark table (in-batch coalescing only), against moto's DynamoDB (in-process: its server work
shares the GIL with the drain, so threads overlap little; a pessimistic figure), and against a loopback stub that
answers every UpdateItem at once (boto3's own cost per call: signing, HTTP, parsing; DynamoDB's ~5 ms in-region
latency comes on top, and the thread pool overlaps it). Each with 1 and with ``WORKERS`` threads. Prints medians.
"""

from __future__ import annotations

import datetime as dt
import http.server
import itertools
import json
import multiprocessing
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from moto import mock_aws

from bench.common import quiet_package_logs
from bench.fakes import DLQ_URL, QUEUE_ARN, FakeSqs, FixedCredentials, customer
from nxbridge.config import DrainSettings
from nxbridge.contract import BatchCreateRequest, BatchCreateResult, SuccessItem
from nxbridge.drain import Drainer
from nxbridge.envelope import Envelope
from nxbridge.nxcloud.client import Delivered, NXCloudCredentials, Outcome
from nxbridge.ordering import WORKERS, Watermarks

BATCH = 100
ROUNDS = 7
REGION = "us-east-1"
TABLE = "bench-ordering"
T0 = dt.datetime(2025, 6, 2, 10, 0, tzinfo=dt.UTC)
# Every batch is newer than the one before, whichever configuration drains it: each is sent, none superseded.
_BATCHES = itertools.count()


class InstantNXCloud:
    """Stores everything at once."""

    def batch_create(self, request: BatchCreateRequest, credentials: NXCloudCredentials) -> Outcome:
        """Every customer stored."""
        items = [SuccessItem(index=i, customerId=1 + i) for i in range(len(request.customers))]
        result = BatchCreateResult(totalCount=len(items), successCount=len(items), failCount=0, successItems=items)
        return Delivered(result, "bench", 0.0)


def batch(round_number: int) -> list[SQSRecord]:
    """100 distinct customers, each newer than in any batch before."""
    at = T0 + dt.timedelta(minutes=next(_BATCHES))
    records = []
    for n in range(BATCH):
        envelope = Envelope.model_validate(
            {"endpoint": "shop", "kind": "shopify", "customer": customer(n), "event_at": at, "identity": f"shop:id:{n}"}
        )
        records.append(
            SQSRecord(
                {
                    "messageId": f"m-{round_number}-{n}",
                    "receiptHandle": "h",
                    "body": envelope.to_message(),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSourceARN": QUEUE_ARN,
                }
            )
        )
    return records


def drainer(watermarks: Watermarks | None, workers: int) -> Drainer:
    """The production Drainer with instant NXCloud and DLQ stand-ins."""
    settings = DrainSettings.model_validate(
        {"nxcloud_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:x", "dlq_url": DLQ_URL}
    )
    built = Drainer(
        sqs=FakeSqs(),  # type: ignore[arg-type]
        credentials=FixedCredentials(),
        nxcloud=InstantNXCloud(),
        settings=settings,
        watermarks=watermarks,
    )
    built.ordering_workers = workers
    return built


def median_ms(drain: Drainer) -> tuple[float, float]:
    """Median wall time and CPU time (this process) of one 100-record batch over ROUNDS rounds, in ms."""
    walls, cpus = [], []
    for round_number in range(ROUNDS):
        records = batch(round_number)
        started, cpu = time.perf_counter(), time.process_time()
        result = drain.drain(records, lambda: 900_000)
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        assert len(result.synced) == BATCH, "every customer must be stored"
    return statistics.median(walls), statistics.median(cpus)


class _Stub(http.server.BaseHTTPRequestHandler):
    """DynamoDB's UpdateItem answered with no old item (a granted claim, a done release), in one write."""

    protocol_version = "HTTP/1.1"
    # One send per answer: headers and body written separately would meet the client's delayed ACK (40 ms).
    wbufsize = 1 << 16

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        return


def _serve(port: Any) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    port.value = server.server_address[1]
    server.serve_forever()


@contextmanager
def stub_dynamodb() -> Iterator[str]:
    """A loopback server in another process (its CPU is not the drain's) answering at once; yields its URL."""
    port = multiprocessing.Value("i", 0)
    process = multiprocessing.Process(target=_serve, args=(port,), daemon=True)
    process.start()
    try:
        deadline = time.monotonic() + 10
        while not port.value and time.monotonic() < deadline:
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port.value}"
    finally:
        process.terminate()
        process.join()


def measure() -> dict[str, tuple[float, float]]:
    """Median wall and CPU ms per batch of each configuration."""
    figures: dict[str, tuple[float, float]] = {}
    figures["no table (coalescing only)"] = median_ms(drainer(None, WORKERS))
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for workers in (1, WORKERS):
            watermarks = Watermarks(dynamodb, TABLE)
            figures[f"moto DynamoDB, {workers} thread(s)"] = median_ms(drainer(watermarks, workers))
    with stub_dynamodb() as url:
        stub = boto3.client(
            "dynamodb", region_name=REGION, endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x"
        )
        for workers in (1, WORKERS):
            figures[f"loopback stub, {workers} thread(s)"] = median_ms(drainer(Watermarks(stub, TABLE), workers))
    return figures


def main(out: Callable[[str], None] = print) -> None:
    """Print the medians and what ordering adds to each."""
    with quiet_package_logs():
        figures = measure()
    base, _ = figures["no table (coalescing only)"]
    out(json.dumps({name: [round(wall, 1), round(cpu, 1)] for name, (wall, cpu) in figures.items()}))
    for name, (wall, cpu) in figures.items():
        out(f"{name:32s} {wall:8.1f} ms wall (+{wall - base:.1f}), {cpu:8.1f} ms CPU per 100-record batch")


if __name__ == "__main__":
    main()
