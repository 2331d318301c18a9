"""Shopify's privacy topics and ``customers/delete``: answered at once, acted on for what the bridge itself holds.

What the bridge holds of a customer: its watermark items (the SHA-256 of its identities, times, the endpoint), its
DLQ records (the whole envelope: PII), and idempotency entries (hashes of delivery ids, counts and request ids, no
customer data). ``customers/redact`` deletes the watermark items here and asks the ReplayFunction, asynchronously,
to erase the customer's DLQ records (a DLQ scan outlasts Shopify's 5 s); ``shop/redact`` asks it to erase the
endpoint's DLQ records and watermark items; ``customers/data_request`` counts. Each writes one audit log line
without PII (identities appear as hashes only). NXCloud itself is the merchant's to erase: the contract has no
delete call, which is also why ``customers/delete`` is acknowledged and counted, and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError

from nxbridge.identity import email_identity, identity_hash, phone_identity
from nxbridge.observability import NAMESPACE, SERVICE, logger
from nxbridge.outcomes import Acknowledged, Outcome
from nxbridge.rejections import PrivacyUnavailable
from nxbridge.sources import Ignored, PrivacyNotice

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

    from nxbridge.endpoints import Endpoint
    from nxbridge.ordering import Watermarks

DELETE_TOPIC = "customers/delete"


class PurgeUnavailable(Exception):
    """The DLQ purge could not be requested."""


class DlqPurger(Protocol):
    """Where the ingest sends a DLQ request it cannot wait for (the ReplayFunction in AWS)."""

    def request(self, event: Mapping[str, Any]) -> None:
        """Have ``event`` (a ReplayFunction request) carried out; PurgeUnavailable when it cannot be sent."""
        ...


class ReplayFunctionPurger:
    """Invokes the ReplayFunction asynchronously (``InvocationType=Event``): Lambda queues and retries it."""

    def __init__(self, lambda_client: LambdaClient, function_name: str) -> None:
        self._lambda = lambda_client
        self._function = function_name

    def request(self, event: Mapping[str, Any]) -> None:
        """Queue ``event`` for the ReplayFunction."""
        try:
            self._lambda.invoke(
                FunctionName=self._function, InvocationType="Event", Payload=json.dumps(dict(event)).encode()
            )
        except (ClientError, BotoCoreError) as exc:
            raise PurgeUnavailable(type(exc).__name__) from exc


def notice_identities(endpoint: str, notice: PrivacyNotice) -> frozenset[str]:
    """Every identity the bridge may know the notice's customer by (as ``nxbridge.identity`` builds them)."""
    found = {
        f"{endpoint}:id:{notice.customer_id}" if notice.customer_id else None,
        email_identity(notice.email) if notice.email else None,
        phone_identity(notice.phone) if notice.phone else None,
    }
    return frozenset(identity for identity in found if identity)


class PrivacyDesk:
    """Acts on privacy notices; ``watermarks`` and ``purger`` are None where not configured (then logged)."""

    def __init__(self, watermarks: Watermarks | None = None, purger: DlqPurger | None = None) -> None:
        self._watermarks = watermarks
        self._purger = purger

    def handle(self, endpoint: Endpoint, notice: PrivacyNotice, request_id: str) -> Outcome:
        """Act on one notice; PrivacyUnavailable (503, the sender retries) when the bridge cannot now."""
        identities = notice_identities(endpoint.name, notice)
        hashes = sorted(identity_hash(i) for i in identities)
        audit: dict[str, Any] = {"topic": notice.topic, "endpoint": endpoint.name, "requestId": request_id}
        if notice.topic == DELETE_TOPIC:
            _count("CustomersDeleteIgnored")
            logger.info("customer deletion ignored", extra={**audit, "identities": hashes})
            return Ignored("customers/delete: NXCloud has no delete call; the customer stays in NXCloud")
        tag = f"{notice.topic}:{request_id}"
        try:
            if notice.topic == "customers/redact":
                audit["identities"] = hashes
                audit["watermarksDeleted"] = self._watermark_call(lambda w: w.forget(identities))
                audit["dlq"] = self._purge({"action": "erase", "identity": hashes, "audit": tag})
            elif notice.topic == "customers/data_request":
                audit["identities"] = hashes
                audit["watermarks"] = self._watermark_call(lambda w: w.count(identities))
                # Powertools idempotency and progress items hold hashes of delivery ids and counts only.
                audit["idempotency"] = "delivery-id hashes and counts only"
                audit["dlq"] = self._purge({"action": "stats", "identity": hashes, "audit": tag})
            else:
                request = {"action": "erase", "endpoint": [endpoint.name], "watermarks": True, "audit": tag}
                audit["dlq"] = self._purge(request)
        except PurgeUnavailable as exc:
            logger.error("privacy request not carried out", extra={**audit, "error": str(exc)})
            raise PrivacyUnavailable from None
        _count("PrivacyRequests")
        logger.info("privacy request", extra=audit)
        return Acknowledged(notice.topic)

    def _watermark_call(self, call: Callable[[Watermarks], int]) -> int | str:
        if self._watermarks is None:
            return "no watermark table"
        try:
            result: int = call(self._watermarks)
        except (ClientError, BotoCoreError) as exc:
            raise PurgeUnavailable(f"watermarks: {type(exc).__name__}") from exc
        return result

    def _purge(self, event: Mapping[str, Any]) -> str:
        if event.get("identity") == []:
            # A notice naming no customer (no id, e-mail or phone) matches no record; an erasure must name one.
            return "no customer named"
        if self._purger is None:
            logger.warning("no REPLAY_FUNCTION: the DLQ part of a privacy request is not carried out")
            return "not configured"
        self._purger.request(event)
        return "requested from the ReplayFunction"


def _count(name: str) -> None:
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
