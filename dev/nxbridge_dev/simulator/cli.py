"""The ``nxbridge simulator`` subcommand and ``python -m nxbridge_dev.simulator``: serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import json
import signal
import threading

from nxbridge_dev.simulator.rules import PATH
from nxbridge_dev.simulator.server import CHAOS_PATH, FAULTS_PATH, RESET_PATH, STATE_PATH
from nxbridge_dev.simulator.service import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_ACCESS_SECRET,
    DEFAULT_APP_KEY,
    DEFAULT_SEATS,
    DEFAULT_TENANT_ID,
    Simulator,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options, shared by ``nxbridge simulator`` and ``python -m nxbridge_dev.simulator``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind; 0 picks a free one (default 8080)")
    parser.add_argument("--access-key", default=DEFAULT_ACCESS_KEY, help="the account's accessKey")
    parser.add_argument("--access-secret", default=DEFAULT_ACCESS_SECRET, help="the account's access secret")
    parser.add_argument("--tenant-id", type=int, default=DEFAULT_TENANT_ID, help="the account's tenant_id")
    parser.add_argument("--app-key", default=DEFAULT_APP_KEY, help="the account's app_key")
    parser.add_argument(
        "--seat",
        dest="seats",
        action="append",
        metavar="USER",
        help=f"an existing seat user (repeat for more; default {', '.join(DEFAULT_SEATS)})",
    )
    parser.add_argument(
        "--hang-seconds", type=float, default=5.0, help="how long the timeout fault holds a call (default 5)"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``nxbridge simulator``."""
    parser = subparsers.add_parser(
        "simulator", help="serve the strict NXCloud simulator", description="Serve a strict local NXCloud batch_create."
    )
    add_arguments(parser)
    parser.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; returns the exit status."""
    simulator = Simulator(
        access_key=args.access_key,
        access_secret=args.access_secret,
        tenant_id=args.tenant_id,
        app_key=args.app_key,
        seats=args.seats or DEFAULT_SEATS,
        host=args.host,
        port=args.port,
        hang_seconds=args.hang_seconds,
    )
    if threading.current_thread() is threading.main_thread():
        # SIGINT too: a shell starting us in the background leaves it ignored, and Ctrl-C must still stop us.
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, signal.default_int_handler)
    try:
        with simulator:
            print(_banner(simulator), flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    return 0


def _banner(simulator: Simulator) -> str:
    url = simulator.base_url
    secret = {
        "accessKey": simulator.access_key,
        "accessSecret": simulator.access_secret,
        "tenantId": simulator.tenant_id,
        "appKey": simulator.app_key,
    }
    return "\n".join(
        [
            f"NXCloud simulator listening on {url}",
            f"  endpoint       POST {url}{PATH}",
            f"  base URL       NXCLOUD_BASE_URL={url}",
            f"  credentials    {json.dumps(secret)}",
            f"  seats          {', '.join(sorted(simulator.seats))}",
            f"  state          GET    {url}{STATE_PATH}",
            f'  inject fault   POST   {url}{FAULTS_PATH}  {{"fault": "http_500", "count": 1}}',
            f'  chaos          POST   {url}{CHAOS_PATH}   {{"seed": 7, "rates": {{"http_500": 0.1}}}}',
            f"  clear faults   DELETE {url}{FAULTS_PATH}",
            f"  reset          POST   {url}{RESET_PATH}",
            "Ctrl-C to stop.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m nxbridge_dev.simulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m nxbridge_dev.simulator", description="Serve a strict local NXCloud."
    )
    add_arguments(parser)
    return serve(parser.parse_args(argv))
