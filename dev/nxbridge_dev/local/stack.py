"""The whole bridge in one process (``nxbridge run``): embedded AWS, NXCloud simulator, HTTP front, SQS poller.

The functions are the real ones (``nxbridge.handlers.ingest``, ``nxbridge.handlers.drain``), each in a fresh
execution environment, invoked with the events API Gateway and the SQS event source mapping would send; the stack
only plays AWS.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from nxbridge.aws.sqs import queue_counts
from nxbridge.endpoints import EndpointsDocument, parse_endpoints
from nxbridge_dev.local.aws import FAKE_CREDENTIALS, LocalAws, LocalResources, QueueSettings
from nxbridge_dev.local.console import CONSOLE_PREFIX, LocalConsole, local_console
from nxbridge_dev.local.front import Front
from nxbridge_dev.local.functions import LocalFunction
from nxbridge_dev.local.poller import SqsPoller
from nxbridge_dev.simulator import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_ACCESS_SECRET,
    DEFAULT_APP_KEY,
    DEFAULT_SEATS,
    DEFAULT_TENANT_ID,
    Simulator,
)

# The repository checkout this package lives in (layers/nxbridge/local/stack.py -> the root).
ROOT = Path(__file__).resolve().parents[3]
DEFAULT_REGION = "us-east-1"
# The functions' timeouts in template.yaml; the drain stops calling NXCloud when its deadline nears.
INGEST_TIMEOUT_SECONDS = 10
DRAIN_TIMEOUT_SECONDS = 60
SECRET_OVERRIDE_PREFIX = "WEBHOOK_SECRET_"  # noqa: S105 - a variable name prefix
# Variables the stack sets for the functions and takes back on stop; ENDPOINTS_FILE is removed so that the
# ingest reads the SSM parameter, as in AWS.
_MANAGED_ENV = (
    *FAKE_CREDENTIALS,
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "QUEUE_URL",
    "DLQ_URL",
    "ENDPOINTS_PARAMETER",
    "ENDPOINTS_FILE",
    "WEBHOOK_SECRETS_ARN",
    "IDEMPOTENCY_TABLE",
    "NXCLOUD_SECRET_ARN",
    "NXCLOUD_BASE_URL",
    "NXCLOUD_TYPE",
    "NXCLOUD_STRICT_BINDING",
)


class LocalSettings(BaseModel):
    """Configuration of the local stack: the environment variables of docs/local.md, each with a default."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535, alias="PORT")
    region: str = Field(default=DEFAULT_REGION, alias="AWS_REGION")
    batch_window: float = Field(default=1.0, ge=0, le=300, alias="BATCH_WINDOW_SECONDS")
    visibility_timeout: int = Field(default=10, ge=1, le=43200, alias="VISIBILITY_TIMEOUT_SECONDS")
    max_receive_count: int = Field(default=5, ge=1, le=1000, alias="MAX_RECEIVE_COUNT")
    endpoints_file: Path = Field(default=ROOT / "events" / "endpoints.json", alias="ENDPOINTS_FILE")
    webhook_secrets_file: Path = Field(default=ROOT / "events" / "webhook-secrets.json", alias="WEBHOOK_SECRETS_FILE")
    nxcloud_base_url: str | None = Field(default=None, alias="NXCLOUD_BASE_URL")
    nxcloud_access_key: str = Field(default=DEFAULT_ACCESS_KEY, alias="NXCLOUD_ACCESS_KEY")
    nxcloud_access_secret: SecretStr = Field(default=SecretStr(DEFAULT_ACCESS_SECRET), alias="NXCLOUD_ACCESS_SECRET")
    nxcloud_tenant_id: int = Field(default=DEFAULT_TENANT_ID, alias="NXCLOUD_TENANT_ID")
    nxcloud_app_key: str = Field(default=DEFAULT_APP_KEY, alias="NXCLOUD_APP_KEY")
    nxcloud_type: int = Field(default=1, ge=0, le=2, alias="NXCLOUD_TYPE")
    nxcloud_strict_binding: bool = Field(default=False, alias="NXCLOUD_STRICT_BINDING")
    seats: tuple[str, ...] = Field(default=DEFAULT_SEATS, alias="NXCLOUD_SEATS")
    # WEBHOOK_SECRET_<ENDPOINT>=value replaces that endpoint's signing secret.
    secret_overrides: dict[str, str] = Field(default_factory=dict)

    @field_validator("seats", mode="before")
    @classmethod
    def _split_seats(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(seat.strip() for seat in value.split(",") if seat.strip())
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> LocalSettings:
        """Settings from ``env`` (default os.environ; empty values count as unset), then ``overrides``."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {k: v for k, v in source.items() if v != ""}
        if "AWS_REGION" not in values and "AWS_DEFAULT_REGION" in values:
            values["AWS_REGION"] = values["AWS_DEFAULT_REGION"]
        values["secret_overrides"] = {
            k[len(SECRET_OVERRIDE_PREFIX) :]: v for k, v in values.items() if k.startswith(SECRET_OVERRIDE_PREFIX)
        }
        for name, value in overrides.items():
            if value is not None:
                values[cls.model_fields[name].alias or name] = value
        return cls.model_validate(values)


def env_key(endpoint: str) -> str:
    """The ``WEBHOOK_SECRET_<ENDPOINT>`` suffix for an endpoint name: upper case, other characters as ``_``."""
    return re.sub(r"[^A-Z0-9]", "_", endpoint.upper())


class LocalStack:
    """Starts and stops the parts in order; ``status()`` is what ``GET /_local/status`` answers."""

    def __init__(self, settings: LocalSettings, *, access_log: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.access_log = access_log
        self.simulator: Simulator | None = None
        self.aws = LocalAws(settings.region)
        self.resources: LocalResources | None = None
        self.endpoints: list[str] = []
        self.ingest: LocalFunction | None = None
        self.drain: LocalFunction | None = None
        self.poller: SqsPoller | None = None
        self.front: Front | None = None
        self.console: LocalConsole | None = None
        self._saved_env: dict[str, str | None] = {}
        self._started = False

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        """Bring everything up; on any failure, tear down what was started and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        settings = self.settings
        self._started = True
        endpoints_document = settings.endpoints_file.read_text(encoding="utf-8")
        endpoints = parse_endpoints(endpoints_document)
        self.endpoints = list(endpoints.endpoints)
        webhook_secrets = apply_secret_overrides(
            json.loads(settings.webhook_secrets_file.read_text(encoding="utf-8")),
            endpoints,
            settings.secret_overrides,
        )
        if settings.nxcloud_base_url is None:
            self.simulator = Simulator(
                access_key=settings.nxcloud_access_key,
                access_secret=settings.nxcloud_access_secret.get_secret_value(),
                tenant_id=settings.nxcloud_tenant_id,
                app_key=settings.nxcloud_app_key,
                seats=settings.seats,
                host=settings.host,
            ).start()
        self.aws.start()
        self.resources = self.aws.provision(
            endpoints_document=endpoints_document,
            webhook_secrets=webhook_secrets,
            nxcloud_secret={
                "accessKey": settings.nxcloud_access_key,
                "accessSecret": settings.nxcloud_access_secret.get_secret_value(),
                "tenantId": settings.nxcloud_tenant_id,
                "appKey": settings.nxcloud_app_key,
            },
            queues=QueueSettings(settings.visibility_timeout, settings.max_receive_count),
        )
        self._set_env(self._function_env(self.resources))
        self.ingest = LocalFunction.cold(
            "IngestFunction",
            "nxbridge.handlers.ingest",
            region=settings.region,
            timeout_seconds=INGEST_TIMEOUT_SECONDS,
        )
        self.drain = LocalFunction.cold(
            "DrainFunction",
            "nxbridge.handlers.drain",
            region=settings.region,
            timeout_seconds=DRAIN_TIMEOUT_SECONDS,
        )
        self.poller = SqsPoller(
            self.aws.sqs(),
            self.drain,
            queue_url=self.resources.queue_url,
            queue_arn=self.resources.queue_arn,
            dlq_url=self.resources.dlq_url,
            region=settings.region,
            batching_window=settings.batch_window,
        )
        self.poller.start()
        self.console = local_console(self, endpoints)
        self.front = Front(
            self.ingest,
            self.status,
            host=settings.host,
            port=settings.port,
            access_log=self.access_log,
            mounts={CONSOLE_PREFIX: self.console.mount},
        )
        self.front.start()

    def stop(self) -> None:
        """Stop the front, let the poller finish its batch, drop all AWS state, stop the simulator."""
        if not self._started:
            return
        self._started = False
        if self.front is not None:
            self.front.stop()
        if self.poller is not None:
            self.poller.stop()
        self.aws.stop()
        if self.simulator is not None:
            self.simulator.stop()
        self._restore_env()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- environment -----------------------------------------------------------------------------------

    def _function_env(self, resources: LocalResources) -> dict[str, str | None]:
        settings = self.settings
        base_url = settings.nxcloud_base_url or (self.simulator.base_url if self.simulator else None)
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": resources.endpoint_url,
            "AWS_REGION": resources.region,
            "AWS_DEFAULT_REGION": resources.region,
            "AWS_PROFILE": None,
            "QUEUE_URL": resources.queue_url,
            "DLQ_URL": resources.dlq_url,
            "ENDPOINTS_PARAMETER": resources.endpoints_parameter,
            "ENDPOINTS_FILE": None,
            "WEBHOOK_SECRETS_ARN": resources.webhook_secrets_arn,
            "IDEMPOTENCY_TABLE": resources.idempotency_table,
            "NXCLOUD_SECRET_ARN": resources.nxcloud_secret_arn,
            "NXCLOUD_BASE_URL": base_url,
            "NXCLOUD_TYPE": str(settings.nxcloud_type),
            "NXCLOUD_STRICT_BINDING": str(settings.nxcloud_strict_binding).lower(),
        }

    def _set_env(self, values: Mapping[str, str | None]) -> None:
        # The handlers read os.environ, as in Lambda; the previous values come back on stop. Service-specific
        # endpoints (AWS_ENDPOINT_URL_SQS, ...) would win over AWS_ENDPOINT_URL, so they are set aside too.
        service_endpoints = [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")]
        for key in (*_MANAGED_ENV, *service_endpoints):
            self._saved_env.setdefault(key, os.environ.get(key))
        for key in service_endpoints:
            os.environ.pop(key, None)
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    # --- observation -----------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The HTTP front, ``http://127.0.0.1:<port>``."""
        if self.front is None:
            raise RuntimeError("the stack is not started")
        return self.front.base_url

    @property
    def console_url(self) -> str:
        """The operator console, with this run's token."""
        if self.console is None:
            raise RuntimeError("the stack is not started")
        return self.console.url(self.base_url)

    def webhook_url(self, endpoint: str) -> str:
        """Where a provider posts for ``endpoint``."""
        return f"{self.base_url}/webhooks/{endpoint}"

    def require_resources(self) -> LocalResources:
        """The provisioned AWS resources; RuntimeError before start."""
        if self.resources is None or self.poller is None:
            raise RuntimeError("the stack is not started")
        return self.resources

    def status(self) -> dict[str, Any]:
        """Queue and DLQ depths, what the poller did, the simulator's counters, and whether all has settled."""
        resources = self.require_resources()
        assert self.poller is not None
        sqs = self.aws.sqs()
        queue = queue_counts(sqs, resources.queue_url)
        dlq = queue_counts(sqs, resources.dlq_url)
        poller = self.poller.stats()
        settled = queue.visible == 0 and queue.in_flight == 0 and queue.delayed == 0 and poller["in_hand"] == 0
        return {
            "settled": settled,
            "queue": {"url": resources.queue_url, "depth": queue.visible + queue.delayed, "in_flight": queue.in_flight},
            "dlq": {"url": resources.dlq_url, "depth": dlq.visible + dlq.delayed, "in_flight": dlq.in_flight},
            "batches_sent": poller["batches"],
            "customers": {
                "synced": poller["acknowledged"] - poller["dead_lettered"],
                "failed": poller["dead_lettered"],
                "retried": poller["failed"],
            },
            "poller": poller,
            "ingest_invocations": self.ingest.invocations if self.ingest else 0,
            "simulator": self.simulator.stats() if self.simulator else None,
        }

    def wait_settled(self, timeout: float = 30.0, interval: float = 0.1) -> dict[str, Any]:
        """Poll :meth:`status` until it says settled; raise TimeoutError with the last status at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.status()
            if current["settled"]:
                return current
            if time.monotonic() >= deadline:
                raise TimeoutError(f"not settled after {timeout} s: {json.dumps(current)}")
            time.sleep(interval)

    def banner(self) -> str:
        """What ``nxbridge run`` prints on start."""
        resources = self.require_resources()
        settings = self.settings
        width = max((len(name) for name in self.endpoints), default=0)
        lines = [
            "nxbridge local stack: the real ingest and drain functions on an embedded AWS.",
            "All state (queues, secrets, simulator customers) is in memory and is gone when this process exits.",
            "",
            "Webhook endpoints (POST):",
            *(f"  {name:<{width}}  {self.webhook_url(name)}" for name in self.endpoints),
            f"Status:        {self.base_url}/_local/status",
            f"Console:       {self.console_url}",
            "",
        ]
        if self.simulator is not None:
            lines.append(
                f"NXCloud:       simulator at {self.simulator.base_url} "
                f"(tenant {settings.nxcloud_tenant_id}, seats: {', '.join(sorted(self.simulator.seats)) or 'none'})"
            )
        else:
            lines.append(f"NXCloud:       {settings.nxcloud_base_url} (access key {settings.nxcloud_access_key})")
        lines += [
            f"Embedded AWS:  {resources.endpoint_url} (moto, region {resources.region}, any credentials)",
            f"  CustomersQueue  {resources.queue_url}",
            f"  CustomersDLQ    {resources.dlq_url}",
            "Inspect it from another shell:",
            f"  export AWS_ENDPOINT_URL={resources.endpoint_url} AWS_DEFAULT_REGION={resources.region} "
            "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
            f"  aws sqs get-queue-attributes --queue-url {resources.dlq_url} --attribute-names All",
            f"  nxbridge dlq list --queue-url {resources.queue_url} --dlq-url {resources.dlq_url}",
            f"  nxbridge import FILE --format shopify-csv --endpoint shopify --queue-url {resources.queue_url} "
            f"--endpoints-file {settings.endpoints_file}",
            "",
            f"Drain: batches of up to 100, batching window {settings.batch_window:g} s; a failed message is retried "
            f"after the {settings.visibility_timeout} s visibility timeout and moved to the DLQ after "
            f"{settings.max_receive_count} receives.",
            "Ctrl-C stops.",
        ]
        return "\n".join(lines)


def apply_secret_overrides(
    secrets: Mapping[str, Any], endpoints: EndpointsDocument, overrides: Mapping[str, str]
) -> dict[str, Any]:
    """The webhook secrets document with each ``WEBHOOK_SECRET_<ENDPOINT>`` value stored as that endpoint's secret."""
    merged = dict(secrets)
    for name in endpoints.endpoints:
        endpoint = endpoints.get(name)
        value = overrides.get(env_key(name))
        if endpoint is not None and endpoint.secret_name is not None and value is not None:
            merged[endpoint.secret_name] = value
    return merged


# --- ``nxbridge run`` ----------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``nxbridge run``."""
    parser = subparsers.add_parser(
        "run",
        help="run the whole bridge locally (embedded AWS + NXCloud simulator)",
        description="Serve the real ingest and drain functions locally on an embedded AWS (moto) and the NXCloud "
        "simulator. Configuration comes from the environment (PORT, NXCLOUD_*, WEBHOOK_SECRET_<ENDPOINT>, ...); "
        "the options below override it.",
    )
    parser.add_argument("--port", type=int, default=None, help="HTTP port of the webhook front (env PORT, 3000)")
    parser.add_argument(
        "--batch-window", type=float, default=None, help="seconds to gather a batch (env BATCH_WINDOW_SECONDS, 1)"
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=None,
        help="CustomersQueue visibility timeout in seconds (env VISIBILITY_TIMEOUT_SECONDS, 10)",
    )
    parser.add_argument("--endpoints-file", type=Path, default=None, help="endpoint configuration (env ENDPOINTS_FILE)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the stack, print where everything is, serve until SIGINT/SIGTERM, then stop cleanly."""
    settings = LocalSettings.from_env(
        port=args.port,
        batch_window=args.batch_window,
        visibility_timeout=args.visibility_timeout,
        endpoints_file=args.endpoints_file,
    )
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    stack = LocalStack(settings, access_log=lambda line: print(f"http {line}", flush=True))
    try:
        try:
            stack.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            print(f"Port {settings.port} is in use: stop what uses it or set PORT (e.g. PORT=3001 make run).")
            return 1
        try:
            print(stack.banner(), flush=True)
            while not stopping.wait(0.5):
                pass
            print("Stopping: the in-memory state is discarded.", flush=True)
        finally:
            stack.stop()
        print("Stopped.", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
