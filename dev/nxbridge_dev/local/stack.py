"""The whole bridge in one process (``nxbridge run``): template.yaml deployed into an embedded AWS, the NXCloud
simulator, an HTTP front for the HTTP API and a poller for the SQS event source mapping.

At start the template is transformed (SAM's translator) and created as stack ``nxbridge`` in moto's
CloudFormation, with the local values as parameter overrides; then the secrets and the endpoint configuration
are stored where the stack's outputs say, as an operator does after ``sam deploy``. Everything else is read back
from the stack: each function runs the real handler (``nxbridge.handlers.<code dir>``) with its deployed
environment, timeout and memory; the poller runs with the event source mapping's batching and concurrency; the
front serves the HTTP API's routes. The stack only plays AWS.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import json
import math
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
from nxbridge_dev.local import http_headers
from nxbridge_dev.local.aws import FAKE_CREDENTIALS, LocalAws
from nxbridge_dev.local.console import CONSOLE_PREFIX, LocalConsole, local_console
from nxbridge_dev.local.deploy import DeployedFunction, DeployError, Deployment, deploy
from nxbridge_dev.local.front import Front, Route
from nxbridge_dev.local.functions import LocalFunction
from nxbridge_dev.local.poller import SqsPoller
from nxbridge_dev.local.template import PackagedTemplate, TemplateError, default_cache_dir, load_template
from nxbridge_dev.simulator import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_ACCESS_SECRET,
    DEFAULT_APP_KEY,
    DEFAULT_SEATS,
    DEFAULT_TENANT_ID,
    Simulator,
)

# The repository checkout this package lives in (dev/nxbridge_dev/local/stack.py -> the root).
ROOT = Path(__file__).resolve().parents[3]
DEFAULT_REGION = "us-east-1"
HANDLERS_PACKAGE = "nxbridge.handlers"
SECRET_OVERRIDE_PREFIX = "WEBHOOK_SECRET_"  # noqa: S105 - a variable name prefix
# Where an operator puts the secrets and the endpoint configuration after deploying (docs/deploy.md).
WEBHOOK_SECRETS_OUTPUT = "WebhookSecretsArn"
NXCLOUD_SECRET_OUTPUT = "NXCloudSecretArn"  # noqa: S105 - an output key
ENDPOINTS_OUTPUT = "EndpointsParameterName"
# Without ScalingConfig Lambda starts with five concurrent batches.
DEFAULT_POLLERS = 5
# Execution environments of the functions behind the HTTP API: Lambda scales them out with the requests; a few are
# what two cores can keep busy (docs/local.md).
DEFAULT_INGEST_CONCURRENCY = 4
# Process-wide: the boto3 clients the handlers create read them (their settings come from each function's own
# environment). Set on start, put back on stop; a service-specific AWS_ENDPOINT_URL_* would win, so it is set aside.
_PROCESS_ENV = (*FAKE_CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")


class LocalSettings(BaseModel):
    """Configuration of the local stack: the environment variables of docs/local.md, each with a default.

    None means the template's default: batching and concurrency stay as a deployed stack has them.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535, alias="PORT")
    region: str = Field(default=DEFAULT_REGION, alias="AWS_REGION")
    template_file: Path = Field(default=ROOT / "template.yaml", alias="TEMPLATE_FILE")
    cache_dir: Path | None = Field(default_factory=default_cache_dir, alias="TEMPLATE_CACHE_DIR")
    # `sam deploy --parameter-overrides` syntax: "Key=Value Key2=Value2"; the settings below win over it.
    parameter_overrides: dict[str, str] = Field(default_factory=dict, alias="PARAMETER_OVERRIDES")
    batch_window: float | None = Field(default=None, alias="BATCH_WINDOW_SECONDS")
    max_concurrency: int | None = Field(default=None, alias="MAX_CONCURRENCY")
    ingest_concurrency: int = Field(default=DEFAULT_INGEST_CONCURRENCY, ge=1, alias="INGEST_CONCURRENCY")
    # None: twice the batching window, at least 10 s (local_visibility_timeout).
    visibility_timeout: int | None = Field(default=None, alias="VISIBILITY_TIMEOUT_SECONDS")
    max_receive_count: int = Field(default=5, alias="MAX_RECEIVE_COUNT")
    endpoints_file: Path = Field(default=ROOT / "events" / "endpoints.json", alias="ENDPOINTS_FILE")
    webhook_secrets_file: Path = Field(default=ROOT / "events" / "webhook-secrets.json", alias="WEBHOOK_SECRETS_FILE")
    nxcloud_base_url: str | None = Field(default=None, alias="NXCLOUD_BASE_URL")
    nxcloud_access_key: str = Field(default=DEFAULT_ACCESS_KEY, alias="NXCLOUD_ACCESS_KEY")
    nxcloud_access_secret: SecretStr = Field(default=SecretStr(DEFAULT_ACCESS_SECRET), alias="NXCLOUD_ACCESS_SECRET")
    nxcloud_tenant_id: int = Field(default=DEFAULT_TENANT_ID, alias="NXCLOUD_TENANT_ID")
    nxcloud_app_key: str = Field(default=DEFAULT_APP_KEY, alias="NXCLOUD_APP_KEY")
    nxcloud_type: int | None = Field(default=None, alias="NXCLOUD_TYPE")
    nxcloud_strict_binding: bool | None = Field(default=None, alias="NXCLOUD_STRICT_BINDING")
    seats: tuple[str, ...] = Field(default=DEFAULT_SEATS, alias="NXCLOUD_SEATS")
    # WEBHOOK_SECRET_<ENDPOINT>=value replaces that endpoint's signing secret.
    secret_overrides: dict[str, str] = Field(default_factory=dict)

    @field_validator("seats", mode="before")
    @classmethod
    def _split_seats(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(seat.strip() for seat in value.split(",") if seat.strip())
        return value

    @field_validator("parameter_overrides", mode="before")
    @classmethod
    def _split_overrides(cls, value: Any) -> Any:
        return parse_parameter_overrides(value) if isinstance(value, str) else value

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

    def stack_parameters(self, nxcloud_base_url: str, template_window: float | None = None) -> dict[str, str]:
        """The parameter overrides the stack is created with (what ``sam deploy --parameter-overrides`` passes);
        ``template_window`` is the template's default ``BatchingWindowSeconds``."""
        window = self.batch_window
        if window is None and "BatchingWindowSeconds" in self.parameter_overrides:
            window = float(self.parameter_overrides["BatchingWindowSeconds"])
        chosen: dict[str, Any] = {
            "NXCloudBaseUrl": nxcloud_base_url,
            "VisibilityTimeoutSeconds": self.visibility_timeout
            if self.visibility_timeout is not None
            else local_visibility_timeout(window if window is not None else template_window),
            "MaxReceiveCount": self.max_receive_count,
            "BatchingWindowSeconds": self.batch_window,
            "MaxConcurrency": self.max_concurrency,
            "NXCloudType": self.nxcloud_type,
            "NXCloudStrictBinding": self.nxcloud_strict_binding,
        }
        given = {key: _parameter_text(value) for key, value in chosen.items() if value is not None}
        return {**self.parameter_overrides, **given}


def local_visibility_timeout(window: float | None) -> int:
    """Twice the batching window, at least 10 s: short, so that retries show within seconds, yet longer than a
    batch is held (the window plus the drain), as AWS requires of an event source's queue (template.yaml's 420 s
    default is 6 x the drain timeout + the largest window)."""
    return max(10, 2 * math.ceil(window or 0))


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """``Key=Value Key2=Value2`` (``sam deploy --parameter-overrides``) as a dict; ValueError on another shape."""
    parsed: dict[str, str] = {}
    for item in text.split():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter override {item!r} is not Key=Value")
        parsed[key] = value
    return parsed


def _parameter_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def env_key(endpoint: str) -> str:
    """The ``WEBHOOK_SECRET_<ENDPOINT>`` suffix for an endpoint name: upper case, other characters as ``_``."""
    return re.sub(r"[^A-Z0-9]", "_", endpoint.upper())


def function_environment(
    deployed: Mapping[str, str], literal: frozenset[str], shell: Mapping[str, str]
) -> dict[str, str]:
    """The deployed function's environment, where a variable the template sets to a plain value (no Ref) takes
    the shell's value when the shell has one, as ``sam local`` does; what names the stack's resources or comes from
    a parameter is always the stack's."""
    overridden = {name: shell[name] for name in literal & set(deployed) if shell.get(name)}
    return {**deployed, **overridden}


class LocalStack:
    """Starts and stops the parts in order; ``status()`` is what ``GET /_local/status`` answers."""

    def __init__(self, settings: LocalSettings, *, access_log: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.access_log = access_log
        self.simulator: Simulator | None = None
        self.aws = LocalAws(settings.region, own_process=True)
        self.deployment: Deployment | None = None
        self.endpoints: list[str] = []
        self.functions: dict[str, LocalFunction] = {}
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
        template = load_template(settings.template_file, region=settings.region, cache_dir=settings.cache_dir)
        if settings.nxcloud_base_url is None:
            self.simulator = Simulator(
                access_key=settings.nxcloud_access_key,
                access_secret=settings.nxcloud_access_secret.get_secret_value(),
                tenant_id=settings.nxcloud_tenant_id,
                app_key=settings.nxcloud_app_key,
                seats=settings.seats,
                host=settings.host,
            ).start()
        base_url = settings.nxcloud_base_url or (self.simulator.base_url if self.simulator else "")
        self.aws.start()
        self.deployment = deployment = deploy(
            self.aws, template, settings.stack_parameters(base_url, _default_window(template))
        )
        self._configure(deployment, endpoints_document, webhook_secrets)
        self._set_env(self._process_env())
        source = deployment.event_source
        pollers = source.maximum_concurrency or DEFAULT_POLLERS
        self.drain = self._function(template, deployment.function(source.function_arn), concurrency=pollers)
        routes = [
            Route(
                r.method,
                r.path,
                self._function(template, deployment.function(r.function_arn), concurrency=settings.ingest_concurrency),
            )
            for r in deployment.routes
        ]
        if not routes:
            raise DeployError(f"stack {deployment.stack_name} has no HTTP API route to serve")
        self.ingest = routes[0].function
        self.poller = SqsPoller(
            self.aws.sqs(),
            self.drain,
            queue_url=deployment.queue_url,
            queue_arn=deployment.queue_arn,
            dlq_url=deployment.dlq_url,
            region=deployment.region,
            batch_size=source.batch_size,
            batching_window=source.batching_window_seconds,
            max_concurrency=pollers,
            report_batch_item_failures=source.report_batch_item_failures,
        )
        self.poller.start()
        self.console = local_console(self, endpoints)
        self.front = Front(
            routes,
            self.status,
            api_id=deployment.routes[0].api_id,
            host=settings.host,
            port=settings.port,
            access_log=self.access_log,
            mounts={CONSOLE_PREFIX: self.console.mount},
        )
        self.front.start()

    def stop(self) -> None:
        """Stop the front, let the pollers finish their batches, drop all AWS state, stop the simulator."""
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

    # --- the deployed stack ----------------------------------------------------------------------------

    def _configure(self, deployment: Deployment, endpoints_document: str, webhook_secrets: Mapping[str, Any]) -> None:
        """Store the signing secrets, the NXCloud credentials and the endpoints where the stack's outputs say."""
        settings = self.settings
        missing = [
            key
            for key in (WEBHOOK_SECRETS_OUTPUT, NXCLOUD_SECRET_OUTPUT, ENDPOINTS_OUTPUT)
            if key not in deployment.outputs
        ]
        if missing:
            raise DeployError(f"stack {deployment.stack_name} has no output {', '.join(missing)}: nowhere to store it")
        credentials = {
            "accessKey": settings.nxcloud_access_key,
            "accessSecret": settings.nxcloud_access_secret.get_secret_value(),
            "tenantId": settings.nxcloud_tenant_id,
            "appKey": settings.nxcloud_app_key,
        }
        secrets = self.aws.client("secretsmanager")
        secrets.put_secret_value(
            SecretId=deployment.outputs[WEBHOOK_SECRETS_OUTPUT], SecretString=json.dumps(webhook_secrets)
        )
        secrets.put_secret_value(
            SecretId=deployment.outputs[NXCLOUD_SECRET_OUTPUT], SecretString=json.dumps(credentials)
        )
        self.aws.client("ssm").put_parameter(
            Name=deployment.outputs[ENDPOINTS_OUTPUT], Value=endpoints_document, Type="String", Overwrite=True
        )

    def _function(
        self, template: PackagedTemplate, deployed: DeployedFunction, *, concurrency: int = 1
    ) -> LocalFunction:
        """The local function for a deployed one (one per function, whichever event source asks first)."""
        if deployed.logical_id in self.functions:
            return self.functions[deployed.logical_id]
        code_dir = template.code_dirs.get(deployed.logical_id, "")
        module = f"{HANDLERS_PACKAGE}.{code_dir}"
        if not code_dir or importlib.util.find_spec(module) is None:
            raise DeployError(f"{deployed.logical_id}: no module {module} to run its code (CodeUri functions/<name>/)")
        function = LocalFunction.cold(
            deployed.name,
            module,
            env=function_environment(deployed.environment, template.literal_variables(deployed.logical_id), os.environ),
            region=self.aws.region,
            timeout_seconds=deployed.timeout_seconds,
            memory_mb=deployed.memory_mb,
            arn=deployed.arn,
            concurrency=concurrency,
        )
        self.functions[deployed.logical_id] = function
        return function

    # --- environment -----------------------------------------------------------------------------------

    def _process_env(self) -> dict[str, str | None]:
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws.endpoint_url,
            "AWS_REGION": self.aws.region,
            "AWS_DEFAULT_REGION": self.aws.region,
            "AWS_PROFILE": None,
        }

    def _set_env(self, values: Mapping[str, str | None]) -> None:
        service_endpoints = [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")]
        for key in (*_PROCESS_ENV, *service_endpoints):
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

    def require_resources(self) -> Deployment:
        """The deployed stack as read back; RuntimeError before start."""
        if self.deployment is None or self.poller is None:
            raise RuntimeError("the stack is not started")
        return self.deployment

    def status(self) -> dict[str, Any]:
        """Queue and DLQ depths, what the poller did, the simulator's counters, and whether all has settled."""
        deployment = self.require_resources()
        assert self.poller is not None
        sqs = self.aws.sqs()
        queue = queue_counts(sqs, deployment.queue_url)
        dlq = queue_counts(sqs, deployment.dlq_url)
        poller = self.poller.stats()
        settled = queue.visible == 0 and queue.in_flight == 0 and queue.delayed == 0 and poller["in_hand"] == 0
        return {
            "settled": settled,
            "queue": {
                "url": deployment.queue_url,
                "depth": queue.visible + queue.delayed,
                "in_flight": queue.in_flight,
            },
            "dlq": {"url": deployment.dlq_url, "depth": dlq.visible + dlq.delayed, "in_flight": dlq.in_flight},
            "batches_sent": poller["batches"],
            "customers": {
                "synced": poller["acknowledged"] - poller["dead_lettered"] - poller["superseded"],
                "failed": poller["dead_lettered"],
                "superseded": poller["superseded"],
                "retried": poller["failed"],
            },
            "poller": poller,
            "ingest_invocations": self.ingest.invocations if self.ingest else 0,
            "simulator": self.simulator.stats() if self.simulator else None,
        }

    def wait_settled(self, timeout: float = 30.0, interval: float = 0.25) -> dict[str, Any]:
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
        deployment = self.require_resources()
        assert self.poller is not None
        settings = self.settings
        width = max((len(name) for name in self.endpoints), default=0)
        lines = [
            "nxbridge local stack: template.yaml deployed into an embedded AWS, the real functions running it.",
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
            f"Embedded AWS:  {deployment.endpoint_url} (moto, region {deployment.region}, any credentials)",
            f"  stack {deployment.stack_name}: CREATE_COMPLETE, {len(deployment.resources)} resources",
            f"  CustomersQueue  {deployment.queue_url}",
            f"  CustomersDLQ    {deployment.dlq_url}",
            "Inspect it from another shell:",
            f"  export AWS_ENDPOINT_URL={deployment.endpoint_url} AWS_DEFAULT_REGION={deployment.region} "
            "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
            f"  aws cloudformation describe-stacks --stack-name {deployment.stack_name}",
            f"  nxbridge dlq stats --stack {deployment.stack_name}",
            f"  nxbridge import FILE --format shopify-csv --endpoint shopify --stack {deployment.stack_name}",
            "",
            f"Drain: batches of up to {self.poller.batch_size}, batching window {self.poller.batching_window:g} s, "
            f"up to {self.poller.max_concurrency} at once; a failed message is retried after the "
            f"{deployment.visibility_timeout} s visibility timeout and moved to the DLQ after "
            f"{deployment.max_receive_count} receives.",
            f"Ingest: up to {settings.ingest_concurrency} execution environments at once.",
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
        description="Deploy template.yaml into an embedded AWS (moto) and serve the real functions on it with the "
        "NXCloud simulator. Configuration comes from the environment (PORT, NXCLOUD_*, WEBHOOK_SECRET_<ENDPOINT>, "
        "...); the options below override it.",
    )
    parser.add_argument("--port", type=int, default=None, help="HTTP port of the webhook front (env PORT, 3000)")
    parser.add_argument(
        "--batch-window",
        type=float,
        default=None,
        help="BatchingWindowSeconds: seconds to gather a batch (env BATCH_WINDOW_SECONDS; the template's default)",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=None,
        help="VisibilityTimeoutSeconds of CustomersQueue (env VISIBILITY_TIMEOUT_SECONDS; twice the window, >= 10)",
    )
    parser.add_argument(
        "--ingest-concurrency",
        type=int,
        default=None,
        help="execution environments of the ingest, as Lambda scales out (env INGEST_CONCURRENCY, "
        f"{DEFAULT_INGEST_CONCURRENCY})",
    )
    parser.add_argument("--endpoints-file", type=Path, default=None, help="endpoint configuration (env ENDPOINTS_FILE)")
    parser.add_argument(
        "--parameter-overrides",
        default=None,
        metavar="'KEY=VALUE ...'",
        help="more template parameters, as for sam deploy (env PARAMETER_OVERRIDES)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the stack, print where everything is, serve until SIGINT/SIGTERM, then stop cleanly."""
    try:
        settings = LocalSettings.from_env(
            port=args.port,
            batch_window=args.batch_window,
            visibility_timeout=args.visibility_timeout,
            ingest_concurrency=args.ingest_concurrency,
            endpoints_file=args.endpoints_file,
            parameter_overrides=args.parameter_overrides,
        )
    except ValueError as exc:
        print(f"nxbridge run: {exc}")
        return 2
    stopping = threading.Event()
    # This process is the stack's alone (``nxbridge run``): the front's requests and moto's answers to the
    # functions' clients are read by the plain-header parser, which makes the email parser's messages.
    http_headers.install()

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
        except (TemplateError, DeployError) as exc:
            print(f"nxbridge run: the local stack did not start: {exc}", flush=True)
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


def _default_window(template: PackagedTemplate) -> float | None:
    """The template's default ``BatchingWindowSeconds``, if it declares one."""
    default = template.declared_parameters().get("BatchingWindowSeconds", {}).get("Default")
    return float(default) if default is not None else None
