"""Releasing watermarks in batches (moto DynamoDB): the same items as the conditional release, in 1/25 of the calls.

A batched release is a put of the item the conditional UpdateItem would leave, 25 to a BatchWriteItem. It is the
same write only while the claimer's lease is live; a lease closer to its end than the margin, or a release without
its claim, still goes through the conditional UpdateItem. docs/drain.md (*Ordering*, *Costs*) states the rule.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nxbridge.ordering import (
    LEASE_SECONDS,
    RELEASE_BATCH_MARGIN_SECONDS,
    ClaimRequest,
    Granted,
    Release,
    Watermarks,
    release_all,
    release_for,
)
from tests.fixtures.aws import REGION
from tests.fixtures.drain import Clock
from tests.fixtures.security import LogAudit

NOW = 1_750_000_000.0
T = int(NOW * 1_000_000)


def counted(client: Any) -> Counter[str]:
    """The operations ``client`` sends, counted as they go out."""
    calls: Counter[str] = Counter()
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
    return calls


@pytest.fixture
def clock() -> Clock:
    """This module's start (the shared fixture's ``watermarks`` runs on it)."""
    return Clock(NOW)


def stored(watermarks: Watermarks, identity: str) -> dict[str, Any]:
    """The whole item, key left out (it is per identity)."""
    item = watermarks.dynamodb.get_item(TableName=watermarks.table, Key=watermarks.key(identity), ConsistentRead=True)
    return {name: value for name, value in item.get("Item", {}).items() if name != "id"}


# (what the table held before the claim, the claim's version, whether NXCloud may hold it)
SCENARIOS: dict[str, tuple[dict[str, Any] | None, int, bool]] = {
    "first version, sent": (None, T - 5, True),
    "first version, refused": (None, T - 5, False),
    "newer version, sent": ({"sent_at": T - 50}, T - 5, True),
    "newer version, refused": ({"sent_at": T - 50}, T - 5, False),
    "same version again": ({"sent_at": T - 5}, T - 5, True),
    "expired lease taken over, sent": ({"sent_at": T - 50, "lease_t": T - 20, "expired": True}, T - 5, True),
    "expired lease taken over, refused": ({"sent_at": T - 50, "lease_t": T - 20, "expired": True}, T - 5, False),
    "expired lease on a first version, refused": ({"lease_t": T - 20, "expired": True}, T - 5, False),
}


def prepare(watermarks: Watermarks, identity: str, before: dict[str, Any] | None, clock: Clock) -> None:
    """Leave the table as ``before`` says: a sent version, and an expired lease of a vanished drain."""
    if before is None:
        return
    if "sent_at" in before:
        request = ClaimRequest(identity, before["sent_at"], "shop-old")
        granted = watermarks.claim(request, owner="earlier", lease_seconds=LEASE_SECONDS)
        assert isinstance(granted, Granted)
        assert watermarks.release(Release(identity, before["sent_at"]), owner="earlier")
    if "lease_t" in before:
        clock.now -= 2 * LEASE_SECONDS
        granted = watermarks.claim(
            ClaimRequest(identity, before["lease_t"], "shop-old"), owner="vanished", lease_seconds=1
        )
        clock.now = NOW
        assert isinstance(granted, Granted)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_batched_release_leaves_the_item_the_conditional_release_leaves(
    watermarks: Watermarks, clock: Clock, scenario: str
) -> None:
    before, event_us, maybe_stored = SCENARIOS[scenario]
    leaves: dict[str, dict[str, Any]] = {}
    for way in ("conditional", "batched"):
        identity = f"email:{way}@example.com"
        prepare(watermarks, identity, before, clock)
        granted = watermarks.claim(ClaimRequest(identity, event_us, "shop"), owner="me", lease_seconds=LEASE_SECONDS)
        assert isinstance(granted, Granted), scenario
        release = Release(identity, release_for(granted, event_us, maybe_stored=maybe_stored), granted)
        if way == "conditional":
            assert watermarks.release(release, owner="me")
        else:
            assert watermarks.release_batch([release], can_call=lambda: True) == 1
        leaves[way] = stored(watermarks, identity)

    assert leaves["batched"] == leaves["conditional"]
    assert not {"lease_owner", "lease_until", "lease_t"} & leaves["batched"].keys()
    assert leaves["batched"]["endpoint"] == {"S": "shop"}


def test_a_hundred_releases_take_four_calls_and_release_every_identity(watermarks: Watermarks, clock: Clock) -> None:
    identities = [f"email:c{n}@example.com" for n in range(100)]
    claims = [
        watermarks.claim(ClaimRequest(i, T - n, "shop"), owner="me", lease_seconds=LEASE_SECONDS)
        for n, i in enumerate(identities)
    ]
    releases = [Release(i, T - n, g) for n, (i, g) in enumerate(zip(identities, claims, strict=True))]
    calls = counted(watermarks.dynamodb)

    with ThreadPoolExecutor(4) as pool:
        released = release_all(watermarks, pool, releases, owner="me", can_call=lambda: True)

    assert released == 100
    assert calls == Counter({"BatchWriteItem": 4})
    for n, identity in enumerate(identities):
        held = watermarks.read(identity)
        assert held is not None and held.sent_at == T - n and held.lease_until is None
        # Released: the next version of the customer is granted at once, by another drain.
        assert isinstance(
            watermarks.claim(ClaimRequest(identity, T, "shop"), owner="next", lease_seconds=LEASE_SECONDS), Granted
        )


def test_a_lease_near_its_end_or_a_release_without_its_claim_is_released_conditionally(
    watermarks: Watermarks, clock: Clock
) -> None:
    ours = watermarks.claim(ClaimRequest("email:a@example.com", T, "shop"), owner="me", lease_seconds=LEASE_SECONDS)
    also = watermarks.claim(ClaimRequest("email:b@example.com", T, "shop"), owner="me", lease_seconds=LEASE_SECONDS)
    assert isinstance(ours, Granted) and isinstance(also, Granted)
    # Just under the margin left on both leases (our clock): a put could outlive the lease that makes it safe.
    clock.now += LEASE_SECONDS - RELEASE_BATCH_MARGIN_SECONDS + 1
    calls = counted(watermarks.dynamodb)
    releases = [Release("email:a@example.com", T, ours), Release("email:b@example.com", T)]

    with ThreadPoolExecutor(2) as pool:
        assert release_all(watermarks, pool, releases, owner="me", can_call=lambda: True) == 2

    assert calls == Counter({"UpdateItem": 2})


def test_a_lease_taken_over_after_it_expired_is_not_overwritten_by_its_late_release(
    watermarks: Watermarks, clock: Clock
) -> None:
    # The first drain's lease ran out (it was stalled); a newer version's drain took it over and is calling NXCloud.
    slow = watermarks.claim(ClaimRequest("email:a@example.com", T - 10, "shop"), owner="slow", lease_seconds=60)
    clock.now += 61
    newer = watermarks.claim(ClaimRequest("email:a@example.com", T, "shop"), owner="new", lease_seconds=LEASE_SECONDS)
    assert isinstance(slow, Granted) and isinstance(newer, Granted) and newer.floor == T - 10
    calls = counted(watermarks.dynamodb)

    with ThreadPoolExecutor(1) as pool:
        released = release_all(
            watermarks, pool, [Release("email:a@example.com", T - 10, slow)], owner="slow", can_call=lambda: True
        )

    # By the slow drain's own clock its lease is over, so it may not put: its conditional release is refused.
    assert released == 0 and calls == Counter({"UpdateItem": 1})
    held = watermarks.read("email:a@example.com")
    assert held is not None and held.leased == T and held.lease_until is not None


def stubbed(table: str) -> tuple[Watermarks, Stubber]:
    client = boto3.client("dynamodb", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    return Watermarks(client, table), Stubber(client)


def granted_releases(count: int) -> list[Release]:
    item = {"endpoint": {"S": "shop"}, "expiration": {"N": "1"}}
    return [Release(f"email:{n}@example.com", T, Granted(None, None, item, T + 10**9)) for n in range(count)]


def puts(releases: list[Release]) -> list[dict[str, Any]]:
    return [{"PutRequest": {"Item": r.item()}} for r in releases]


def test_unprocessed_items_are_sent_again_until_written() -> None:
    watermarks, stub = stubbed("t")
    releases = granted_releases(3)
    stub.add_response(
        "batch_write_item", {"UnprocessedItems": {"t": puts(releases[1:])}}, {"RequestItems": {"t": puts(releases)}}
    )
    stub.add_response(
        "batch_write_item", {"UnprocessedItems": {"t": puts(releases[2:])}}, {"RequestItems": {"t": puts(releases[1:])}}
    )
    stub.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {"t": puts(releases[2:])}})
    started = time.monotonic()

    with stub:
        assert watermarks.release_batch(releases, can_call=lambda: True) == 3

    stub.assert_no_pending_responses()
    assert time.monotonic() - started >= 0.15  # backed off 50 ms, then 100 ms


def test_what_stays_unprocessed_or_a_failed_call_leaves_those_leases_to_expire(
    caplog: pytest.LogCaptureFixture, log_audit: LogAudit
) -> None:
    log_audit.forbid(["0@example.com", "1@example.com"])
    watermarks, stub = stubbed("t")
    releases = granted_releases(2)
    for _ in range(3):
        stub.add_response("batch_write_item", {"UnprocessedItems": {"t": puts(releases[1:])}})
    with stub:
        assert watermarks.release_batch(releases, can_call=lambda: True) == 1

    watermarks, stub = stubbed("t")
    stub.add_client_error("batch_write_item", "ProvisionedThroughputExceededException")
    with caplog.at_level("WARNING"), stub:
        assert watermarks.release_batch(releases, can_call=lambda: True) == 0
    assert "watermark release failed" in caplog.text
    assert log_audit.warnings == {"WARNING watermark release failed": 1}

    # Out of time before the first call: nothing is sent, every lease is left to expire.
    watermarks, stub = stubbed("t")
    with stub:
        assert watermarks.release_batch(releases, can_call=lambda: False) == 0
    stub.assert_no_pending_responses()
