"""Figure 2: CPU the drain spends on one batch of 100 records, against the floor of json.dumps + MD5 of its body.

The Drainer is the production one with its network stubbed: the NXCloud client is the real ``NXCloudClient``
(serialize once, sign, parse, classify) over a session that answers at once with failItems, the DLQ is a fake
SQS client, the credentials are a warm cache. What is timed is ``Drainer.drain``: decode 100 SQS records (current
envelopes, read on trust), build and sign the request, parse the answer, map successItems/failItems back to
messages, write the DLQ records, log and count. Measured in interleaved rounds (one drain, then the floor) so that
load on the machine hits both.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from typing import Any, cast

import requests
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from bench.common import Figure, fmt_ms, median, percentile, quiet_package_logs, table
from bench.fakes import (
    CREDENTIALS,
    DLQ_URL,
    FIXED_NOW,
    QUEUE_ARN,
    CannedResponse,
    CannedSession,
    FakeSqs,
    FixedCredentials,
    batch_answer,
    customer,
)
from nxbridge.config import DrainSettings
from nxbridge.contract import BatchCreateRequest
from nxbridge.drain import Drainer
from nxbridge.envelope import Envelope, read_messages
from nxbridge.nxcloud.client import NXCloudClient, parse_response
from nxbridge.nxcloud.signing import signed_headers
from nxbridge.observability import metrics

BATCH = 100
FAIL_INDEXES = (3, 17, 42, 64, 99)
TARGET_RATIO = 5.0
FLOOR_REPEATS = 10
DECODE = "decode 100 current envelopes on trust (`read_messages`: one pydantic-core call checks the batch's shape)"
COMMAND = "python -m bench --only drain"


def drain_settings() -> DrainSettings:
    """What the template gives the drain, with a fake URL (the session never connects)."""
    settings: DrainSettings = DrainSettings.from_env(
        {
            "NXCLOUD_BASE_URL": "https://nxcloud.invalid",
            "NXCLOUD_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:nxcloud",
            "NXCLOUD_TENANT_ID": "7",
            "NXCLOUD_APP_KEY": "bench-app",
            "DLQ_URL": DLQ_URL,
        }
    )
    return settings


def sqs_records(count: int = BATCH) -> list[dict[str, Any]]:
    """``count`` SQS event records, each an envelope of one customer, as the event source mapping delivers them."""
    records = []
    for n in range(count):
        envelope = Envelope.model_validate(
            {
                "endpoint": "shopify",
                "kind": "shopify",
                "delivery_id": f"98880550-7158-44d4-b7cd-{n:012d}",
                "received_at": FIXED_NOW,
                "trace_id": f"Shp1kRzXoAMEJ{n:04d}=",
                "customer": customer(n),
            }
        )
        records.append(
            {
                "messageId": f"4f6e3c2a-0d1b-4c8e-9a7f-{n:012d}",
                "receiptHandle": f"AQEB{n:08d}",
                "body": envelope.to_message(),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1748859330000",
                    "SenderId": "AROAEXAMPLE:IngestFunction",
                    "ApproximateFirstReceiveTimestamp": "1748859331000",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(envelope.to_message().encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
        )
    return records


def build_drainer(session: CannedSession, sqs: FakeSqs) -> Drainer:
    """The production Drainer over the stubs (no sleeping: nothing here retries)."""
    return Drainer(
        sqs=cast(Any, sqs),
        credentials=FixedCredentials(),
        nxcloud=NXCloudClient("https://nxcloud.invalid", session=cast(requests.Session, session)),
        settings=drain_settings(),
        sleep=lambda _seconds: None,
        rng=random.Random(0),
        now=lambda: FIXED_NOW,
    )


def _cpu(call: Callable[[], object]) -> float:
    """This thread's CPU time for one call (other processes' time slices left out, garbage collection kept in)."""
    started = time.thread_time()
    call()
    return time.thread_time() - started


def floor_call(payload: Any) -> Callable[[], object]:
    """One json.dumps (the way ``to_body`` does it) + one MD5 of the bytes."""

    def floor() -> object:
        encoded = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return hashlib.md5(encoded, usedforsecurity=False).hexdigest()

    return floor


def run(*, rounds: int = 200) -> Figure:
    """Time the drain of one 100-record batch with 5 failItems; compare with the floor; break the time down."""
    answer = batch_answer(BATCH, FAIL_INDEXES)
    session = CannedSession(CannedResponse(200, answer))
    sqs = FakeSqs()
    drainer = build_drainer(session, sqs)
    raw = sqs_records()
    settings = drain_settings()
    secret = CREDENTIALS.access_secret.get_secret_value()

    def drain() -> object:
        result = drainer.drain([SQSRecord(r) for r in raw], lambda: 60_000)
        metrics.clear_metrics()
        return result

    with quiet_package_logs():
        # Warm-up: pydantic's validators, the regexes and the first-use imports (the tracer) settle.
        for _ in range(20):
            drain()
        result = drainer.drain([SQSRecord(r) for r in raw], lambda: 60_000)
        metrics.clear_metrics()
        if len(result.synced) != BATCH - len(FAIL_INDEXES) or len(result.dead_lettered) != len(FAIL_INDEXES):
            raise AssertionError(f"unexpected drain result: {result.response()} synced={len(result.synced)}")
        body = session.last_body
        floor = floor_call(json.loads(body))
        bodies = [r["body"] for r in raw]
        customers = [Envelope.model_validate_json(body).customer for body in bodies]
        request = BatchCreateRequest(
            type=settings.nxcloud_type,
            tenant_id=settings.tenant_id or 0,
            app_key=settings.app_key or "",
            strict_binding=settings.strict_binding,
            customers=customers,
        )
        # The same steps the drain takes, timed one by one, to say where its time goes.
        steps: dict[str, Callable[[], object]] = {
            DECODE: lambda: read_messages(bodies),
            "build the request and serialize it once (`BatchCreateRequest(...).to_body()`)": lambda: BatchCreateRequest(
                type=settings.nxcloud_type,
                tenant_id=settings.tenant_id or 0,
                app_key=settings.app_key or "",
                strict_binding=settings.strict_binding,
                customers=customers,
            ).to_body(),
            "sign the body (`signed_headers`: MD5)": lambda: signed_headers(
                CREDENTIALS.access_key, secret, body, 1_748_859_330_000
            ),
            "parse and classify the answer (`parse_response`)": lambda: parse_response(200, answer),
        }
        assert request.to_body() == body
        totals: list[float] = []
        floors: list[float] = []
        ratios: list[float] = []
        parts: dict[str, list[float]] = {name: [] for name in steps}
        loads: list[float] = []
        for _ in range(rounds):
            whole = _cpu(drain)
            least = median([_cpu(floor) for _ in range(FLOOR_REPEATS)])
            for name, step in steps.items():
                parts[name].append(_cpu(step))
            loads.append(_cpu(lambda: [json.loads(b) for b in bodies]))
            totals.append(whole)
            floors.append(least)
            ratios.append(whole / least)
        # Apart from the rounds: what an older version costs to read is for scale, not part of a drain.
        in_full = [_cpu(lambda: [Envelope.model_validate_json(b) for b in bodies]) for _ in range(rounds // 4)]
    ratio = median(ratios)
    drain_s, floor_s = median(totals), median(floors)
    part_s = {name: median(values) for name, values in parts.items()}
    loads_s, in_full_s = median(loads), median(in_full)
    rest = drain_s - sum(part_s.values())
    rows = [[name, fmt_ms(seconds), f"{seconds / floor_s:.1f}x"] for name, seconds in part_s.items()]
    rows += [
        [
            "the rest: map successItems/failItems to messages, 5 DLQ records and their SendMessageBatch, 1 log line "
            "(redacted JSON), metrics",
            fmt_ms(rest),
            f"{rest / floor_s:.1f}x",
        ],
        ["**whole `Drainer.drain` of the batch**", f"**{fmt_ms(drain_s)}**", f"**{drain_s / floor_s:.1f}x**"],
        ["floor: `json.dumps` + MD5 of the same body", fmt_ms(floor_s), "1.0x"],
    ]
    details = [
        f"Batch: {BATCH} records ({len(body):,}-byte request body), the answer has {len(FAIL_INDEXES)} failItems "
        f"(5 DLQ records in one SendMessageBatch). CPU time of this thread (`time.thread_time`), {rounds} "
        f"interleaved rounds (one drain, the floor {FLOOR_REPEATS} times, each step once), medians.",
        "",
        *table(["step", "CPU per batch", "x floor"], rows),
        "",
        f"Ratio drain / floor: median of the per-round ratios {ratio:.2f}x "
        f"(p10 {percentile(ratios, 0.1):.2f}x, p90 {percentile(ratios, 0.9):.2f}x).",
        "",
        f"For scale, `json.loads` of the same 100 message bodies takes {fmt_ms(loads_s)} "
        f"({loads_s / floor_s:.1f}x the floor): the trusted read costs {part_s[DECODE] / loads_s:.1f}x plain JSON "
        "parsing, since it checks each envelope's shape (types, lengths, unknown fields) and builds its Customer "
        "in pydantic-core without running the customer's normalizing validators again on data its writer "
        f"validated. Validating the same envelopes in full, as an older version is read, takes "
        f"{fmt_ms(in_full_s)} ({in_full_s / floor_s:.1f}x the floor). Serializing writes the customers to JSON in "
        "one Rust call (the floor's json.dumps writes the same bytes from dicts). The rest is the mapping of the "
        "answer to the messages, the DLQ records (each the received envelope's text with the reason around it) and "
        "their write, the one `batch drained` log line (counts, and the dead letters' ids and codes; redacted, then "
        "serialized) and the metrics.",
    ]
    return Figure(
        number=2,
        name="drain",
        title="Drain CPU per batch",
        value=f"{ratio:.2f}x the floor ({fmt_ms(drain_s)} of CPU per 100-record batch, floor {fmt_ms(floor_s)})",
        target=f"<= {TARGET_RATIO:g}x",
        passed=ratio <= TARGET_RATIO,
        command=COMMAND,
        details=details,
        data={"drain_batch_seconds": drain_s, "floor_seconds": floor_s},
    )
