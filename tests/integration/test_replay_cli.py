"""``nxbridge dlq`` against moto: every action and filter, queue discovery, output modes, Ctrl-C and exit codes."""

from __future__ import annotations

import datetime as dt
import io
import json
import signal
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from nxbridge.cli import build_parser, main
from nxbridge.envelope import Envelope
from nxbridge.replay import cli as replay_cli
from nxbridge.replay.queues import queues_from_stack
from tests.fixtures.replay import Queues, envelope, reason

STACK_TEMPLATE = {
    "Resources": {"Q": {"Type": "AWS::SQS::Queue"}, "D": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {"QueueUrl": {"Value": {"Ref": "Q"}}, "DlqUrl": {"Value": {"Ref": "D"}}},
}


class Tty(io.StringIO):
    """A captured stream that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


def dlq(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``nxbridge dlq ...``; return the exit status, stdout and stderr."""
    status = main(["dlq", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_stats_json_counts_by_stage_code_endpoint_and_age(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    q = replay_queues
    q.bridge("12148", endpoint="shopify")
    q.bridge("1002", endpoint="typeform", at=dt.datetime.now(dt.UTC) - dt.timedelta(days=9))
    q.redriven()
    status, out, _ = dlq(capsys, "stats", *cli_base, "--json")
    assert status == 0
    result = json.loads(out)
    assert result["total"] == 3
    assert result["by_stage"] == {"nxcloud": 2, "redrive": 1}
    assert result["by_error_code"] == {"12148": 1, "1002": 1, "maxReceiveCount": 1}
    assert result["by_endpoint"] == {"shopify": 2, "typeform": 1}
    assert result["by_age"] == {"<1h": 2, "1-24h": 0, "1-7d": 0, ">7d": 1}
    assert result["approximate"]["visible"] == 3
    assert len(q.dlq_ids()) == 3


def test_stats_table_on_a_terminal(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    replay_queues.bridge("12148")
    status, out, _ = dlq(capsys, "stats", *cli_base)
    assert status == 0
    assert "1 records" in out
    assert "STAGE" in out
    assert "12148" in out
    assert ">7d" in out


def test_list_masks_pii_and_reveal_shows_it(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    q = replay_queues
    record = q.bridge()
    status, out, _ = dlq(capsys, "list", *cli_base, "--json")
    assert status == 0
    [shown] = json.loads(out)["records"]
    assert shown["message_id"] == record
    assert (shown["stage"], shown["errorCode"], shown["errorMessage"]) == ("nxcloud", "12148", "seat user not found")
    assert "ada.lovelace@example.com" not in out
    assert "Ada Lovelace" not in out
    _, revealed, _ = dlq(capsys, "list", *cli_base, "--json", "--reveal")
    assert json.loads(revealed)["records"][0]["customer"]["email"] == "ada.lovelace@example.com"
    _, table, _ = dlq(capsys, "list", *cli_base)
    assert record in table
    assert "ada.lovelace" not in table


FILTER_CASES: list[tuple[list[str], set[str]]] = [
    (["--error-code", "12148"], {"seat"}),
    (["--error-code", "12148", "--error-code", "1002"], {"seat", "param"}),
    (["--stage", "redrive"], {"redriven"}),
    (["--stage", "decode"], {"broken"}),
    (["--endpoint", "typeform"], {"param"}),
    (["--older-than", "2d"], {"param"}),
    (["--newer-than", "1h", "--stage", "nxcloud"], {"seat"}),
    (["--contains", "GRACE@EXAMPLE"], {"param"}),
    (["--error-code", "12148", "--endpoint", "typeform"], set()),
]


def test_every_filter_selects_its_records(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    q = replay_queues
    names = {
        q.bridge("12148"): "seat",
        q.bridge(
            "1002",
            endpoint="typeform",
            email="grace@example.com",
            at=dt.datetime.now(dt.UTC) - dt.timedelta(days=3),
        ): "param",
        q.redriven(): "redriven",
        q.decode("garbage"): "broken",
    }
    for filter_args, expected in FILTER_CASES:
        status, out, _ = dlq(capsys, "list", *cli_base, "--json", *filter_args)
        assert status == 0
        assert {names[r["message_id"]] for r in json.loads(out)["records"]} == expected, filter_args
    assert set(names) == q.dlq_ids()


def test_id_filter_and_limit(replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    q = replay_queues
    ids = [q.bridge() for _ in range(4)]
    _, out, _ = dlq(capsys, "list", *cli_base, "--json", "--id", ids[2])
    assert [r["message_id"] for r in json.loads(out)["records"]] == [ids[2]]
    _, out, _ = dlq(capsys, "list", *cli_base, "--json", "--limit", "2")
    assert json.loads(out)["count"] == 2


def test_bad_filter_is_a_usage_error(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = dlq(capsys, "list", *cli_base, "--older-than", "last tuesday")
    assert status == 2
    assert "neither a duration" in err


def test_show_prints_one_record_with_its_history(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    q = replay_queues
    record = q.bridge(replay_count=1, history=[reason("1002", message="bad phone +44 20 7946 0958")])
    status, out, _ = dlq(capsys, "show", record, *cli_base)
    assert status == 0
    shown = json.loads(out)
    assert shown["message_id"] == record
    assert shown["history"][0]["errorCode"] == "1002"
    assert "7946 0958" not in out
    assert "ada.lovelace@example.com" not in out
    status, _, err = dlq(capsys, "show", "missing-id", *cli_base)
    assert status == 1
    assert "no message missing-id" in err


def test_export_writes_masked_jsonl_and_keeps_the_records(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    q = replay_queues
    ids = {q.bridge(), q.redriven(), q.decode("raw text with grace@example.com")}
    out_file = tmp_path / "dlq.jsonl"
    status, _, err = dlq(capsys, "export", *cli_base, "--out", str(out_file))
    assert status == 0
    assert "exported 3 of 3" in err
    text = out_file.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert {line["message_id"] for line in lines} == ids
    assert "ada.lovelace@example.com" not in text
    assert "grace@example.com" not in text
    assert q.dlq_ids() == ids


def test_export_reveal_to_stdout_keeps_the_original_bodies(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    q = replay_queues
    q.bridge()
    status, out, _ = dlq(capsys, "export", *cli_base, "--out", "-", "--reveal", "--error-code", "12148")
    assert status == 0
    [line] = [json.loads(x) for x in out.splitlines()]
    assert Envelope.model_validate(json.loads(line["body"])["envelope"]).customer.email == "ada.lovelace@example.com"
    assert line["message_attributes"] == {"stage": "nxcloud", "errorCode": "12148", "endpoint": "shopify"}


def test_purge_refuses_without_yes(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    q = replay_queues
    ids = {q.bridge()}
    status, _, err = dlq(capsys, "purge", *cli_base, "--out", str(tmp_path / "a.jsonl"))
    assert status == 2
    assert "without --yes" in err
    assert q.dlq_ids() == ids
    assert not (tmp_path / "a.jsonl").exists()


def test_purge_archives_matching_records_then_deletes_only_them(
    replay_queues: Queues,
    cli_base: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    q = replay_queues
    doomed = {q.decode("garbage") for _ in range(12)}
    keep = {q.bridge()}
    monkeypatch.chdir(tmp_path)
    status, out, _ = dlq(capsys, "purge", *cli_base, "--stage", "decode", "--yes", "--json")
    assert status == 0
    summary = json.loads(out)
    assert (summary["archived"], summary["deleted"]) == (12, 12)
    archive = tmp_path / summary["archive"]
    assert archive.name.startswith("dlq-purge-")
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    archived = [json.loads(line) for line in archive.read_text().splitlines()]
    assert {line["message_id"] for line in archived} == doomed
    assert {json.loads(line["body"])["raw_body"] for line in archived} == {"garbage"}
    assert q.dlq_ids() == keep


def test_purge_never_overwrites_an_archive(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    q = replay_queues
    ids = {q.bridge()}
    existing = tmp_path / "archive.jsonl"
    existing.write_text("keep me\n")
    status, _, err = dlq(capsys, "purge", *cli_base, "--yes", "--out", str(existing))
    assert status == 2
    assert existing.read_text() == "keep me\n"
    assert q.dlq_ids() == ids
    assert "exists" in err


def test_replay_prints_a_json_summary_when_not_on_a_terminal(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    q = replay_queues
    q.bridge()
    refused = q.bridge(replay_count=3)
    status, out, _ = dlq(capsys, "replay", *cli_base)
    summary = json.loads(out)
    assert status == 1
    assert (summary["replayed"], summary["refused"]) == (1, 1)
    assert summary["problems"][0]["message_id"] == refused
    assert "--force" in summary["problems"][0]["reason"]
    status, out, _ = dlq(capsys, "replay", *cli_base, "--force")
    assert status == 0
    assert json.loads(out)["replayed"] == 1
    assert sorted(e.replay_count for e in q.queued()) == [1, 4]


def test_replay_max_replays_comes_from_the_option_or_the_environment(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    q = replay_queues
    q.bridge(replay_count=1)
    monkeypatch.setenv("MAX_REPLAYS", "1")
    _, out, _ = dlq(capsys, "replay", *cli_base, "--dry-run")
    assert json.loads(out)["refused"] == 1
    _, out, _ = dlq(capsys, "replay", *cli_base, "--dry-run", "--max-replays", "2")
    assert json.loads(out)["would_replay"] == 1


def test_replay_dry_run_changes_nothing(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    q = replay_queues
    ids = {q.bridge(), q.redriven()}
    status, out, _ = dlq(capsys, "replay", *cli_base, "--dry-run", "--json")
    assert status == 0
    summary = json.loads(out)
    assert (summary["dry_run"], summary["would_replay"], summary["replayed"]) == (True, 2, 0)
    assert q.dlq_ids() == ids
    assert q.queued() == []


def test_replay_set_and_drop_field_fix_the_customer(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    q = replay_queues
    q.bridge(endpoint="shopify")
    q.bridge(endpoint="typeform")
    status, _, _ = dlq(
        capsys, "replay", *cli_base, "--endpoint", "shopify", "--set", "belong_seat_user=agent@example.com"
    )
    assert status == 0
    status, _, _ = dlq(capsys, "replay", *cli_base, "--endpoint", "typeform", "--drop-field", "belong_seat_user")
    assert status == 0
    seats = {e.endpoint: e.customer.belong_seat_user for e in q.queued()}
    assert seats == {"shopify": "agent@example.com", "typeform": None}


def test_replay_refuses_an_edit_that_breaks_the_customer(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    q = replay_queues
    record = q.bridge()
    status, out, _ = dlq(capsys, "replay", *cli_base, "--set", "birthday=1990-02-30")
    assert status == 1
    assert "birthday" in json.loads(out)["problems"][0]["reason"]
    assert q.dlq_ids() == {record}


def test_replay_limit_and_rate_options(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    q = replay_queues
    for _ in range(5):
        q.bridge()
    status, out, _ = dlq(capsys, "replay", *cli_base, "--limit", "2", "--rate", "1000/s")
    assert status == 0
    assert json.loads(out)["replayed"] == 2
    assert len(q.dlq_ids()) == 3
    with pytest.raises(SystemExit) as exited:
        dlq(capsys, "replay", *cli_base, "--rate", "fast")
    assert exited.value.code == 2
    assert "not a rate" in capsys.readouterr().err


def test_replay_needs_the_customers_queue(
    replay_queues: Queues, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUEUE_URL", raising=False)
    status, _, err = dlq(capsys, "replay", "--dlq-url", replay_queues.dlq_url, "--wait-seconds", "0")
    assert status == 2
    assert "no CustomersQueue" in err


def test_progress_bar_and_human_summary_on_a_terminal(replay_queues: Queues, cli_base: list[str]) -> None:
    q = replay_queues
    for _ in range(3):
        q.bridge()
    out, err = Tty(), Tty()
    args = build_parser().parse_args(["dlq", "replay", *cli_base])
    status = replay_cli.run(args, out=out, err=err)
    assert status == 0
    assert "[" + "#" * 30 + "] 3/3" in err.getvalue()
    assert out.getvalue().startswith("replayed 3, refused 0")


class SigintAfterSends:
    """moto SQS whose n-th SendMessage is followed by a real SIGINT, as if the operator pressed Ctrl-C then."""

    def __init__(self, sqs: Any, after: int) -> None:
        self._sqs = sqs
        self.after = after
        self.sends = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message(self, **kwargs: Any) -> Any:
        response = self._sqs.send_message(**kwargs)
        self.sends += 1
        if self.sends == self.after:
            signal.raise_signal(signal.SIGINT)
        return response


def test_ctrl_c_between_send_and_delete_finishes_that_record_and_loses_nothing(
    replay_queues: Queues, cli_base: list[str]
) -> None:
    q = replay_queues
    ids = {q.bridge() for _ in range(6)}
    # What the process had: Python's default, or SIG_IGN when a shell started the run in the background.
    before = signal.getsignal(signal.SIGINT)
    sqs = SigintAfterSends(q.sqs, after=2)
    clients = replay_cli.Clients(sqs=sqs)  # type: ignore[arg-type]
    out, err = io.StringIO(), io.StringIO()
    status = replay_cli.run(build_parser().parse_args(["dlq", "replay", *cli_base]), clients=clients, out=out, err=err)
    summary = json.loads(out.getvalue())
    assert status == 1
    assert (summary["replayed"], summary["interrupted"]) == (2, True)
    assert "stopping after the record in flight" in err.getvalue()
    replayed = [e.history[-1].dlq_message_id for e in q.queued()]
    in_dlq = q.dlq_ids()
    assert len(replayed) == 2
    assert in_dlq.isdisjoint(replayed)
    assert in_dlq | set(replayed) == ids
    assert signal.getsignal(signal.SIGINT) is before


def test_sent_but_not_deleted_exits_with_3(replay_queues: Queues, cli_base: list[str]) -> None:
    q = replay_queues
    record = q.bridge()

    class NoDeletes:
        def __getattr__(self, name: str) -> Any:
            return getattr(q.sqs, name)

        def delete_message(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "DeleteMessage")

    clients = replay_cli.Clients(sqs=NoDeletes())  # type: ignore[arg-type]
    out = io.StringIO()
    args = build_parser().parse_args(["dlq", "replay", *cli_base])
    assert replay_cli.run(args, clients=clients, out=out, err=io.StringIO()) == 3
    assert json.loads(out.getvalue())["sent_not_deleted"] == [record]


def test_stack_outputs_name_the_queues(replay_queues: Queues, capsys: pytest.CaptureFixture[str]) -> None:
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    cfn.create_stack(StackName="nxbridge-test", TemplateBody=json.dumps(STACK_TEMPLATE))
    outputs = {
        o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="nxbridge-test")["Stacks"][0]["Outputs"]
    }
    sqs = replay_queues.sqs
    sqs.send_message(QueueUrl=outputs["DlqUrl"], MessageBody=envelope().to_message())
    status, out, _ = dlq(capsys, "replay", "--stack", "nxbridge-test", "--wait-seconds", "0", "--json")
    assert status == 0
    assert json.loads(out)["replayed"] == 1
    assert (
        sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        == "1"
    )


def test_stack_output_keys_are_also_found_by_their_customers_fragment(aws: None) -> None:
    template = {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}, "D": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"MyCustomersQueueUrl": {"Value": {"Ref": "Q"}}, "MyCustomersDLQUrl": {"Value": {"Ref": "D"}}},
    }
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    cfn.create_stack(StackName="renamed", TemplateBody=json.dumps(template))
    outputs = {
        o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="renamed")["Stacks"][0]["Outputs"]
    }
    found = queues_from_stack(cfn, "renamed")
    assert (found.queue_url, found.dlq_url) == (outputs["MyCustomersQueueUrl"], outputs["MyCustomersDLQUrl"])


def test_unknown_stack_or_stack_without_outputs_is_a_usage_error(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = dlq(capsys, "stats", "--stack", "nope", "--wait-seconds", "0")
    assert status == 2
    assert "cannot read stack 'nope'" in err
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    cfn.create_stack(StackName="bare", TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    status, _, err = dlq(capsys, "stats", "--stack", "bare", "--wait-seconds", "0")
    assert status == 2
    assert "no QueueUrl or DlqUrl output" in err


def test_queue_urls_come_from_the_environment(
    replay_queues: Queues, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    replay_queues.bridge()
    monkeypatch.setenv("QUEUE_URL", replay_queues.queue_url)
    monkeypatch.setenv("DLQ_URL", replay_queues.dlq_url)
    status, out, _ = dlq(capsys, "replay", "--wait-seconds", "0")
    assert status == 0
    assert json.loads(out)["replayed"] == 1


def test_missing_dlq_is_a_usage_error(
    aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DLQ_URL", raising=False)
    status, _, err = dlq(capsys, "list")
    assert status == 2
    assert "no DLQ" in err


def test_region_profile_and_endpoint_options_configure_the_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args(
        ["dlq", "stats", "--region", "ap-east-1", "--endpoint-url", "http://127.0.0.1:4566"]
    )
    clients = replay_cli.make_clients(args)
    assert clients.sqs.meta.region_name == "ap-east-1"
    assert clients.sqs.meta.endpoint_url == "http://127.0.0.1:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4999")
    from_env = replay_cli.make_clients(build_parser().parse_args(["dlq", "stats"]))
    assert from_env.sqs.meta.endpoint_url == "http://127.0.0.1:4999"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    assert replay_cli.make_clients(build_parser().parse_args(["dlq", "stats"])).sqs.meta.region_name == "sa-east-1"


def test_unknown_profile_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = dlq(capsys, "stats", "--profile", "no-such-profile", "--dlq-url", "http://127.0.0.1:1/q")
    assert status == 2
    assert "no-such-profile" in err


class RecordingReceives:
    """moto SQS that records the visibility timeout and wait of every ReceiveMessage."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self.receives: list[tuple[int, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def receive_message(self, **kwargs: Any) -> Any:
        self.receives.append((kwargs["VisibilityTimeout"], kwargs["WaitTimeSeconds"]))
        return self._sqs.receive_message(**kwargs)


def test_scan_settings_come_from_the_replay_environment_and_flags_override_them(
    replay_queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = replay_queues
    q.bridge()
    urls = ["--queue-url", q.queue_url, "--dlq-url", q.dlq_url]
    monkeypatch.setenv("REPLAY_VISIBILITY_TIMEOUT", "37")
    monkeypatch.setenv("REPLAY_WAIT_SECONDS", "0")
    for argv, expected in (
        (["stats", *urls], (37, 0)),
        (["stats", *urls, "--visibility-timeout", "55"], (55, 0)),
        (["replay", *urls, "--dry-run"], (37, 0)),
    ):
        sqs = RecordingReceives(q.sqs)
        args = build_parser().parse_args(["dlq", *argv])
        status = replay_cli.run(args, clients=replay_cli.Clients(sqs=sqs), out=io.StringIO(), err=io.StringIO())  # type: ignore[arg-type]
        assert status == 0
        assert set(sqs.receives) == {expected}


def test_a_bad_setting_is_a_one_line_usage_error_naming_flag_and_variable(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLAY_VISIBILITY_TIMEOUT", "soon")
    status, _, err = dlq(capsys, "stats", *cli_base)
    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith("nxbridge dlq: --visibility-timeout (REPLAY_VISIBILITY_TIMEOUT): ")
    status, _, err = dlq(capsys, "stats", "--dlq-url", replay_queues.dlq_url, "--wait-seconds", "21")
    assert status == 2
    assert "--wait-seconds (REPLAY_WAIT_SECONDS)" in err


def test_conflicting_edits_are_a_one_line_usage_error(
    replay_queues: Queues, cli_base: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    record = replay_queues.bridge()
    status, _, err = dlq(capsys, "replay", *cli_base, "--set", "gender=female", "--drop-field", "gender")
    assert status == 2
    assert err == "nxbridge dlq: fields both set and dropped: gender\n"
    assert replay_queues.dlq_ids() == {record}
