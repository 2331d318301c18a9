"""The operator console on the local stack: ``make run`` serves it at ``/_console/`` of the HTTP front.

The console is the runtime package's (``nxbridge.console``); this module only hands it the local stack's queues,
counters, endpoints and the simulator's stored customers, and adapts the front's requests to WSGI.
"""

from __future__ import annotations

import io
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from nxbridge.console.app import create_app
from nxbridge.console.audit import AuditLog
from nxbridge.console.context import ConsoleContext, EndpointInfo, Figures, endpoint_infos
from nxbridge.console.security import TOKEN_PARAM, Guard
from nxbridge.endpoints import EndpointsDocument
from nxbridge.envelope import utcnow
from nxbridge.replay import DlqFilter, DlqScanner, stats
from nxbridge_dev.local.front import HttpRequest, HttpResponse, Mount

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from nxbridge_dev.local.stack import LocalStack

CONSOLE_PREFIX = "/_console"


def call_wsgi(app: WSGIApplication, request: HttpRequest, *, script_name: str, host: str) -> HttpResponse:
    """Answer ``request`` with a WSGI app mounted at ``script_name`` (PEP 3333 environ, whole body buffered)."""
    url = urlsplit(request.target)
    server, _, port = host.rpartition(":") if ":" in host else (host, "", "80")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": unquote(url.path.removeprefix(script_name), encoding="latin-1"),
        "QUERY_STRING": url.query,
        "SERVER_NAME": server,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": request.source_ip,
        "CONTENT_LENGTH": str(len(request.body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.headers:
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = value
        elif key != "CONTENT_LENGTH":
            environ[f"HTTP_{key}"] = f"{environ[f'HTTP_{key}']},{value}" if f"HTTP_{key}" in environ else value
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
        started[:] = [(status, headers)]
        return written.append

    result = app(environ, start_response)
    try:
        written.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started[0]
    return HttpResponse(int(status.split(" ", 1)[0]), list(headers), b"".join(written))


def wsgi_mount(app: WSGIApplication, prefix: str) -> Mount:
    """The front's mount for a WSGI app served under ``prefix``."""
    return lambda request, host: call_wsgi(app, request, script_name=prefix, host=host)


@dataclass(frozen=True)
class LocalConsole:
    """The console app of one local stack and the token its URL carries."""

    mount: Mount
    guard: Guard

    def url(self, base_url: str) -> str:
        """The URL to open (``make run`` prints it)."""
        return f"{base_url}{CONSOLE_PREFIX}/?{TOKEN_PARAM}={self.guard.token}"


def _figures(stack: LocalStack) -> Figures:
    """The poller's and the front's counters since the stack started; the DLQ's oldest record by a scan."""
    assert stack.poller is not None and stack.front is not None
    resources = stack.require_resources()
    poller = stack.poller.stats()
    with DlqScanner(stack.aws.sqs(), resources.dlq_url, wait_seconds=0) as scanner:
        oldest = stats(scanner, DlqFilter()).oldest
    return Figures(
        window="since the stack started",
        webhooks_received=stack.front.webhooks_received,
        customers_synced=poller["acknowledged"] - poller["dead_lettered"],
        customers_failed=poller["dead_lettered"],
        dlq_oldest_age_seconds=(utcnow() - oldest).total_seconds() if oldest else None,
    )


def _print_audit(line: str) -> None:
    print(f"audit {line}", flush=True)


def local_console(stack: LocalStack, endpoints: EndpointsDocument) -> LocalConsole:
    """The console of ``stack`` (started as far as its poller), with a fresh token."""
    resources = stack.require_resources()
    simulator = stack.simulator

    def known_endpoints() -> list[EndpointInfo]:
        return endpoint_infos(endpoints, stack.front.last_webhook if stack.front is not None else None)

    def stored_customers() -> list[dict[str, Any]]:
        assert simulator is not None
        return [{"customerId": cid, **customer} for cid, customer in simulator.customers.items()]

    context = ConsoleContext(
        title="local stack",
        sqs=stack.aws.sqs(),
        dlq_url=resources.dlq_url,
        queue_url=resources.queue_url,
        figures=lambda: _figures(stack),
        endpoints=known_endpoints,
        stored_customers=stored_customers if simulator is not None else None,
        # moto answers an empty receive at once and exactly: no long polling needed.
        wait_seconds=0,
        # Purge archives hold PII in clear: out of the checkout.
        archive_dir=Path(tempfile.gettempdir()),
    )
    guard = Guard.new()
    app = create_app(context, guard=guard, audit=AuditLog(_print_audit if stack.access_log is not None else None))
    return LocalConsole(mount=wsgi_mount(app, CONSOLE_PREFIX), guard=guard)
