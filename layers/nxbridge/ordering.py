"""Newest wins: per-customer watermarks and leases, so that NXCloud never gets an older version after a newer one.

One DynamoDB item per customer identity (key ``nxbridge-order#<sha256(identity)>``, in the IdempotencyTable) holds
``sent_at``, the newest event time NXCloud may hold for that customer, and a lease. Before its NXCloud call a drain
*claims* each identity of its batch: granted only when ``sent_at <= event_at`` and no other drain holds a live lease.
After the call it *releases*: ``sent_at`` moves to the record's event time when NXCloud stored it or may have (an
unknown outcome), not when NXCloud refused it. A lease that is never released (a drain that died, or ran out of
time) names the version it was for (``lease_t``): it expires after ``LEASE_SECONDS`` (at least the invocation's
remaining time), and whoever takes it over treats ``lease_t`` as possibly stored. docs/drain.md states the rule,
its races and its costs. Times are integer epoch microseconds; ``expiration`` (epoch seconds) is the table's TTL.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import field
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from nxbridge.identity import (
    customer_identity,
    email_identity,
    identities_of,
    identity_hash,
    phone_identity,
)
from nxbridge.observability import logger

# Re-exported (the identities are newest-wins' keys, and were long imported from here); identity_hash keys the items.
from nxbridge.record import Record

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


__all__ = [
    "KEY_PREFIX",
    "LEASE_SECONDS",
    "RELEASE_BATCH",
    "RELEASE_BATCH_MARGIN_SECONDS",
    "WATERMARK_TTL_SECONDS",
    "WORKERS",
    "Busy",
    "Claim",
    "ClaimRequest",
    "Granted",
    "Release",
    "Stale",
    "Unavailable",
    "Watermark",
    "Watermarks",
    "claim_all",
    "coalesce",
    "customer_identity",
    "email_identity",
    "from_micros",
    "identities_of",
    "identity_hash",
    "micros",
    "phone_identity",
    "release_all",
    "release_for",
]

KEY_PREFIX = "nxbridge-order"
# Longer than any record can wait before it reaches the drain again: 4 days in CustomersQueue plus 14 in the DLQ
# (a stale record is acknowledged when it arrives, so it never loops). Refreshed by every claim.
WATERMARK_TTL_SECONDS = 30 * 24 * 3600
# At least twice the drain's 60 s timeout; a claim also never ends before the invocation's own deadline.
LEASE_SECONDS = 120
# DynamoDB calls of one batch run this many at a time (boto3 clients are thread-safe; the calls wait on the network).
WORKERS = 8
# Releases go 25 to a BatchWriteItem (DynamoDB's limit), each a put of the item the conditional release would leave.
# That is the same write only while our lease is live, as no other drain's claim can succeed before it expires; a
# lease with less than this left (by our clock) is released by the conditional UpdateItem instead.
RELEASE_BATCH = 25
RELEASE_BATCH_MARGIN_SECONDS = 30
# A BatchWriteItem's UnprocessedItems are sent again this many times, after 50 ms, then 100 ms (AWS: back off).
_RELEASE_BATCH_ATTEMPTS = 3
_LEASE_FIELDS = frozenset({"lease_owner", "lease_until", "lease_t"})
_NAMES = {
    "#sent": "sent_at",
    "#owner": "lease_owner",
    "#until": "lease_until",
    "#leased": "lease_t",
    "#endpoint": "endpoint",
    "#expiration": "expiration",
}
# Granted when nothing newer may be stored and no other drain holds a live lease; an expired lease may be taken
# over only by a version at least as new as the one it was taken for.
_CLAIM_CONDITION = (
    "(attribute_not_exists(#sent) OR #sent <= :t) AND (attribute_not_exists(#until) OR #owner = :me"
    " OR (#until < :now AND #leased <= :t))"
)
T = TypeVar("T")


def micros(moment: dt.datetime) -> int:
    """Integer epoch microseconds of an aware datetime."""
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def from_micros(value: int) -> dt.datetime:
    """The aware UTC datetime of integer epoch microseconds."""
    return _EPOCH + dt.timedelta(microseconds=value)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def coalesce(
    items: Sequence[T], key: Callable[[T], tuple[str, dt.datetime] | None]
) -> tuple[list[T], list[tuple[T, T]]]:
    """Keep the newest item per identity (a tie goes to the later item); the others, each with the one that won.

    ``key`` gives an item's identity and event time; items without one are always kept. Order is preserved.
    """
    newest: dict[str, tuple[dt.datetime, int]] = {}
    for position, item in enumerate(items):
        found = key(item)
        if found is not None and (found[0] not in newest or found[1] >= newest[found[0]][0]):
            newest[found[0]] = (found[1], position)
    kept: list[T] = []
    superseded: list[tuple[T, T]] = []
    for position, item in enumerate(items):
        found = key(item)
        if found is None or newest[found[0]][1] == position:
            kept.append(item)
        else:
            superseded.append((item, items[newest[found[0]][1]]))
    return kept, superseded


class Granted(Record):
    """The identity is ours until the release; ``sent_at`` and ``floor`` are what a release must not go below.

    ``floor`` is the version of an expired lease this claim took over: a drain that died may have stored it.
    ``item`` is the item as the claim left it, without the lease, and ``lease_until`` the lease's end: what a
    batched release writes, and until when it may.
    """

    sent_at: int | None = None
    floor: int | None = None
    item: dict[str, Any] = field(default_factory=dict)
    lease_until: int | None = None


class Stale(Record):
    """NXCloud holds (or may hold) a newer version, from ``newer`` on: this record is superseded."""

    newer: int


class Busy(Record):
    """Another drain holds a live lease on the identity: the record goes back to SQS and is tried again later."""


class Unavailable(Record):
    """The table could not be asked (``code``): the record goes back to SQS rather than risk going backwards."""

    code: str


Claim = Granted | Stale | Busy | Unavailable


class ClaimRequest(Record):
    """One identity of a batch to claim for the version of ``event_us``."""

    identity: str
    event_us: int
    endpoint: str


class Release(Record):
    """Give an identity back; ``sent_us`` (when set) becomes its watermark. ``granted`` (the claim) lets it go in a
    batch; without it the release is the conditional UpdateItem."""

    identity: str
    sent_us: int | None
    granted: Granted | None = None

    def item(self) -> dict[str, Any]:
        """The item the conditional release would leave: the claimed item without the lease, at ``sent_us``."""
        if self.granted is None:
            raise ValueError("a release without its claim cannot go in a batch")
        item = {**self.granted.item, **Watermarks.key(self.identity)}
        if self.sent_us is not None:
            item["sent_at"] = {"N": str(self.sent_us)}
        return item


class Watermark(Record):
    """What the table holds for one identity: the newest version sent and an unreleased lease's version."""

    sent_at: int | None
    leased: int | None
    lease_until: int | None

    def newest(self, now_us: int) -> int | None:
        """The newest version NXCloud may hold: ``sent_at``, or an expired lease's version when that is newer."""
        expired = self.leased if self.lease_until is not None and self.lease_until < now_us else None
        candidates = [v for v in (self.sent_at, expired) if v is not None]
        return max(candidates) if candidates else None


class Watermarks:
    """The watermark items of one table: claim, release, read and forget (privacy requests)."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table: str,
        *,
        ttl_seconds: int = WATERMARK_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def now_us(self) -> int:
        """The clock in epoch microseconds."""
        return int(self.clock() * 1_000_000)

    @staticmethod
    def key(identity: str) -> dict[str, Any]:
        """The item key of an identity (its hash: the key holds no PII)."""
        return {"id": {"S": f"{KEY_PREFIX}#{identity_hash(identity)}"}}

    def claim(self, request: ClaimRequest, *, owner: str, lease_seconds: float) -> Claim:
        """Take the identity's lease for ``request.event_us`` unless something newer may be stored or it is held."""
        now = self.now_us()
        until = now + int(lease_seconds * 1_000_000)
        expiration = int(self.clock()) + self.ttl_seconds
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table,
                Key=self.key(request.identity),
                UpdateExpression=(
                    "SET #owner = :me, #until = :until, #leased = :t, #endpoint = :endpoint, #expiration = :expiration"
                ),
                ConditionExpression=_CLAIM_CONDITION,
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={
                    ":me": {"S": owner},
                    ":t": {"N": str(request.event_us)},
                    ":now": {"N": str(now)},
                    ":until": {"N": str(until)},
                    ":endpoint": {"S": request.endpoint},
                    ":expiration": {"N": str(expiration)},
                },
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            if code != "ConditionalCheckFailedException":
                return Unavailable(code)
            item: dict[str, Any] = dict(exc.response.get("Item", {}))  # type: ignore[call-overload]
            return _refused(_watermark(item), item, request, owner, now)
        except BotoCoreError as exc:
            return Unavailable(type(exc).__name__)
        old = answer.get("Attributes", {})
        held = _watermark(old)
        taken_over = held.lease_until is not None and _text(old, "lease_owner") != owner
        item = {name: value for name, value in old.items() if name not in _LEASE_FIELDS}
        item.update({"endpoint": {"S": request.endpoint}, "expiration": {"N": str(expiration)}})
        return Granted(held.sent_at, held.leased if taken_over else None, item, until)

    def release(self, release: Release, *, owner: str) -> bool:
        """Drop our lease (and set the watermark); False when the lease was no longer ours or the call failed."""
        expression = "REMOVE #owner, #until, #leased"
        names = {"#owner": "lease_owner", "#until": "lease_until", "#leased": "lease_t"}
        values: dict[str, Any] = {":me": {"S": owner}}
        if release.sent_us is not None:
            expression += " SET #sent = :sent"
            names["#sent"] = "sent_at"
            values[":sent"] = {"N": str(release.sent_us)}
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=self.key(release.identity),
                UpdateExpression=expression,
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except (ClientError, BotoCoreError) as exc:
            # Safe either way: an unreleased lease expires, and its version counts as possibly stored.
            logger.warning("watermark release failed", extra={"error": _code(exc)})
            return False
        return True

    def release_batch(self, releases: Sequence[Release], *, can_call: Callable[[], bool]) -> int:
        """Release up to 25 claimed identities in one BatchWriteItem (see ``RELEASE_BATCH``); how many were written.

        What DynamoDB leaves unprocessed is sent again (twice, backing off) while a call still fits; what is still
        left then, or a failed call, leaves those leases to expire, as a failed conditional release does."""
        pending: list[Any] = [{"PutRequest": {"Item": release.item()}} for release in releases]
        for attempt in range(_RELEASE_BATCH_ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2 ** (attempt - 1))
            if not can_call():
                break
            try:
                answer = self.dynamodb.batch_write_item(RequestItems={self.table: pending})
            except (ClientError, BotoCoreError) as exc:
                logger.warning("watermark release failed", extra={"error": _code(exc), "leases": len(pending)})
                break
            pending = list(answer.get("UnprocessedItems", {}).get(self.table, []))
            if not pending:
                break
        return len(releases) - len(pending)

    def read(self, identity: str) -> Watermark | None:
        """The identity's watermark (consistent read), or None when there is none."""
        item = self.dynamodb.get_item(TableName=self.table, Key=self.key(identity), ConsistentRead=True).get("Item")
        return _watermark(item) if item else None

    def count(self, identities: Iterable[str]) -> int:
        """How many of ``identities`` have a watermark item."""
        return sum(1 for identity in set(identities) if self.read(identity) is not None)

    def forget(self, identities: Iterable[str]) -> int:
        """Delete the watermark items of ``identities``; how many existed."""
        deleted = 0
        for identity in set(identities):
            answer = self.dynamodb.delete_item(TableName=self.table, Key=self.key(identity), ReturnValues="ALL_OLD")
            deleted += 1 if answer.get("Attributes") else 0
        return deleted

    def forget_endpoint(self, endpoint: str) -> int:
        """Delete every watermark item last claimed through ``endpoint`` (a scan); how many were deleted."""
        deleted = 0
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table,
            ProjectionExpression="#id",
            FilterExpression="begins_with(#id, :prefix) AND #endpoint = :endpoint",
            ExpressionAttributeNames={"#id": "id", "#endpoint": "endpoint"},
            ExpressionAttributeValues={":prefix": {"S": f"{KEY_PREFIX}#"}, ":endpoint": {"S": endpoint}},
        )
        for page in pages:
            for item in page.get("Items", []):
                self.dynamodb.delete_item(TableName=self.table, Key={"id": item["id"]})
                deleted += 1
        return deleted


def claim_all(
    watermarks: Watermarks,
    pool: ThreadPoolExecutor,
    requests: Sequence[ClaimRequest],
    *,
    owner: str,
    lease_seconds: float,
    can_call: Callable[[], bool],
) -> list[Claim]:
    """Claim every request (in ``pool``); a claim that could no longer finish in time is ``Unavailable("deadline")``."""

    def one(request: ClaimRequest) -> Claim:
        if not can_call():
            return Unavailable("deadline")
        return watermarks.claim(request, owner=owner, lease_seconds=lease_seconds)

    return list(pool.map(one, requests))


def release_all(
    watermarks: Watermarks,
    pool: ThreadPoolExecutor,
    releases: Sequence[Release],
    *,
    owner: str,
    can_call: Callable[[], bool],
) -> int:
    """Release every identity (in ``pool``) while there is time; how many were released.

    A release whose lease has at least ``RELEASE_BATCH_MARGIN_SECONDS`` left goes in a batch of 25 (one call
    instead of 25); any other, or one without its claim, is the conditional UpdateItem."""
    latest = watermarks.now_us() + RELEASE_BATCH_MARGIN_SECONDS * 1_000_000
    batched = [r for r in releases if r.granted is not None and (r.granted.lease_until or 0) >= latest]
    single = [r for r in releases if r.granted is None or (r.granted.lease_until or 0) < latest]
    chunks = [batched[start : start + RELEASE_BATCH] for start in range(0, len(batched), RELEASE_BATCH)]

    def batch(chunk: Sequence[Release]) -> int:
        return watermarks.release_batch(chunk, can_call=can_call)

    def one(release: Release) -> bool:
        return can_call() and watermarks.release(release, owner=owner)

    return sum(pool.map(batch, chunks)) + sum(pool.map(one, single))


def release_for(granted: Granted, event_us: int, *, maybe_stored: bool) -> int | None:
    """The watermark a release sets: the record's version if NXCloud may hold it, never below what was there."""
    versions = [v for v in (granted.sent_at, granted.floor, event_us if maybe_stored else None) if v is not None]
    newest = max(versions) if versions else None
    # Nothing to write when the watermark would not move (a refused record, no lease taken over).
    return None if newest is None or newest == granted.sent_at else newest


def _refused(held: Watermark, item: dict[str, Any], request: ClaimRequest, owner: str, now: int) -> Claim:
    """Why a claim failed: something newer (Stale) or another drain's lease (Busy)."""
    if held.sent_at is not None and held.sent_at > request.event_us:
        return Stale(held.sent_at)
    if held.lease_until is not None and _text(item, "lease_owner") != owner:
        if held.lease_until >= now:
            return Busy()
        if held.leased is not None and held.leased > request.event_us:
            return Stale(held.leased)
    # The item changed between the condition and this answer: try again later.
    return Busy()


def _watermark(item: dict[str, Any]) -> Watermark:
    return Watermark(_number(item, "sent_at"), _number(item, "lease_t"), _number(item, "lease_until"))


def _number(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return int(value) if value is not None else None


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return str(value) if value is not None else None


def _code(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
