"""What the console shows and acts on: the queues, the pipeline's figures, the endpoints, locally the simulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from nxbridge.endpoints import EndpointsDocument
from nxbridge.replay import DlqScanner

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class Figures(BaseModel):
    """The pipeline's counters over ``window``; None where the source does not measure a figure."""

    window: str
    webhooks_received: int | None = None
    customers_queued: int | None = None
    customers_synced: int | None = None
    customers_failed: int | None = None
    customers_superseded: int | None = None
    queue_oldest_age_seconds: float | None = None
    dlq_oldest_age_seconds: float | None = None


@dataclass(frozen=True)
class EndpointInfo:
    """One configured webhook endpoint: its name, kind, and when it last received a request (if known)."""

    name: str
    kind: str
    last_webhook: dt.datetime | None = None


def endpoint_infos(
    document: EndpointsDocument, last_webhook: dict[str, dt.datetime] | None = None
) -> list[EndpointInfo]:
    """The endpoints of a configuration document, by name, with the last request times that are known."""
    seen = last_webhook or {}
    return [EndpointInfo(name, config.kind, seen.get(name)) for name, config in sorted(document.endpoints.items())]


def no_endpoints() -> list[EndpointInfo]:
    """No endpoint configuration known (explicit queue URLs, no stack)."""
    return []


@dataclass(frozen=True)
class ConsoleContext:
    """Everything the console needs, injected: the SQS client and queue URLs, and providers for the rest."""

    title: str
    sqs: SQSClient
    dlq_url: str
    queue_url: str | None
    figures: Callable[[], Figures]
    endpoints: Callable[[], list[EndpointInfo]] = no_endpoints
    # Locally, what the NXCloud simulator stored (customers as NXCloud received them); None against AWS.
    stored_customers: Callable[[], list[dict[str, Any]]] | None = None
    dashboard_url: str | None = None
    visibility_timeout: int = 120
    wait_seconds: int = 1
    max_replays: int = 3
    archive_dir: Path = field(default_factory=Path.cwd)

    def scanner(self) -> DlqScanner:
        """A fresh scan of the DLQ, configured like ``nxbridge dlq``'s."""
        return DlqScanner(
            self.sqs, self.dlq_url, visibility_timeout=self.visibility_timeout, wait_seconds=self.wait_seconds
        )
