"""Typed settings, read once from the environment (the template sets them; the local stack too)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nxbridge import facts

NXCloudType = Literal[0, 1, 2]


def _type_from_text(value: object) -> object:
    # Environment variables are strings and a Literal of ints does not coerce "1".
    return int(value) if isinstance(value, str) and value.strip() in ("0", "1", "2") else value


class _EnvModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None):  # type: ignore[no-untyped-def]
        """Build the settings from ``env`` (default: os.environ); empty variables count as unset."""
        source = os.environ if env is None else env
        return cls.model_validate({k: v for k, v in source.items() if v != ""})


class IngestSettings(_EnvModel):
    """IngestFunction: where endpoints, secrets, the queue and the idempotency table are."""

    queue_url: str = Field(alias="QUEUE_URL")
    endpoints_parameter: str | None = Field(default=None, alias="ENDPOINTS_PARAMETER")
    endpoints_file: str | None = Field(default=None, alias="ENDPOINTS_FILE")
    webhook_secrets_arn: str | None = Field(default=None, alias="WEBHOOK_SECRETS_ARN")
    # Local development only: the same JSON document as the secret, read from a file (e.g. events/webhook-secrets.json).
    webhook_secrets_file: str | None = Field(default=None, alias="WEBHOOK_SECRETS_FILE")
    idempotency_table: str | None = Field(default=None, alias="IDEMPOTENCY_TABLE")
    # Idempotency records outlive the longest provider retry window (nxbridge.facts.PROVIDER_RETRIES).
    idempotency_ttl_seconds: int = Field(default=facts.IDEMPOTENCY_TTL_SECONDS, alias="IDEMPOTENCY_TTL_SECONDS")
    max_body_bytes: int = Field(default=1_048_576, alias="MAX_BODY_BYTES")
    cache_seconds: int = Field(default=300, alias="PARAMETERS_CACHE_SECONDS")
    # The drain's batch_create type, read here only to refuse, at configuration load, an endpoint that receives
    # update events when type 2 ("keep old data") would make NXCloud drop every update.
    nxcloud_type: NXCloudType = Field(default=1, alias="NXCLOUD_TYPE")
    # Privacy requests (Shopify customers/redact, shop/redact): the watermark items to delete, and the
    # ReplayFunction that purges the DLQ asynchronously (a DLQ scan outlasts Shopify's 5 s).
    ordering_table: str | None = Field(default=None, alias="ORDERING_TABLE")
    replay_function: str | None = Field(default=None, alias="REPLAY_FUNCTION")

    _nxcloud_type = field_validator("nxcloud_type", mode="before")(_type_from_text)


class DrainSettings(_EnvModel):
    """DrainFunction: NXCloud target, credentials secret, batch semantics and the DLQ."""

    nxcloud_base_url: str = Field(default=facts.NXCLOUD_DEFAULT_BASE_URL, alias="NXCLOUD_BASE_URL")
    nxcloud_secret_arn: str = Field(alias="NXCLOUD_SECRET_ARN")
    nxcloud_type: NXCloudType = Field(default=1, alias="NXCLOUD_TYPE")
    strict_binding: bool = Field(default=False, alias="NXCLOUD_STRICT_BINDING")
    tenant_id: int | None = Field(default=None, alias="NXCLOUD_TENANT_ID")
    app_key: str | None = Field(default=None, alias="NXCLOUD_APP_KEY")
    dlq_url: str = Field(alias="DLQ_URL")
    max_attempts: int = Field(default=facts.NXCLOUD_MAX_ATTEMPTS, ge=1, le=10, alias="NXCLOUD_MAX_ATTEMPTS")
    connect_timeout: float = Field(default=facts.NXCLOUD_CONNECT_TIMEOUT_SECONDS, alias="NXCLOUD_CONNECT_TIMEOUT")
    read_timeout: float = Field(default=facts.NXCLOUD_READ_TIMEOUT_SECONDS, alias="NXCLOUD_READ_TIMEOUT")
    cache_seconds: int = Field(default=300, alias="PARAMETERS_CACHE_SECONDS")
    # The per-customer watermarks (nxbridge.ordering); unset, the drain only coalesces each batch.
    ordering_table: str | None = Field(default=None, alias="ORDERING_TABLE")

    _nxcloud_type = field_validator("nxcloud_type", mode="before")(_type_from_text)


# The replay guard, stated in nxbridge.facts: the ReplayFunction, the CLI's defaults and the replay logic read it.
MAX_REPLAYS = facts.MAX_REPLAYS
# How long a scan hides the DLQ messages it reads, and how long an empty receive waits (long polling queries
# every SQS server, so an empty answer means the queue has no visible message left).
SCAN_VISIBILITY_TIMEOUT = 120
SCAN_WAIT_SECONDS = 1


class DlqSettings(_EnvModel):
    """Reading the CustomersDLQ (``nxbridge dlq`` stats, list, show, export, purge): the queue and how scans hold it."""

    dlq_url: str = Field(alias="DLQ_URL")
    visibility_timeout: int = Field(default=SCAN_VISIBILITY_TIMEOUT, ge=1, le=43200, alias="REPLAY_VISIBILITY_TIMEOUT")
    wait_seconds: int = Field(default=SCAN_WAIT_SECONDS, ge=0, le=20, alias="REPLAY_WAIT_SECONDS")


class ReplaySettings(DlqSettings):
    """ReplayFunction and ``nxbridge dlq replay``: the DLQ, the CustomersQueue replays go to, the replay guard."""

    queue_url: str = Field(alias="QUEUE_URL")
    max_replays: int = Field(default=MAX_REPLAYS, ge=0, alias="MAX_REPLAYS")
    # The drain's watermarks: replay refuses a record older than its customer's (unset: not checked, with a warning).
    ordering_table: str | None = Field(default=None, alias="ORDERING_TABLE")
