"""Replay and newest wins, on moto: ``nxbridge dlq replay`` refuses a record older than its customer's watermark unless
forced, an edited record counts as new, and what replay sends then passes (or not) the drain's own check."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from nxbridge.cli import main
from nxbridge.drain import Drainer
from nxbridge.envelope import DlqRecord, Envelope
from nxbridge.ordering import ClaimRequest, Granted, Release, Watermarks, identity_hash, micros
from tests.fixtures.aws import REGION
from tests.fixtures.drain import PLENTY_MS, FakeCredentials, RecordingSQS, ScriptedNXCloud, drain_settings
from tests.fixtures.replay import Queues, envelope, reason

IDENTITY = "shopify:id:77"
NEW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
OLD = NEW - dt.timedelta(hours=1)
NEWER = NEW + dt.timedelta(hours=1)


def dlq(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    """``nxbridge dlq ... --json``: the exit status, the JSON summary and stderr."""
    status = main(["dlq", *argv, "--json"])
    captured = capsys.readouterr()
    return status, json.loads(captured.out), captured.err


@pytest.fixture
def watermarks(idempotency_table: str) -> Watermarks:
    return Watermarks(boto3.client("dynamodb", region_name=REGION), idempotency_table)


@pytest.fixture
def table_env(idempotency_table: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ORDERING_TABLE", idempotency_table)
    return idempotency_table


def sent_at(watermarks: Watermarks, at: dt.datetime, identity: str = IDENTITY) -> None:
    """The watermark the drain leaves once NXCloud stored the customer's version of ``at``."""
    claim = ClaimRequest(identity, micros(at), "shopify")
    assert isinstance(watermarks.claim(claim, owner="drain", lease_seconds=120), Granted)
    assert watermarks.release(Release(identity, claim.event_us), owner="drain")


def dead_letter(q: Queues, at: dt.datetime, identity: str = IDENTITY, **customer: Any) -> str:
    """A DLQ record of the customer's version of ``at``."""
    versioned = envelope(**customer).model_copy(update={"event_at": at, "identity": identity})
    return q.put_record(DlqRecord(envelope=versioned, error=reason()))


def drain_queue(q: Queues, watermarks: Watermarks) -> tuple[ScriptedNXCloud, Any]:
    """Drain what replay queued, with the watermarks: what NXCloud was sent, and the result."""
    nxcloud = ScriptedNXCloud()
    drainer = Drainer(
        sqs=RecordingSQS(),  # type: ignore[arg-type]
        credentials=FakeCredentials(),
        nxcloud=nxcloud,
        settings=drain_settings(),
        watermarks=watermarks,
    )
    records = [
        SQSRecord({"messageId": m["MessageId"], "body": m["Body"], "attributes": {}, "receiptHandle": "h"})
        for m in q.queued_messages()
    ]
    return nxcloud, drainer.drain(records, lambda: PLENTY_MS)


def test_replay_refuses_a_record_older_than_its_customers_watermark_and_says_why(
    replay_queues: Queues, cli_base: list[str], watermarks: Watermarks, table_env: str, capsys: Any
) -> None:
    sent_at(watermarks, NEW)
    stale = dead_letter(replay_queues, OLD)

    status, summary, _ = dlq(capsys, "replay", *cli_base)

    assert status == 1
    (problem,) = summary["problems"]
    assert (problem["message_id"], problem["status"], problem["code"]) == (stale, "refused", "stale")
    assert problem["reason"].startswith("stale: NXCloud holds a newer version")
    assert "--force" in problem["reason"]
    assert replay_queues.dlq_ids() == {stale} and replay_queues.queued() == []


def test_a_forced_stale_record_is_sent_as_new_and_the_drain_lets_it_through(
    replay_queues: Queues, cli_base: list[str], watermarks: Watermarks, table_env: str, capsys: Any
) -> None:
    sent_at(watermarks, NEW)
    dead_letter(replay_queues, OLD)
    before = dt.datetime.now(dt.UTC)

    status, summary, _ = dlq(capsys, "replay", *cli_base, "--force")
    (queued,) = replay_queues.queued()

    assert (status, summary["replayed"]) == (0, 1)
    assert queued.event_at is not None and queued.event_at >= before
    nxcloud, result = drain_queue(replay_queues, watermarks)
    assert len(result.synced) == 1 and len(nxcloud.requests) == 1


def test_an_edited_replay_counts_as_new_without_force(
    replay_queues: Queues, cli_base: list[str], watermarks: Watermarks, table_env: str, capsys: Any
) -> None:
    sent_at(watermarks, NEW)
    dead_letter(replay_queues, OLD)
    before = dt.datetime.now(dt.UTC)

    status, summary, _ = dlq(capsys, "replay", *cli_base, "--set", "remark=corrected by the operator")
    (queued,) = replay_queues.queued()

    assert (status, summary["replayed"]) == (0, 1)
    assert queued.customer.remark == "corrected by the operator"
    assert queued.event_at is not None and queued.event_at >= before
    nxcloud, result = drain_queue(replay_queues, watermarks)
    assert len(result.synced) == 1
    assert nxcloud.requests[0].customers[0].remark == "corrected by the operator"


def test_a_record_newer_than_the_watermark_is_replayed_with_its_own_event_time(
    replay_queues: Queues, cli_base: list[str], watermarks: Watermarks, table_env: str, capsys: Any
) -> None:
    sent_at(watermarks, NEW)
    dead_letter(replay_queues, NEWER)

    status, summary, _ = dlq(capsys, "replay", *cli_base)
    (queued,) = replay_queues.queued()

    assert (status, summary["replayed"]) == (0, 1)
    assert queued.event_at == NEWER


def test_an_unchecked_stale_record_never_reaches_nxcloud_all_the_same(
    replay_queues: Queues, cli_base: list[str], watermarks: Watermarks, capsys: Any
) -> None:
    # Without a table the replay cannot tell (and says so); the drain still supersedes the old record.
    sent_at(watermarks, NEW)
    dead_letter(replay_queues, OLD)

    status, summary, err = dlq(capsys, "replay", *cli_base)
    nxcloud, result = drain_queue(replay_queues, watermarks)

    assert (status, summary["replayed"]) == (0, 1)
    assert "warning: no watermark table" in err
    assert [s.by for s in result.superseded] == ["watermark"] and nxcloud.requests == []


def test_the_stack_output_names_the_watermark_table(
    replay_queues: Queues, watermarks: Watermarks, idempotency_table: str, capsys: Any
) -> None:
    template = {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "QueueUrl": {"Value": replay_queues.queue_url},
            "DlqUrl": {"Value": replay_queues.dlq_url},
            "IdempotencyTableName": {"Value": idempotency_table},
        },
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="nxbridge", TemplateBody=json.dumps(template)
    )
    sent_at(watermarks, NEW)
    dead_letter(replay_queues, OLD)

    status, summary, err = dlq(capsys, "replay", "--stack", "nxbridge", "--wait-seconds", "0")

    assert (status, summary["refused"]) == (1, 1)
    assert summary["problems"][0]["code"] == "stale" and "warning" not in err


def test_the_replay_function_refuses_a_stale_record_too(
    replay_queues: Queues,
    watermarks: Watermarks,
    table_env: str,
    replay_handler: Callable[..., dict[str, Any]],
) -> None:
    sent_at(watermarks, NEW)
    dead_letter(replay_queues, OLD)

    answer = replay_handler({"action": "replay"})

    assert (answer["refused"], answer["problems"][0]["code"]) == (1, "stale")


def test_the_identity_filter_finds_a_customer_by_hash_or_by_identity(
    replay_queues: Queues, cli_base: list[str], capsys: Any
) -> None:
    jane = dead_letter(replay_queues, OLD)
    dead_letter(replay_queues, OLD, identity="shopify:id:78", email="someone.else@example.com")

    _, by_identity, _ = dlq(capsys, "list", *cli_base, "--identity", IDENTITY)
    _, by_hash, _ = dlq(capsys, "list", *cli_base, "--identity", identity_hash(IDENTITY))
    # The customer's e-mail names it too (a redaction knows the e-mail, not always the shop's id).
    _, by_email, _ = dlq(capsys, "list", *cli_base, "--identity", "email:ada.lovelace@example.com")

    assert [r["message_id"] for r in by_identity["records"]] == [jane]
    assert [r["message_id"] for r in by_hash["records"]] == [jane]
    assert [r["message_id"] for r in by_email["records"]] == [jane]


def test_an_envelope_written_before_event_times_is_replayed_unchecked(
    replay_queues: Queues, cli_base: list[str], watermarks: Watermarks, table_env: str, capsys: Any
) -> None:
    sent_at(watermarks, NEW, identity="email:ada.lovelace@example.com")
    replay_queues.put_record(DlqRecord(envelope=envelope(), error=reason()))

    status, summary, _ = dlq(capsys, "replay", *cli_base)
    (queued,) = replay_queues.queued()

    assert (status, summary["replayed"]) == (0, 1)
    assert (queued.event_at, queued.identity) == (None, None)
    assert isinstance(queued, Envelope)
