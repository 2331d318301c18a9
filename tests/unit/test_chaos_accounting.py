"""The chaos run's accounting of customer versions (tests/fixtures/chaos.py) and figure 9's verdict (bench/chaos.py):
each term comes from a record, so a version no record places breaks the equation."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.chaos import TARGET, checks, faults_missing, figure, unfinished
from nxbridge_dev.simulator.faults import FAULTS
from tests.fixtures.chaos import (
    STALE_FIRST_NAME,
    ChaosConfig,
    ChaosOutcome,
    DeadLetter,
    PlannedCustomer,
    PlannedWebhook,
)

NEWER = PlannedCustomer("a@chaos.example", "+44 7700 000001", "Ada Quokkaaaaa", "deliver")
OTHER = PlannedCustomer("b@chaos.example", "+44 7700 000002", "Bruno Quokkabaaa", "deliver")


def _outcome(
    *,
    stored: list[tuple[str, str]],
    dead: list[DeadLetter] | None = None,
    superseded: frozenset[str] = frozenset(),
    synced: frozenset[str] = frozenset(),
) -> ChaosOutcome:
    """Webhook 0 carries NEWER, webhook 1 OTHER, webhook 2 NEWER's older version sent late; messages m0, m1, m2."""
    versions = {"m0": (NEWER.email, False), "m1": (OTHER.email, False), "m2": (NEWER.email, True)}
    planned = [
        PlannedWebhook(0, "shopify", b"{}", {}, (NEWER,)),
        PlannedWebhook(1, "shopify", b"{}", {}, (OTHER,)),
        PlannedWebhook(2, "shopify", b"{}", {}, (NEWER,), stale_of=0),
    ]
    return ChaosOutcome(
        config=ChaosConfig(webhooks=2),
        planned=planned,
        answers=[(202, {"accepted": 1})] * 3,
        stored={n: {"email": email, "full_name": name} for n, (email, name) in enumerate(stored)},
        dead=list(dead or []),
        synced_ids={},
        storm_identities=set(),
        superseded=len(superseded),
        simulator={"calls": 0},
        faults=Counter(),
        poller={"batches": 0},
        crashes_before_ack=0,
        crashes_after_call=0,
        seconds_posting=0.0,
        seconds_total=0.0,
        synced_versions={versions[m] for m in synced},
        superseded_messages=set(superseded),
        message_versions=versions,
    )


def test_every_version_placed_by_a_record_balances() -> None:
    outcome = _outcome(
        stored=[(NEWER.email, NEWER.full_name)],
        dead=[DeadLetter("d1", OTHER.email, "redrive", "maxReceiveCount")],
        superseded=frozenset({"m2"}),
    )
    account = outcome.versions()
    assert (account.accepted, account.stored, account.dead_lettered, account.superseded) == (3, 1, 1, 1)
    assert account.problems() == []


def test_an_older_version_stored_then_replaced_by_the_newer_counts_as_superseded() -> None:
    outcome = _outcome(
        stored=[(NEWER.email, NEWER.full_name), (OTHER.email, OTHER.full_name)], synced=frozenset({"m2", "m0"})
    )
    account = outcome.versions()
    assert (account.stored, account.overwritten, account.superseded_by_drain) == (2, 1, 0)
    assert account.problems() == []


def test_a_version_with_no_record_breaks_the_equation() -> None:
    # The older version was neither superseded by the drain, nor synced, nor dead-lettered: nothing places it.
    outcome = _outcome(stored=[(NEWER.email, NEWER.full_name), (OTHER.email, OTHER.full_name)])
    account = outcome.versions()
    assert account.unaccounted == [f"{NEWER.email} (older version)"]
    assert any("!=" in problem for problem in account.problems())


def test_a_newer_version_replaced_by_the_older_is_not_superseded() -> None:
    # NXCloud holds the older version although the newer one was synced: the newer is unaccounted.
    outcome = _outcome(
        stored=[(NEWER.email, f"{STALE_FIRST_NAME} Quokkaaaaa"), (OTHER.email, OTHER.full_name)],
        synced=frozenset({"m0"}),
    )
    assert outcome.versions().unaccounted == [NEWER.email]


def _document(**versions: int) -> dict[str, Any]:
    counts = {"accepted": 10, "stored": 7, "dead_lettered": 2, "superseded_by_drain": 1, "overwritten": 0}
    counts |= versions
    counts.setdefault("unaccounted", 0)
    return {
        "report": {
            "webhooks": 9,
            "answers": {"202": 9},
            "answers_retried": {},
            "accepted": 9,
            "stored": 7,
            "lost": 0,
            "stored_twice": 0,
            "versions": counts,
            "dlq_records": 3,
            "dlq_duplicate_records": 0,
            "dlq_records_by_reason": {"bisect:12148": 1, "nxcloud:12004": 1, "redrive": 1},
            "stored_and_redriven": 0,
            "stale_webhooks": 1,
            "storm_customers": 1,
            "nxcloud_calls": 5,
            "drain_invocations": 4,
            "drain_environments": 2,
            "drain_environments_observed": 2,
            "faults_injected": {"code:1003": 1, **{kind: 1 for kind in FAULTS if kind != "code"}},
            "crashes_after_call": 1,
            "crashes_before_ack": 1,
            "logs_audited": 10,
            "seconds_posting": 1.0,
            "seconds_total": 2.0,
        },
        "conservation": [],
        "versions": [],
        "leaks": [],
        "fault_kinds": sorted(FAULTS),
        "ok": True,
    }


def test_figure_passes_a_balanced_run() -> None:
    result = figure(_document(), webhooks=9, wall=3.0)
    assert result.passed, [c for c in checks(_document()) if not c[1]]
    assert "10 accepted = 7 stored + 2 DLQ + 1 superseded" in result.value


@pytest.mark.parametrize(
    "change",
    [
        {"stored": 6},  # a version short: the equation fails even when the child saw no problem
        {"unaccounted": 1},
    ],
)
def test_figure_fails_when_the_versions_do_not_balance(change: dict[str, int]) -> None:
    assert not figure(_document(**change), webhooks=9, wall=3.0).passed


def test_figure_fails_without_a_fault_kind_or_a_drain_kill() -> None:
    document = _document()
    del document["report"]["faults_injected"]["store_then_500"]
    assert faults_missing(document["report"], document["fault_kinds"]) == ["store_then_500"]
    assert not figure(document, webhooks=9, wall=3.0).passed
    document = _document()
    document["report"]["crashes_before_ack"] = 0
    assert not figure(document, webhooks=9, wall=3.0).passed


def test_figure_fails_when_a_drain_environment_ran_unobserved() -> None:
    # An environment without the recording sender stores customers the version accounting cannot place.
    document = _document()
    document["report"]["drain_environments"] = 3
    assert not figure(document, webhooks=9, wall=3.0).passed


def test_a_run_that_never_finished_fails_with_its_target() -> None:
    result = unfinished(-15, ["[  12.0 s] posted 100/300 webhooks", "Terminated"], webhooks=300, wall=12.5)
    assert not result.passed
    assert result.target == TARGET
    assert "killed by signal 15" in result.value and "posted 100/300" in result.value
