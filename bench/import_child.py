"""Run in a fresh interpreter by bench/import_rows.py: the floor, then ``nxbridge import`` of one export, measured.

The import is the command's own ``run`` (journal, readers, the webhooks' path, send_batch) with a fake SQS client;
the floor reads the same CSV with the csv module and ``json.dumps`` each row. Prints CPU seconds of both, the CPU of
the shared webhook path alone for a sample of rows, and the peak RSS (VmHWM) after each stage.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.memory_child import rss_mb

RESULT_PREFIX = "bench-import-result "
SAMPLE = 10_000


def floor(path: Path) -> int:
    """Read the CSV and serialize each row: the least any import of it does."""
    count = 0
    with path.open(encoding="utf-8-sig", newline="") as stream:
        for row in csv.DictReader(stream):
            json.dumps(row)
            count += 1
    return count


def shared_path(path: Path, endpoints: Path) -> float:
    """CPU seconds of the webhooks' own path (``customer_messages``) for the first SAMPLE rows, requests prebuilt."""
    from nxbridge.endpoints import parse_endpoints  # noqa: PLC0415 - measured after the floor
    from nxbridge.envelope import utcnow  # noqa: PLC0415
    from nxbridge.importer.delivery import import_request, import_topic  # noqa: PLC0415
    from nxbridge.importer.shopify import ShopifyCsv  # noqa: PLC0415
    from nxbridge.importer.streams import open_text  # noqa: PLC0415
    from nxbridge.ingest.pipeline import customer_messages, read_payload  # noqa: PLC0415
    from nxbridge.sources import source_for  # noqa: PLC0415

    endpoint = parse_endpoints(endpoints.read_text(encoding="utf-8")).get("shopify")
    assert endpoint is not None
    reader, source, topic, now = ShopifyCsv(), source_for("shopify"), import_topic(endpoint), utcnow()
    with open_text(path) as stream:
        requests = [
            import_request(endpoint, topic, reader.payload(r), delivery=f"d{r.number}", received_at=now)
            for r, _ in zip(reader.records(stream), range(SAMPLE), strict=False)
        ]
    started = time.process_time()
    for request in requests:
        customer_messages(request, endpoint, source, read_payload(request, endpoint, source))
    return time.process_time() - started


def main() -> None:
    """``python -m bench.import_child EXPORT ENDPOINTS``."""
    path, endpoints = Path(sys.argv[1]), Path(sys.argv[2])
    stages = {"interpreter": rss_mb()}
    started = time.process_time()
    rows = floor(path)
    floor_cpu = time.process_time() - started
    stages["floor"] = rss_mb()

    from bench.fakes import FakeSqs  # noqa: PLC0415
    from nxbridge.cli import build_parser  # noqa: PLC0415
    from nxbridge.importer import cli as import_cli  # noqa: PLC0415
    from nxbridge.importer.target import Clients  # noqa: PLC0415

    stages["command imported"] = rss_mb()
    sqs = FakeSqs()
    clients = Clients(sqs=lambda: sqs, ssm=lambda: None, cloudformation=lambda: None)  # type: ignore[arg-type,return-value]
    argv = ["import", str(path), "--format", "shopify-csv", "--endpoint", "shopify", "--json"]
    argv += ["--queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/CustomersQueue"]
    argv += ["--endpoints-file", str(endpoints)]
    out = io.StringIO()
    with tempfile.TemporaryDirectory() as home:
        started = time.process_time()
        status = import_cli.run(
            build_parser().parse_args(argv), clients=clients, out=out, err=sys.stderr, env={"NXBRIDGE_HOME": home}
        )
        import_cpu = time.process_time() - started
    stages[f"{rows:,} rows imported"] = rss_mb()
    summary: dict[str, Any] = json.loads(out.getvalue())
    result = {
        "status": status,
        "rows": rows,
        "queued": summary["queued"],
        "calls": sqs.calls,
        "floor_cpu": floor_cpu,
        "import_cpu": import_cpu,
        "shared_cpu_per_row": shared_path(path, endpoints) / SAMPLE,
        "stages": stages,
    }
    print(RESULT_PREFIX + json.dumps(result))


if __name__ == "__main__":
    main()
