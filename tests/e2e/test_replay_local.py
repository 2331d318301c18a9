"""The DLQ of the local stack: a customer rejected for a missing seat is fixed, replayed and ends up in NXCloud."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

from nxbridge.cli import build_parser
from nxbridge.replay import cli as replay_cli
from nxbridge_dev.local.deploy import STACK_NAME
from nxbridge_dev.local.stack import LocalStack
from tests.fixtures.local import reject_tom_for_his_seat

pytestmark = pytest.mark.e2e

StartStack = Callable[..., LocalStack]
SEAT = "new.agent@example.com"


def dlq(*argv: str, stack: str = STACK_NAME) -> tuple[int, str]:
    """``nxbridge dlq ... --stack nxbridge`` in this process, which the local stack pointed at its embedded AWS.

    No long polling: the embedded moto answers an empty receive at once and exactly.
    """
    out, err = io.StringIO(), io.StringIO()
    args = ["dlq", *argv, "--stack", stack, "--wait-seconds", "0"]
    status = replay_cli.run(build_parser().parse_args(args), out=out, err=err)
    return status, out.getvalue()


def stored_tom(stack: LocalStack) -> list[dict[str, object]]:
    assert stack.simulator is not None
    return [c for c in stack.simulator.customers.values() if c.get("full_name") == "Tom Becker"]


@pytest.mark.parametrize("strict_binding", [True, False], ids=["fail-item", "whole-request-bisected"])
def test_adding_the_seat_then_replaying_syncs_the_customer(start_local_stack: StartStack, strict_binding: bool) -> None:
    stack = start_local_stack(nxcloud_strict_binding=strict_binding)
    reject_tom_for_his_seat(stack)
    status, out = dlq("list", "--error-code", "12148", "--json")
    assert status == 0
    [record] = json.loads(out)["records"]
    assert record["stage"] in {"nxcloud", "bisect"}
    assert stored_tom(stack) == []

    assert stack.simulator is not None
    stack.simulator.add_seat(SEAT)
    status, out = dlq("replay", "--error-code", "12148", "--json")
    assert status == 0
    assert json.loads(out)["replayed"] == 1

    settled = stack.wait_settled(30)
    [tom] = stored_tom(stack)
    assert tom["belong_seat_user"] == SEAT
    assert settled["dlq"]["depth"] == 0


def test_dropping_the_seat_on_replay_syncs_the_customer_without_it(start_local_stack: StartStack) -> None:
    stack = start_local_stack(nxcloud_strict_binding=True)
    reject_tom_for_his_seat(stack)
    _, dry = dlq("replay", "--drop-field", "belong_seat_user", "--dry-run", "--json")
    assert json.loads(dry)["would_replay"] == 1
    status, out = dlq("replay", "--drop-field", "belong_seat_user", "--json")
    assert (status, json.loads(out)["replayed"]) == (0, 1)

    settled = stack.wait_settled(30)
    [tom] = stored_tom(stack)
    assert "belong_seat_user" not in tom
    assert settled["dlq"]["depth"] == 0
    _, stats = dlq("stats", "--json")
    assert json.loads(stats)["total"] == 0


def test_a_replay_rejected_again_comes_back_with_its_history(start_local_stack: StartStack) -> None:
    stack = start_local_stack(nxcloud_strict_binding=True)
    reject_tom_for_his_seat(stack)
    _, first = dlq("list", "--json")
    [original] = json.loads(first)["records"]
    status, _ = dlq("replay")
    assert status == 0
    stack.wait_settled(30)

    _, again = dlq("show", "--json", *[r["message_id"] for r in json.loads(dlq("list", "--json")[1])["records"]])
    record = json.loads(again)
    assert record["replay_count"] == 1
    assert [h["dlq_message_id"] for h in record["history"]] == [original["message_id"]]
    assert record["history"][0]["errorCode"] == "12148"


def test_the_cli_finds_the_local_queues_through_the_stack_name(start_local_stack: StartStack) -> None:
    stack = start_local_stack(nxcloud_strict_binding=True)
    reject_tom_for_his_seat(stack)

    status, out = dlq("stats", "--json")

    assert status == 0
    assert json.loads(out)["by_error_code"] == {"12148": 1}
    assert dlq("stats", stack="no-such-stack")[0] == 2
