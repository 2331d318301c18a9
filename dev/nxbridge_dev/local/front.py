"""The local HTTP front: what API Gateway's HttpApi does in front of the functions.

The routes are the deployed HTTP API's (``POST``/``OPTIONS /webhooks/{endpoint}``, ``GET
/webhooks/{endpoint}/token`` in template.yaml), each bound to the function its integration invokes. A request
to a route becomes the payload-format-2.0 event the real HttpApi would send, the function is invoked with it,
and its proxy response is written back; anything else gets HttpApi's 404. ``GET /_local/status`` is the
stack's own status page; requests under a mounted prefix (the console at ``/_console/``) go to the app mounted there.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from nxbridge.observability import logger
from nxbridge_dev.local.aws import ACCOUNT_ID
from nxbridge_dev.local.functions import LocalFunction

STATUS_PATH = "/_local/status"
# The webhook route, the path of the events make_demo_events.py writes.
ROUTE_PATH = "/webhooks/{endpoint}"
API_ID = "local"
# API Gateway's own limit on a request payload.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# What HttpApi passes to Lambda as text; every other body (form posts included) arrives base64-encoded.
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml")

StatusProvider = Callable[[], Mapping[str, Any]]


@dataclass(frozen=True)
class HttpRequest:
    """One request as it came off the wire."""

    method: str
    target: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str


@dataclass(frozen=True)
class HttpResponse:
    """What to write back to the client."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


# An app served under a path prefix: it answers the whole request itself (the console is one).
Mount = Callable[[HttpRequest, str], HttpResponse]


def is_text_content_type(content_type: str | None) -> bool:
    """Whether HttpApi hands this content type to Lambda as plain text rather than base64."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES


@dataclass(frozen=True)
class Route:
    """One route of the HTTP API: ``method path`` (with ``{name}`` path parameters) and the function it invokes."""

    method: str
    path: str
    function: LocalFunction


def match_path(template: str, path: str) -> dict[str, str] | None:
    """The path parameters when ``path`` matches the route path ``template`` (``{name}``: one segment), else None."""
    expected, actual = template.split("/"), path.split("/")
    if not path.startswith("/") or len(expected) != len(actual):
        return None
    parameters: dict[str, str] = {}
    for pattern, segment in zip(expected, actual, strict=True):
        if pattern.startswith("{") and pattern.endswith("}"):
            if not segment:
                return None
            parameters[pattern[1:-1]] = unquote(segment)
        elif pattern != segment:
            return None
    return parameters


def build_v2_event(
    request: HttpRequest,
    *,
    host: str,
    region: str,
    endpoint: str | None = None,
    route_path: str = ROUTE_PATH,
    path_parameters: Mapping[str, str] | None = None,
    api_id: str = API_ID,
) -> dict[str, Any]:
    """The API Gateway HTTP API event (payload format 2.0) for ``request`` on ``{method} {route_path}``.

    The path parameters are ``path_parameters``, or ``{"endpoint": endpoint}`` for the webhook route.
    """
    parameters = dict(path_parameters) if path_parameters is not None else {"endpoint": endpoint or ""}
    url = urlsplit(request.target)
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        # Format 2.0 joins repeated headers with commas.
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    trace_root = f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    headers.setdefault("x-amzn-trace-id", trace_root)
    headers["x-forwarded-for"] = (
        f"{headers['x-forwarded-for']}, {request.source_ip}" if "x-forwarded-for" in headers else request.source_ip
    )
    headers["x-forwarded-port"] = host.rsplit(":", 1)[-1] if ":" in host else "80"
    headers["x-forwarded-proto"] = "http"
    if request.body:
        headers["content-length"] = str(len(request.body))

    query: dict[str, str] = {}
    for key, value in parse_qsl(url.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value

    now = dt.datetime.now(dt.UTC)
    route_key = f"{request.method} {route_path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": base64.b64encode(uuid.uuid4().bytes[:10]).decode(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "pathParameters": parameters,
        "isBase64Encoded": False,
    }
    # HttpApi omits absent parts instead of sending empty ones.
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if request.body:
        if is_text_content_type(headers.get("content-type")):
            event["body"] = request.body.decode("utf-8", errors="replace")
        else:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def response_from_result(result: Any) -> HttpResponse:
    """Turn a Lambda proxy result (format 2.0) into the HTTP response HttpApi would send."""
    if not isinstance(result, Mapping) or "statusCode" not in result:
        # HttpApi's inference for results without a statusCode: 200 with the result as a JSON body.
        inferred = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("Content-Type", "application/json")], inferred.encode())
    try:
        status = int(result["statusCode"])
        raw_headers = result.get("headers") or {}
        headers = [(str(name), str(value)) for name, value in raw_headers.items()]
        headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
        text = result.get("body") or ""
        if not isinstance(text, str):
            raise TypeError("body must be a string")
        body = base64.b64decode(text, validate=True) if result.get("isBase64Encoded") else text.encode()
    except (TypeError, ValueError, AttributeError, binascii.Error):
        logger.exception("malformed Lambda proxy response")
        return _gateway_error(500, "Internal Server Error")
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, body)


def _gateway_error(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode())


class Front:
    """A threaded HTTP server on loopback that routes requests to the functions behind the HTTP API's routes."""

    def __init__(
        self,
        routes: Sequence[Route],
        status: StatusProvider,
        *,
        api_id: str = API_ID,
        host: str = "127.0.0.1",
        port: int = 3000,
        access_log: Callable[[str], None] | None = None,
        mounts: Mapping[str, Mount] | None = None,
    ) -> None:
        self.routes = list(routes)
        self.status = status
        self.api_id = api_id
        self.access_log = access_log
        self.mounts = dict(mounts or {})
        # What the console shows per endpoint; API Gateway itself keeps no such record.
        self.last_webhook: dict[str, dt.datetime] = {}
        self.webhooks_received = 0
        self._server = ThreadingHTTPServer((host, port), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="nxbridge-front", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route ``method path`` takes and its path parameters; None when no route matches (HttpApi's 404)."""
        for route in self.routes:
            if route.method == method:
                parameters = match_path(route.path, path)
                if parameters is not None:
                    return route, parameters
        return None

    def handle(self, request: HttpRequest, host: str) -> HttpResponse:
        """Route one request: a route's function gets the event, the status path goes to the stack."""
        path = urlsplit(request.target).path
        for prefix, mount in self.mounts.items():
            if path == prefix or path.startswith(f"{prefix}/"):
                return mount(request, host)
        if path == STATUS_PATH and request.method == "GET":
            return HttpResponse(
                200, [("Content-Type", "application/json")], (json.dumps(self.status(), indent=2) + "\n").encode()
            )
        found = self.route(request.method, path)
        if found is None:
            return _gateway_error(404, "Not Found")
        route, parameters = found
        if request.method == "POST" and "endpoint" in parameters:
            self.last_webhook[parameters["endpoint"]] = dt.datetime.now(dt.UTC)
            self.webhooks_received += 1
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return _gateway_error(413, "Request Entity Too Large")
        event = build_v2_event(
            request,
            host=host,
            region=route.function.region,
            route_path=route.path,
            path_parameters=parameters,
            api_id=self.api_id,
        )
        try:
            result = route.function.invoke(event)
        except Exception:
            # An unhandled error in the function is what HttpApi reports as a bare 500.
            logger.exception("function raised", extra={"route": f"{route.method} {route.path}"})
            return _gateway_error(500, "Internal Server Error")
        return response_from_result(result)


def _handler_class(front: Front) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "nxbridge-local"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms per request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            body = self._read_body()
            if body is None:
                self._write(_gateway_error(413, "Request Entity Too Large"), close=True)
                return
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
            host = self.headers.get("Host") or front.base_url.removeprefix("http://")
            self._write(front.handle(request, host))

        def _read_body(self) -> bytes | None:
            """The request body (Content-Length or chunked); None when it is over API Gateway's limit."""
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks: list[bytes] = []
                size = 0
                while True:
                    chunk_size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if chunk_size == 0:
                        # Trailer section: header lines up to an empty line.
                        while self.rfile.readline().strip():
                            pass
                        return b"".join(chunks)
                    size += chunk_size
                    if size > MAX_PAYLOAD_BYTES:
                        return None
                    chunks.append(self.rfile.read(chunk_size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_PAYLOAD_BYTES:
                return None
            return self.rfile.read(length) if length else b""

        def _write(self, response: HttpResponse, *, close: bool = False) -> None:
            self.send_response(response.status)
            for name, value in response.headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            # Scripts poll the status page while they wait; only webhook traffic is worth a log line (the console
            # writes its own audit lines, and its URLs may carry the token).
            if front.access_log is not None and not self.path.startswith((STATUS_PATH, *front.mounts)):
                front.access_log(format % args)

    return RequestHandler
