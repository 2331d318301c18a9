"""DrainFunction's settings."""

from pydantic import ConfigDict, Field, field_validator

from nxbridge import facts
from nxbridge.config.env import EnvSettings, NXCloudType, type_from_text


class DrainSettings(EnvSettings):
    """DrainFunction: NXCloud target, credentials secret, batch semantics and the DLQ."""

    model_config = ConfigDict(defer_build=False)

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

    _nxcloud_type = field_validator("nxcloud_type", mode="before")(type_from_text)
