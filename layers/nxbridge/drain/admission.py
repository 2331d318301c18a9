"""Newest wins, on the drain's side: which messages of a batch may be sent, and giving the identities back after.

The rule and its races are ``nxbridge.ordering``'s (docs/drain.md, *Ordering*); this module applies them to one
invocation: coalesce the batch, claim each identity before the call, release each one after it.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from operator import attrgetter

from nxbridge.aws import clients
from nxbridge.drain.result import Superseded
from nxbridge.drain.run import RESPONSE_SECONDS, Item, Run
from nxbridge.observability import logger
from nxbridge.ordering import (
    LEASE_SECONDS,
    Busy,
    ClaimRequest,
    Granted,
    Release,
    Stale,
    Watermarks,
    claim_all,
    coalesce,
    identity_hash,
    micros,
    release_all,
    release_for,
)

_VERSION = attrgetter("version")


def admit(
    items: list[Item], run: Run, watermarks: Watermarks | None, pool: ThreadPoolExecutor | None, call_budget_ms: int
) -> list[Item]:
    """The newest record per customer of the batch, and only if nothing newer may be stored; the others settled.

    ``pool`` runs the watermark calls; None only without ``watermarks``."""
    if not any(item.version is not None for item in items):
        # Nothing to coalesce or claim: no envelope of the batch says whose customer it is and when it changed.
        return items
    kept, beaten = coalesce(items, _VERSION)
    for loser, _winner in beaten:
        supersede(run, loser, "batch")
    if watermarks is None or pool is None:
        return kept
    versioned = [(item, version) for item in kept if (version := item.version) is not None]
    if not versioned:
        return kept
    run.owner = uuid.uuid4().hex
    claims = claim_all(
        watermarks,
        pool,
        [ClaimRequest(identity, micros(at), item.endpoint) for item, (identity, at) in versioned],
        owner=run.owner,
        # Never shorter than this invocation can still run: a call in flight cannot be overtaken.
        lease_seconds=max(LEASE_SECONDS, run.remaining_ms() / 1000 + 1),
        can_call=lambda: run.remaining_ms() - call_budget_ms >= clients.DRAIN_ORDERING.call_seconds * 1000,
    )
    refused: set[str] = set()
    unavailable: dict[str, int] = {}
    for (item, version), claim in zip(versioned, claims, strict=True):
        if isinstance(claim, Granted):
            run.claimed.append((item, claim, version))
            continue
        refused.add(item.message_id)
        if isinstance(claim, Stale):
            supersede(run, item, "watermark")
            continue
        run.deferred += 1
        run.retry_later([item])
        if not isinstance(claim, Busy):
            unavailable[claim.code] = unavailable.get(claim.code, 0) + 1
    if unavailable:
        logger.warning("watermarks unavailable; messages go back to SQS", extra={"codes": unavailable})
    return [item for item in kept if item.message_id not in refused]


def supersede(run: Run, item: Item, by: str) -> None:
    """Acknowledge ``item`` unsent: a newer version of its customer was sent or is on its way."""
    identity = identity_hash(item.identity or "")
    run.result.superseded.append(Superseded(item.message_id, identity, by))
    # Acknowledged without reaching NXCloud, so it gets its own line; the identity only hashed (it may be an e-mail).
    logger.info("customer superseded", extra={"messageId": item.message_id, "identity": identity, "by": by})


def release(run: Run, watermarks: Watermarks | None, pool: ThreadPoolExecutor | None, *, crashed: bool) -> None:
    """Give back every claimed identity; the watermark moves to each version NXCloud stored or may have."""
    if watermarks is None or pool is None or not run.claimed:
        return
    synced = {s.message_id for s in run.result.synced}
    releases = []
    for item, granted, (identity, at) in run.claimed:
        sent = crashed or item.message_id in synced or item.message_id in run.maybe_stored
        releases.append(Release(identity, release_for(granted, micros(at), maybe_stored=sent), granted))
    call_ms = clients.DRAIN_ORDERING.call_seconds * 1000
    released = release_all(
        watermarks,
        pool,
        releases,
        owner=run.owner,
        # A release that does not fit is left to expire: its version then counts as possibly stored.
        can_call=lambda: run.remaining_ms() - RESPONSE_SECONDS * 1000 >= call_ms,
    )
    if released < len(releases):
        logger.warning("leases left to expire", extra={"leases": len(releases) - released})
