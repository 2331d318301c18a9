"""Settings of what reads the CustomersDLQ: ``nxbridge dlq`` and the ReplayFunction."""

from pydantic import ConfigDict, Field

from nxbridge.config import MAX_REPLAYS, SCAN_VISIBILITY_TIMEOUT, SCAN_WAIT_SECONDS
from nxbridge.config.env import EnvSettings


class DlqSettings(EnvSettings):
    """Reading the CustomersDLQ (``nxbridge dlq`` stats, list, show, export, purge): the queue and how scans hold it."""

    dlq_url: str = Field(alias="DLQ_URL")
    visibility_timeout: int = Field(default=SCAN_VISIBILITY_TIMEOUT, ge=1, le=43200, alias="REPLAY_VISIBILITY_TIMEOUT")
    wait_seconds: int = Field(default=SCAN_WAIT_SECONDS, ge=0, le=20, alias="REPLAY_WAIT_SECONDS")


class ReplaySettings(DlqSettings):
    """ReplayFunction and ``nxbridge dlq replay``: the DLQ, the CustomersQueue replays go to, the replay guard."""

    model_config = ConfigDict(defer_build=False)

    queue_url: str = Field(alias="QUEUE_URL")
    max_replays: int = Field(default=MAX_REPLAYS, ge=0, alias="MAX_REPLAYS")
    # The drain's watermarks: replay refuses a record older than its customer's (unset: not checked, with a warning).
    ordering_table: str | None = Field(default=None, alias="ORDERING_TABLE")
