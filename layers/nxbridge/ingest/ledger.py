"""The ingest's delivery ledger: dedupe by delivery id (Powertools idempotency on DynamoDB), and the progress of a
delivery whose first attempt queued only part of its customers.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from nxbridge.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from mypy_boto3_dynamodb import DynamoDBClient

IDEMPOTENCY_KEY_PREFIX = "nxbridge-ingest"
PROGRESS_KEY_PREFIX = "nxbridge-ingest-progress"


class LedgerBusy(Exception):
    """Another invocation is processing the same delivery right now."""


class LedgerUnavailable(Exception):
    """The idempotency table cannot be used."""


class DeliveryLedger:
    """Delivery dedupe (Powertools idempotency on DynamoDB) and the progress of a partly queued delivery."""

    def __init__(self, dynamodb: DynamoDBClient, table: str, *, ttl_seconds: int) -> None:
        from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 (only with a table)
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self._dynamodb = dynamodb
        self._table = table
        self._ttl = ttl_seconds
        self.config: IdempotencyConfig = IdempotencyConfig(expires_after_seconds=ttl_seconds)
        self._once = idempotent_function(
            data_keyword_argument="delivery",
            persistence_store=DynamoDBPersistenceLayer(table_name=table, boto3_client=dynamodb),
            config=self.config,
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )(_run_work)

    def once(self, endpoint: str, delivery_id: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``work`` unless this delivery already completed; then return the first run's result.

        An exception from ``work`` removes the record, so that the sender's retry runs again.
        """
        from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
        )

        try:
            result: dict[str, Any] = self._once(delivery={"endpoint": endpoint, "delivery_id": delivery_id}, work=work)
        except IdempotencyAlreadyInProgressError:
            raise LedgerBusy from None
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as exc:
            raise LedgerUnavailable(type(exc).__name__) from exc
        return result

    def _progress_key(self, endpoint: str, delivery_id: str) -> dict[str, Any]:
        digest = hashlib.sha256(f"{endpoint}\0{delivery_id}".encode()).hexdigest()
        return {"id": {"S": f"{PROGRESS_KEY_PREFIX}#{digest}"}}

    def sent(self, endpoint: str, delivery_id: str) -> frozenset[int]:
        """Indexes an earlier, failed attempt of this delivery already queued."""
        try:
            item = self._dynamodb.get_item(
                TableName=self._table, Key=self._progress_key(endpoint, delivery_id), ConsistentRead=True
            ).get("Item", {})
        except (ClientError, BotoCoreError) as exc:
            raise LedgerUnavailable(type(exc).__name__) from exc
        return frozenset(int(n) for n in item.get("sent", {}).get("NS", []))

    def record_sent(self, endpoint: str, delivery_id: str, indexes: frozenset[int]) -> None:
        """Remember what a failing attempt queued, for as long as dedupe records live."""
        if not indexes:
            return
        self._dynamodb.update_item(
            TableName=self._table,
            Key=self._progress_key(endpoint, delivery_id),
            UpdateExpression="ADD sent :sent SET expiration = :expiration",
            ExpressionAttributeValues={
                ":sent": {"NS": [str(i) for i in sorted(indexes)]},
                ":expiration": {"N": str(int(time.time()) + self._ttl)},
            },
        )

    def forget(self, endpoint: str, delivery_id: str) -> None:
        """Drop the progress record once the delivery is complete (if that fails, its TTL removes it)."""
        try:
            self._dynamodb.delete_item(TableName=self._table, Key=self._progress_key(endpoint, delivery_id))
        except (ClientError, BotoCoreError) as exc:
            logger.warning("cannot drop the progress record", extra={"error": type(exc).__name__})


def _run_work(*, delivery: dict[str, str], work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    # Powertools hashes ``delivery`` into the idempotency key; ``work`` is the actual enqueue.
    return work()
