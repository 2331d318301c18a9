"""``nxbridge console``: the operator console for a deployed stack, served on 127.0.0.1 with a per-run token.

It takes the queues and AWS options of ``nxbridge dlq`` (``--stack``, ``--queue-url``/``--dlq-url``, ``--region``,
``--profile``, ``--endpoint-url``) and reads the rest from the stack's outputs: the endpoint configuration's SSM
parameter and the CloudWatch dashboard's URL.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from nxbridge.aws.clients import OPERATOR
from nxbridge.aws.clients import client as aws_client
from nxbridge.config import MAX_REPLAYS, ReplaySettings
from nxbridge.console.audit import AuditLog
from nxbridge.console.cloudwatch import cloudwatch_figures
from nxbridge.console.context import ConsoleContext, EndpointInfo, endpoint_infos, no_endpoints
from nxbridge.console.security import TOKEN_PARAM, Guard
from nxbridge.endpoints import ConfigError, parse_endpoints
from nxbridge.observability import NAMESPACE, SERVICE, logger
from nxbridge.replay import ReplayError
from nxbridge.replay.cli import Clients, common_options, load_settings

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_ssm import SSMClient
    from werkzeug.serving import BaseWSGIServer

HOST = "127.0.0.1"  # never configurable: the token is the only lock, and it must not be reachable from outside
DEFAULT_PORT = 8470
# template.yaml's outputs the console reads besides the queues (tests/unit/test_dashboard.py checks both exist).
DASHBOARD_OUTPUT_KEY = "DashboardUrl"
ENDPOINTS_OUTPUT_KEY = "EndpointsParameterName"
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``nxbridge console``."""
    parser = subparsers.add_parser(
        "console",
        parents=[common_options()],
        help="the operator console in the browser: pipeline, dead letters, replay",
        description="Serve the operator console on 127.0.0.1 for a deployed stack (or explicit queues): the "
        "pipeline with live counts, the dead letters with their reasons, replay with a dry-run preview, purge. "
        "Open the URL it prints: its token is needed for every page.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on {HOST} (0: any free one)")
    parser.add_argument(
        "--service",
        help="the metrics' service dimension (default: the stack name, which the template makes the service name)",
    )
    parser.add_argument(
        "--max-replays",
        type=int,
        default=None,
        help=f"refuse records already replayed this many times (default: MAX_REPLAYS or {MAX_REPLAYS})",
    )
    parser.add_argument("--audit-log", type=Path, help="append the audit lines to this file (default: stderr)")
    parser.add_argument("--archive-dir", type=Path, default=None, help="where purges archive (default: here)")
    # The console replays, so it reads the settings a replay needs (the CustomersQueue too).
    parser.set_defaults(func=run, dlq_settings=ReplaySettings)


def _session(args: argparse.Namespace) -> boto3.Session:
    # As `nxbridge dlq`: botocore reads AWS_DEFAULT_REGION but not AWS_REGION, which the AWS CLI also honours.
    return boto3.Session(profile_name=args.profile, region_name=args.region or os.environ.get("AWS_REGION") or None)


def stack_outputs(cloudformation: CloudFormationClient, stack: str) -> dict[str, str]:
    """A stack's outputs by key."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {
        o["OutputKey"]: o["OutputValue"]
        for s in described
        for o in s.get("Outputs", [])
        if "OutputKey" in o and "OutputValue" in o
    }


def _endpoints_from(ssm: SSMClient, parameter: str) -> Callable[[], list[EndpointInfo]]:
    def read() -> list[EndpointInfo]:
        try:
            value = ssm.get_parameter(Name=parameter)["Parameter"].get("Value", "")
            return endpoint_infos(parse_endpoints(value))
        except (ClientError, BotoCoreError, ConfigError) as exc:
            logger.warning("endpoint configuration unreadable", extra={"parameter": parameter, "error": str(exc)})
            return []

    return read


def build_context(args: argparse.Namespace, session: boto3.Session) -> ConsoleContext:
    """The console's context for the stack or queues ``args`` name, with clients from ``session``."""

    def client(service: str) -> Any:
        return aws_client(service, OPERATOR, session, endpoint_url=args.endpoint_url)  # type: ignore[call-overload]

    cloudformation: CloudFormationClient = client("cloudformation")
    clients = Clients(sqs=client("sqs"), cloudformation=cloudformation)
    settings = load_settings(args, clients)
    assert isinstance(settings, ReplaySettings)
    outputs: dict[str, str] = {}
    if args.stack:
        try:
            outputs = stack_outputs(cloudformation, args.stack)
        except ClientError as exc:
            raise ReplayError(f"cannot read stack {args.stack!r}: {exc}") from None
    cloudwatch = client("cloudwatch")
    service = args.service or args.stack or SERVICE
    parameter = outputs.get(ENDPOINTS_OUTPUT_KEY)
    endpoints = _endpoints_from(client("ssm"), parameter) if parameter else no_endpoints
    return ConsoleContext(
        title=f"stack {args.stack}" if args.stack else settings.dlq_url,
        sqs=clients.sqs,
        dlq_url=settings.dlq_url,
        queue_url=settings.queue_url,
        figures=lambda: cloudwatch_figures(
            cloudwatch, namespace=NAMESPACE, service=service, queue_url=settings.queue_url, dlq_url=settings.dlq_url
        ),
        endpoints=endpoints,
        dashboard_url=outputs.get(DASHBOARD_OUTPUT_KEY),
        visibility_timeout=settings.visibility_timeout,
        wait_seconds=settings.wait_seconds,
        max_replays=settings.max_replays,
        archive_dir=args.archive_dir or Path.cwd(),
    )


def make_server(app: Any, port: int) -> BaseWSGIServer:
    """A threaded WSGI server for ``app`` on 127.0.0.1 only."""
    from werkzeug.serving import make_server as werkzeug_server  # noqa: PLC0415 - with the app, see run()

    return werkzeug_server(HOST, port, app, threaded=True)


def console_url(server: BaseWSGIServer, guard: Guard) -> str:
    """The URL to open: the server's address with the run's token."""
    return f"http://{HOST}:{server.server_port}/?{TOKEN_PARAM}={guard.token}"


def _say(stream: IO[str], text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


@contextlib.contextmanager
def _audit_sink(path: Path | None) -> Iterator[Callable[[str], None]]:
    stream: IO[str]
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(path.open("a", encoding="utf-8")) if path else sys.stderr

        yield lambda line: _say(stream, line)


def run(args: argparse.Namespace) -> int:
    """Build the console, print its URL, serve until Ctrl-C."""
    try:
        context = build_context(args, _session(args))
    except (ReplayError, ValueError) as exc:
        _say(sys.stderr, f"nxbridge console: {exc}")
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as exc:
        _say(sys.stderr, f"nxbridge console: AWS error: {exc}")
        return EXIT_USAGE
    # Imported here, not at the top: `nxbridge dlq` loads this module to register the command, and Flask
    # would add ~0.2 s to every one of its runs.
    from nxbridge.console.app import create_app  # noqa: PLC0415

    # The request log would print every URL, filters included; the audit log says what was done.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logger.setLevel("WARNING")
    guard = Guard.new()
    with _audit_sink(args.audit_log) as sink:
        app = create_app(context, guard=guard, audit=AuditLog(sink))
        try:
            server = make_server(app, args.port)
        except OSError as exc:
            _say(sys.stderr, f"nxbridge console: cannot listen on {HOST}:{args.port}: {exc}; try --port")
            return EXIT_USAGE
        _say(sys.stdout, f"nxbridge console for {context.title}\nOpen {console_url(server, guard)}\nCtrl-C stops.")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
        server.server_close()
    return 0
