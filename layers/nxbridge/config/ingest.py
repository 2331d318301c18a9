"""IngestFunction's settings."""

from pydantic import ConfigDict, Field, field_validator

from nxbridge import facts
from nxbridge.config.env import EnvSettings, NXCloudType, type_from_text


class IngestSettings(EnvSettings):
    """IngestFunction: where endpoints, secrets, the queue and the idempotency table are."""

    model_config = ConfigDict(defer_build=False)

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

    _nxcloud_type = field_validator("nxcloud_type", mode="before")(type_from_text)
