"""``nxbridge import`` against moto's SQS: every row queued once, reruns, rejects, restarts, failures, the stack."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from nxbridge.aws.clients import OPERATOR
from nxbridge.cli import build_parser
from nxbridge.endpoints import parse_endpoints
from nxbridge.envelope import Envelope
from nxbridge.importer import cli as import_cli
from nxbridge.importer.importer import Importer, ImportOptions, ImportSummary
from nxbridge.importer.progress import Journal, journal_dir, journal_path
from nxbridge.importer.shopify import EXPORT_COLUMNS, ShopifyCsv
from nxbridge.importer.streams import open_text
from nxbridge.importer.target import Clients
from tests.fixtures.aws import REGION

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "events" / "import"
ENDPOINTS = str(ROOT / "events" / "endpoints.json")
EXPORT = SAMPLES / "shopify-customers-export.csv"


def moto_clients(sqs: Any = None) -> Clients:
    return Clients(
        sqs=lambda: sqs or boto3.client("sqs", region_name=REGION),
        ssm=lambda: boto3.client("ssm", region_name=REGION),
        cloudformation=lambda: boto3.client("cloudformation", region_name=REGION),
    )


def nxbridge_import(home: Path, *argv: str, sqs: Any = None) -> tuple[int, dict[str, Any], str]:
    """``nxbridge import ARGV --json`` in this process; the status, the JSON summary, and what went to stderr."""
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["import", *argv, "--json"])
    status = import_cli.run(args, clients=moto_clients(sqs), out=out, err=err, env={"NXBRIDGE_HOME": str(home)})
    return status, (json.loads(out.getvalue()) if out.getvalue() else {}), err.getvalue()


def drain(queue_url: str) -> list[Envelope]:
    """Every message of the queue (deleted), as envelopes."""
    sqs = boto3.client("sqs", region_name=REGION)
    found: list[Envelope] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(Envelope.model_validate_json(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def export_of(path: Path, count: int, *, without_contact: frozenset[int] = frozenset()) -> Path:
    """A Shopify export of ``count`` made-up customers; those numbered in ``without_contact`` have none."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(EXPORT_COLUMNS)
        for n in range(1, count + 1):
            row = dict.fromkeys(EXPORT_COLUMNS, "")
            row.update(
                {
                    "Customer ID": f"'{8000000000 + n}",
                    "First Name": "Test",
                    "Last Name": f"Person{n}",
                    "Email": f"person{n}@example.com",
                    "Phone": f"'+1415555{n % 10000:04d}",
                    "Default Address Country Code": "US",
                    "Accepts Email Marketing": "no",
                }
            )
            if n in without_contact:
                row.update({"Email": "", "Phone": ""})
            writer.writerow(row.values())
    return path


def rows_of(envelopes: list[Envelope]) -> list[int]:
    return sorted(int(e.delivery_id.rsplit("-", 1)[1]) for e in envelopes if e.delivery_id)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "nxbridge-home"


def test_each_row_is_queued_once_as_its_webhook_would_be_and_a_rerun_queues_nothing(
    queues: dict[str, str], home: Path
) -> None:
    target = ["--endpoint", "shopify", "--queue-url", queues["queue_url"], "--endpoints-file", ENDPOINTS]
    status, summary, _ = nxbridge_import(home, str(EXPORT), "--format", "shopify-csv", *target)
    assert status == 0
    assert {k: summary[k] for k in ("read", "queued", "rejected", "skipped", "complete")} == {
        "read": 6,
        "queued": 5,
        "rejected": 1,
        "skipped": 0,
        "complete": True,
    }
    assert summary["dropped"] == {"phone_not_possible": 1}
    envelopes = drain(queues["queue_url"])
    digest = hashlib.sha256(EXPORT.read_bytes()).hexdigest()[:12]
    assert sorted(e.delivery_id or "" for e in envelopes) == [f"import-{digest}-{n}" for n in (1, 2, 3, 5, 6)]
    assert {e.endpoint for e in envelopes} == {"shopify"}
    by_email = {e.customer.email: e.customer for e in envelopes}
    jane = by_email["jane.doe@example.com"]
    assert (jane.full_name, jane.sms_phone, jane.country) == ("Jane Doe", "14155550100", "United States")
    # Amélie has only an address phone, national, read in her address's country.
    assert by_email["amelie.laurent@example.fr"].whats_app_phone == "33612345678"

    status, again, _ = nxbridge_import(home, str(EXPORT), "--format", "shopify-csv", *target)
    assert (status, again["queued"], again["skipped"], again["read"]) == (0, 0, 6, 6)
    assert drain(queues["queue_url"]) == []


def test_rejected_rows_are_written_with_row_column_reason_and_import_once_fixed(
    queues: dict[str, str], home: Path, tmp_path: Path
) -> None:
    rejects = tmp_path / "rejects.csv"
    target = ["--endpoint", "shopify", "--queue-url", queues["queue_url"], "--endpoints-file", ENDPOINTS]
    nxbridge_import(home, str(EXPORT), "--format", "shopify-csv", "--rejects", str(rejects), *target)
    with rejects.open(encoding="utf-8-sig", newline="") as stream:
        [row] = list(csv.DictReader(stream))
    assert (row["_row"], row["_column"]) == ("4", "Email")
    assert row["_reason"].startswith("Email (customer): at least one of")
    assert (row["Customer ID"], row["First Name"], row["Note"]) == ("'7101010104", "Walk-in", "POS sale")
    drain(queues["queue_url"])

    row["Email"] = "walk-in@example.com"
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, list(row))
        writer.writeheader()
        writer.writerow(row)
    status, summary, _ = nxbridge_import(home, str(fixed), "--format", "shopify-csv", *target)
    assert (status, summary["queued"], summary["rejected"]) == (0, 1, 0)
    [walk_in] = drain(queues["queue_url"])
    assert walk_in.customer.email == "walk-in@example.com"


def test_restart_queues_the_file_again_and_dry_run_queues_nothing(queues: dict[str, str], home: Path) -> None:
    target = ["--endpoint", "shopify", "--queue-url", queues["queue_url"], "--endpoints-file", ENDPOINTS]
    status, dry, _ = nxbridge_import(home, str(EXPORT), "--format", "shopify-csv", "--dry-run", *target)
    assert (status, dry["would_queue"], dry["queued"], dry["journal"]) == (0, 5, 0, None)
    assert drain(queues["queue_url"]) == []
    assert not journal_dir({"NXBRIDGE_HOME": str(home)}).exists()

    nxbridge_import(home, str(EXPORT), "--format", "shopify-csv", *target)
    status, again, _ = nxbridge_import(home, str(EXPORT), "--format", "shopify-csv", "--restart", *target)
    assert (status, again["queued"], again["skipped"]) == (0, 5, 0)
    assert len(drain(queues["queue_url"])) == 10


def test_an_endpoint_of_another_kind_or_an_unknown_layout_is_one_clear_error(
    queues: dict[str, str], home: Path
) -> None:
    target = ["--queue-url", queues["queue_url"], "--endpoints-file", ENDPOINTS]
    status, _, err = nxbridge_import(home, str(EXPORT), "--format", "shopify-csv", "--endpoint", "woocommerce", *target)
    assert status == 2
    assert "--format shopify-csv needs an endpoint of kind shopify; 'woocommerce' is woocommerce" in err
    status, _, err = nxbridge_import(
        home, str(SAMPLES / "contacts.csv"), "--format", "shopify-csv", "--endpoint", "shopify", *target
    )
    assert status == 2
    assert "not a Shopify customer export" in err and "found Name, E-mail, Mobile" in err
    assert drain(queues["queue_url"]) == []


@pytest.mark.parametrize(
    ("name", "fmt", "endpoint", "queued"),
    [
        ("shopify-bulk-customers.jsonl", "shopify-jsonl", "shopify", 3),
        ("woocommerce-customers.json", "woocommerce-json", "woocommerce", 3),
        ("contacts.csv", "csv", "standard", 2),
    ],
)
def test_every_format_queues_its_customers(
    queues: dict[str, str], home: Path, name: str, fmt: str, endpoint: str, queued: int
) -> None:
    target = ["--endpoint", endpoint, "--queue-url", queues["queue_url"], "--endpoints-file", ENDPOINTS]
    status, summary, _ = nxbridge_import(home, str(SAMPLES / name), "--format", fmt, *target)
    assert (status, summary["queued"], summary["rejected"]) == (0, queued, 1)
    assert {e.endpoint for e in drain(queues["queue_url"])} == {endpoint}


class FailingSqs:
    """moto's SQS whose SendMessageBatch fails (a 500) from call ``fail_from`` on."""

    def __init__(self, fail_from: int) -> None:
        self._sqs = boto3.client("sqs", region_name=REGION)
        self._fail_from = fail_from
        self.calls = 0

    def send_message_batch(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls >= self._fail_from:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "down"}}, "SendMessageBatch")
        return self._sqs.send_message_batch(**kwargs)


def test_rows_sqs_does_not_take_are_sent_by_the_next_run_and_no_row_twice(
    queues: dict[str, str], home: Path, tmp_path: Path
) -> None:
    export = export_of(tmp_path / "customers_export.csv", 37, without_contact=frozenset({5, 30}))
    rejects = tmp_path / "rejects.csv"
    target = ["--endpoint", "shopify", "--queue-url", queues["queue_url"], "--endpoints-file", ENDPOINTS]
    target += ["--rejects", str(rejects)]
    failing = FailingSqs(fail_from=2)
    status, summary, _ = nxbridge_import(home, str(export), "--format", "shopify-csv", *target, sqs=failing)
    assert status == 1
    # Rows 1-11 (row 5 rejected) went in the first batch; rows 12-21, the second, SQS did not take.
    assert (summary["queued"], summary["rejected"], summary["not_queued"]) == (10, 1, 10)
    assert summary["complete"] is False
    assert failing.calls == 1 + OPERATOR.batch_retry.attempts

    status, resumed, _ = nxbridge_import(home, str(export), "--format", "shopify-csv", *target)
    assert (status, resumed["queued"], resumed["rejected"], resumed["skipped"]) == (0, 25, 1, 11)
    assert resumed["complete"] is True
    assert rows_of(drain(queues["queue_url"])) == [n for n in range(1, 38) if n not in (5, 30)]
    with rejects.open(encoding="utf-8-sig", newline="") as stream:
        assert [row["_row"] for row in csv.DictReader(stream)] == ["5", "30"]


def test_a_stopped_run_resumes_after_its_last_batch(queues: dict[str, str], home: Path, tmp_path: Path) -> None:
    """Ctrl-C is honoured between rows: the batch in hand is sent and journaled, the rest is left for the next run."""
    export = export_of(tmp_path / "customers_export.csv", 47)
    endpoint = parse_endpoints(Path(ENDPOINTS).read_text(encoding="utf-8")).get("shopify")
    assert endpoint is not None
    path = journal_path(journal_dir({"NXBRIDGE_HOME": str(home)}), "f" * 64, queues["queue_url"], "shopify")
    asked = iter([False] * 23 + [True])

    def run_once(should_stop: Any) -> ImportSummary:
        journal = Journal.open(path, {"sha256": "f" * 64})
        importer = Importer(
            ShopifyCsv(),
            endpoint,
            sqs=boto3.client("sqs", region_name=REGION),
            queue_url=queues["queue_url"],
            import_id="test",
            policy=OPERATOR.retry(),
        )
        summary = ImportSummary(file=str(export), format="shopify-csv", endpoint="shopify")
        try:
            with open_text(export) as stream:
                return importer.run(
                    stream, summary, journal=journal, rejects=None, options=ImportOptions(), should_stop=should_stop
                )
        finally:
            journal.close()

    first = run_once(lambda: next(asked, True))
    assert (first.interrupted, first.complete, first.read, first.queued) == (True, False, 23, 23)
    second = run_once(lambda: False)
    assert (second.complete, second.skipped, second.queued) == (True, 23, 24)
    assert rows_of(drain(queues["queue_url"])) == list(range(1, 48))


def test_rate_caps_how_fast_rows_are_queued(queues: dict[str, str], tmp_path: Path) -> None:
    export = export_of(tmp_path / "customers_export.csv", 50)
    endpoint = parse_endpoints(Path(ENDPOINTS).read_text(encoding="utf-8")).get("shopify")
    assert endpoint is not None
    now = [0.0]
    sends: list[float] = []
    sqs = boto3.client("sqs", region_name=REGION)

    class TimedSqs:
        def send_message_batch(self, **kwargs: Any) -> Any:
            sends.append(now[0])
            return sqs.send_message_batch(**kwargs)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    importer = Importer(
        ShopifyCsv(),
        endpoint,
        sqs=TimedSqs(),  # type: ignore[arg-type]
        queue_url=queues["queue_url"],
        import_id="rate",
        policy=OPERATOR.retry(),
        monotonic=lambda: now[0],
        sleep=sleep,
    )
    summary = ImportSummary(file=str(export), format="shopify-csv", endpoint="shopify")
    with open_text(export) as stream:
        importer.run(stream, summary, journal=None, rejects=None, options=ImportOptions(rate=20.0))
    assert summary.queued == 50
    # Ten messages a batch at 20 a second: a batch every half second, the first at once.
    assert sends == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])


@pytest.fixture
def stack(aws: None) -> Iterator[dict[str, str]]:
    """A CloudFormation stack with the template's two outputs an import reads (moto)."""
    document = Path(ENDPOINTS).read_text(encoding="utf-8")
    template = {
        "Resources": {
            "CustomersQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "CustomersQueue"}},
            "EndpointsParameter": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/nxbridge/endpoints", "Type": "String", "Value": document},
            },
        },
        "Outputs": {
            "QueueUrl": {"Value": {"Ref": "CustomersQueue"}},
            "EndpointsParameterName": {"Value": {"Ref": "EndpointsParameter"}},
        },
    }
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName="nxbridge", TemplateBody=json.dumps(template))
    queue_url = boto3.client("sqs", region_name=REGION).get_queue_url(QueueName="CustomersQueue")["QueueUrl"]
    yield {"queue_url": queue_url}


def test_stack_names_the_queue_and_the_endpoint_configuration(stack: dict[str, str], home: Path) -> None:
    status, summary, err = nxbridge_import(
        home, str(EXPORT), "--format", "shopify-csv", "--endpoint", "shopify", "--stack", "nxbridge"
    )
    assert (status, summary["queued"]) == (0, 5), err
    assert len(drain(stack["queue_url"])) == 5
