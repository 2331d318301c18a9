"""Newest wins in the drain: coalescing within a batch, watermarks and leases across batches and drains (moto DynamoDB).

Every test ends by asking what NXCloud holds for the customer: never an older version than one the bridge has sent.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
import pytest

from nxbridge.contract import BatchCreateRequest, BatchCreateResult, FailItem, SuccessItem
from nxbridge.drain import Drainer, DrainResult
from nxbridge.envelope import Envelope
from nxbridge.nxcloud.client import Delivered, FailureClass, NXCloudCredentials, Outcome, RequestFailed
from nxbridge.ordering import ClaimRequest, Granted, Watermarks, identity_hash, micros
from tests.fixtures.aws import REGION
from tests.fixtures.drain import (
    PLENTY_MS,
    Clock,
    FakeCredentials,
    RecordingSQS,
    customer_id_of,
    drain_settings,
    make_envelope,
    phone_of,
    sqs_record,
    versioned,
)
from tests.fixtures.security import LogAudit

T0 = dt.datetime(2024, 5, 1, 11, 0, tzinfo=dt.UTC)
OLD, NEW, NEWER = T0, T0 + dt.timedelta(minutes=5), T0 + dt.timedelta(minutes=9)
JANE = 1  # the customer every version belongs to (one phone, so one identity)


@pytest.fixture
def clock() -> Clock:
    """The watermarks' clock, at T0 (the shared ``watermarks`` fixture runs on it)."""
    return Clock(T0.timestamp())


def version(at: dt.datetime, name: str, n: int = JANE) -> Envelope:
    """Jane's record as of ``at``, told apart by its full name."""
    return versioned(n, at, full_name=name)


@dataclass
class FakeNXCloud:
    """NXCloud as far as ordering cares: ``holds`` is the full name of the last version stored per phone.

    ``refuse`` names are answered as failItems, ``store_then_fail`` names are stored but answered HTTP 500, and a
    call carrying ``block_on`` waits (``entered`` set) until ``release`` is set: the controlled interleaving.
    """

    refuse: set[str] = field(default_factory=set)
    store_then_fail: set[str] = field(default_factory=set)
    block_on: str | None = None
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    holds: dict[str, str] = field(default_factory=dict)
    calls: list[list[str]] = field(default_factory=list)
    crash_after_store: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def batch_create(self, request: BatchCreateRequest, credentials: NXCloudCredentials) -> Outcome:
        names = [c.full_name for c in request.customers]
        with self.lock:
            self.calls.append(names)
        if self.block_on in names:
            self.entered.set()
            assert self.release.wait(10), "the test never released the blocked call"
        success, fail = [], []
        for index, customer in enumerate(request.customers):
            phone = customer.whats_app_phone or ""
            if customer.full_name in self.refuse:
                fail.append(FailItem(index=index, errorCode=12001, errorMessage="rejected"))
                continue
            with self.lock:
                self.holds[phone] = customer.full_name
            success.append(SuccessItem(index=index, customerId=customer_id_of(phone), whatsAppPhone=phone))
        if self.crash_after_store:
            raise RuntimeError("the drain died right after NXCloud stored the batch")
        if set(names) & self.store_then_fail:
            return RequestFailed(FailureClass.RETRYABLE, None, "HTTP 500", http_status=500)
        result = BatchCreateResult(
            totalCount=len(names),
            successCount=len(success),
            failCount=len(fail),
            successItems=success,
            failItems=fail,
        )
        return Delivered(result, "trace", 5.0)

    def jane(self) -> str | None:
        """What NXCloud holds for Jane."""
        return self.holds.get(phone_of(JANE))


@pytest.fixture
def nxcloud() -> FakeNXCloud:
    return FakeNXCloud()


@pytest.fixture
def make_drainer(watermarks: Watermarks, nxcloud: FakeNXCloud) -> Callable[..., Drainer]:
    """A Drainer (its own DLQ double) sharing the watermarks table and NXCloud with every other one the test makes."""

    def build(*, ordering: bool = True, max_attempts: int = 1) -> Drainer:
        return Drainer(
            sqs=RecordingSQS(),  # type: ignore[arg-type]
            credentials=FakeCredentials(),
            nxcloud=nxcloud,
            settings=drain_settings(max_attempts=max_attempts),
            sleep=lambda _s: None,
            rng=random.Random(5),
            watermarks=watermarks if ordering else None,
        )

    return build


def drain(drainer: Drainer, *envelopes: Envelope, ids: list[str] | None = None) -> DrainResult:
    """One batch of ``envelopes`` (message ids ``ids`` or ``<name>``)."""
    names = ids or [e.customer.full_name for e in envelopes]
    return drainer.drain(
        [sqs_record(e.to_message(), i) for e, i in zip(envelopes, names, strict=True)], lambda: PLENTY_MS
    )


def retried(result: DrainResult) -> list[str]:
    return [str(r["itemIdentifier"]) for r in result.response()["batchItemFailures"]]


def superseded(result: DrainResult) -> dict[str, str]:
    return {s.message_id: s.by for s in result.superseded}


def test_an_older_version_after_a_newer_one_across_batches_is_superseded_not_sent(
    make_drainer: Callable[..., Drainer], nxcloud: FakeNXCloud, drain_metrics: Callable[[str], list[float]]
) -> None:
    drainer = make_drainer()
    assert [s.message_id for s in drain(drainer, version(NEW, "Jane v2")).synced] == ["Jane v2"]

    late = drain(drainer, version(OLD, "Jane v1"))

    assert superseded(late) == {"Jane v1": "watermark"}
    assert (late.synced, retried(late), late.dead_lettered) == ([], [], [])
    assert nxcloud.calls == [["Jane v2"]]
    assert nxcloud.jane() == "Jane v2"
    assert drain_metrics("CustomersSuperseded")[-1] == 1


def test_in_one_batch_only_the_newest_version_of_a_customer_is_sent(
    make_drainer: Callable[..., Drainer], nxcloud: FakeNXCloud
) -> None:
    result = drain(make_drainer(), version(NEW, "Jane v2"), make_envelope(7), version(OLD, "Jane v1"))

    assert nxcloud.calls == [["Jane v2", "Customer 7"]]
    assert superseded(result) == {"Jane v1": "batch"}
    assert sorted(s.message_id for s in result.synced) == ["Customer 7", "Jane v2"]
    assert nxcloud.jane() == "Jane v2"


def test_in_one_batch_a_tie_goes_to_the_later_message_even_without_a_table(
    make_drainer: Callable[..., Drainer], nxcloud: FakeNXCloud
) -> None:
    result = drain(make_drainer(ordering=False), version(NEW, "Jane first"), version(NEW, "Jane second"))

    assert superseded(result) == {"Jane first": "batch"}
    assert nxcloud.jane() == "Jane second"


def test_envelopes_without_an_identity_are_neither_coalesced_nor_claimed(
    make_drainer: Callable[..., Drainer], nxcloud: FakeNXCloud, idempotency_table: str
) -> None:
    # Written before envelopes carried event times: the same customer twice is sent twice, as it always was.
    result = drain(make_drainer(), make_envelope(JANE), make_envelope(JANE), ids=["m-0", "m-1"])

    assert (result.superseded, sorted(s.message_id for s in result.synced)) == ([], ["m-0", "m-1"])
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName=idempotency_table)["Items"] == []


def test_two_drains_racing_the_newer_waits_for_the_older_lease_then_wins(
    make_drainer: Callable[..., Drainer], nxcloud: FakeNXCloud
) -> None:
    first, second = make_drainer(), make_drainer()
    nxcloud.block_on = "Jane v1"
    results: dict[str, DrainResult] = {}
    holder = threading.Thread(target=lambda: results.update(old=drain(first, version(OLD, "Jane v1"))))
    holder.start()
    assert nxcloud.entered.wait(10)

    # Jane v1 is in flight: Jane v2 must not overtake it, so it goes back to SQS rather than being sent now.
    waiting = drain(second, version(NEW, "Jane v2"))
    assert retried(waiting) == ["Jane v2"] and waiting.superseded == []
    assert nxcloud.calls == [["Jane v1"]]

    nxcloud.release.set()
    holder.join(10)
    assert [s.message_id for s in results["old"].synced] == ["Jane v1"]
    again = drain(second, version(NEW, "Jane v2"))

    assert [s.message_id for s in again.synced] == ["Jane v2"]
    assert nxcloud.jane() == "Jane v2"


def test_two_drains_racing_the_older_waits_for_the_newer_lease_then_is_superseded(
    make_drainer: Callable[..., Drainer], nxcloud: FakeNXCloud
) -> None:
    first, second = make_drainer(), make_drainer()
    nxcloud.block_on = "Jane v2"
    results: dict[str, DrainResult] = {}
    holder = threading.Thread(target=lambda: results.update(new=drain(first, version(NEW, "Jane v2"))))
    holder.start()
    assert nxcloud.entered.wait(10)

    waiting = drain(second, version(OLD, "Jane v1"))
    assert retried(waiting) == ["Jane v1"]

    nxcloud.release.set()
    holder.join(10)
    again = drain(second, version(OLD, "Jane v1"))

    assert superseded(again) == {"Jane v1": "watermark"}
    assert nxcloud.calls == [["Jane v2"]]
    assert nxcloud.jane() == "Jane v2"


def test_a_newer_version_refused_to_the_dlq_lets_an_older_one_through_until_it_is_replayed(
    make_drainer: Callable[..., Drainer], nxcloud: FakeNXCloud
) -> None:
    drainer = make_drainer()
    nxcloud.refuse = {"Jane v2"}
    refused = drain(drainer, version(NEW, "Jane v2"))
    assert [d.message_id for d in refused.dead_lettered] == ["Jane v2"]

    # NXCloud does not hold v2: the watermark did not move, so the older v1 may still be sent.
    older = drain(drainer, version(OLD, "Jane v1"))
    assert [s.message_id for s in older.synced] == ["Jane v1"]
    assert nxcloud.jane() == "Jane v1"

    # The operator fixes v2 and replays it (same event time): it passes, being newer than what was sent.
    nxcloud.refuse = set()
    replayed = drain(drainer, version(NEW, "Jane v2"))

    assert [s.message_id for s in replayed.synced] == ["Jane v2"]
    assert nxcloud.jane() == "Jane v2"


def test_an_unknown_outcome_counts_as_sent_and_the_same_record_still_passes_on_retry(
    make_drainer: Callable[..., Drainer], nxcloud: FakeNXCloud
) -> None:
    drainer = make_drainer()
    nxcloud.store_then_fail = {"Jane v2"}
    unknown = drain(drainer, version(NEW, "Jane v2"))
    assert retried(unknown) == ["Jane v2"]

    # NXCloud may hold v2 (it did store it): an older record must not overwrite it.
    late = drain(drainer, version(OLD, "Jane v1"))
    assert superseded(late) == {"Jane v1": "watermark"}
    nxcloud.store_then_fail = set()
    retry = drain(drainer, version(NEW, "Jane v2"))

    assert [s.message_id for s in retry.synced] == ["Jane v2"]
    assert nxcloud.jane() == "Jane v2"


def test_a_drain_that_fails_mid_batch_counts_what_it_sent_as_stored(
    make_drainer: Callable[..., Drainer], nxcloud: FakeNXCloud
) -> None:
    nxcloud.crash_after_store = True
    with pytest.raises(RuntimeError):
        drain(make_drainer(), version(NEW, "Jane v2"))
    nxcloud.crash_after_store = False

    late = drain(make_drainer(), version(OLD, "Jane v1"))

    assert superseded(late) == {"Jane v1": "watermark"}
    assert nxcloud.jane() == "Jane v2"
    # SQS delivers the crashed batch again: the same version passes (no lease is left behind to wait for).
    assert [s.message_id for s in drain(make_drainer(), version(NEW, "Jane v2")).synced] == ["Jane v2"]


def test_an_expired_lease_of_a_vanished_drain_counts_its_version_as_possibly_stored(
    make_drainer: Callable[..., Drainer], nxcloud: FakeNXCloud, watermarks: Watermarks, clock: Clock
) -> None:
    # A drain claimed v2 and vanished (killed at its timeout) before the answer: nobody knows if NXCloud has v2.
    identity = version(NEW, "Jane v2").identity or ""
    dead = watermarks.claim(ClaimRequest(identity, micros(NEW), "shop"), owner="vanished", lease_seconds=120)
    assert isinstance(dead, Granted)
    drainer = make_drainer()
    assert retried(drain(drainer, version(NEWER, "Jane v3"))) == ["Jane v3"]  # the lease is live: wait

    clock.now += 121
    late = drain(drainer, version(OLD, "Jane v1"))
    assert superseded(late) == {"Jane v1": "watermark"}
    # A newer version takes the lease over; refused by NXCloud, it still leaves v2's time as the watermark.
    nxcloud.refuse = {"Jane v3"}
    assert [d.message_id for d in drain(drainer, version(NEWER, "Jane v3")).dead_lettered] == ["Jane v3"]
    held = watermarks.read(identity)

    assert held is not None and held.sent_at == micros(NEW) and held.lease_until is None
    assert superseded(drain(drainer, version(OLD, "Jane v1"))) == {"Jane v1": "watermark"}
    assert nxcloud.calls == [["Jane v3"]]


def test_an_unreachable_table_sends_versioned_records_back_to_sqs_and_others_through(
    nxcloud: FakeNXCloud, aws: None
) -> None:
    missing = Watermarks(boto3.client("dynamodb", region_name=REGION), "no-such-table")
    drainer = Drainer(
        sqs=RecordingSQS(),  # type: ignore[arg-type]
        credentials=FakeCredentials(),
        nxcloud=nxcloud,
        settings=drain_settings(),
        watermarks=missing,
    )

    result = drain(drainer, version(NEW, "Jane v2"), make_envelope(7))

    assert retried(result) == ["Jane v2"]
    assert [s.message_id for s in result.synced] == ["Customer 7"]
    assert nxcloud.jane() is None


def test_a_superseded_record_is_logged_by_its_hashed_identity_only(
    make_drainer: Callable[..., Drainer], log_audit: LogAudit
) -> None:
    older, newer = version(OLD, "Jane Quokka v1"), version(NEW, "Jane Quokka v2")
    log_audit.forbid([phone_of(JANE), "Jane Quokka", older.identity or ""])
    log_audit.retain(lambda record: record.getMessage() == "customer superseded")

    drain(make_drainer(), newer, older, ids=["m-new", "m-old"])

    (line,) = log_audit.records
    assert {key: vars(line)[key] for key in ("messageId", "identity", "by")} == {
        "messageId": "m-old",
        "identity": identity_hash(older.identity or ""),
        "by": "batch",
    }


def test_a_watermark_item_holds_hashes_times_and_the_endpoint_only(
    make_drainer: Callable[..., Drainer], idempotency_table: str
) -> None:
    envelope = version(NEW, "Jane v2")
    drain(make_drainer(), envelope)

    (item,) = boto3.client("dynamodb", region_name=REGION).scan(TableName=idempotency_table)["Items"]

    assert item["id"] == {"S": f"nxbridge-order#{identity_hash(envelope.identity or '')}"}
    assert set(item) == {"id", "sent_at", "endpoint", "expiration"}
    assert int(item["sent_at"]["N"]) == micros(NEW)
    assert phone_of(JANE) not in str(item)
