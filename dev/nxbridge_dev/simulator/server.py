"""The simulator's HTTP server: batch_create and the ``/_sim/`` control endpoints over HTTP/1.1 keep-alive."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from nxbridge.observability import logger
from nxbridge_dev.simulator.rules import PATH

STATE_PATH = "/_sim/state"
FAULTS_PATH = "/_sim/faults"
CHAOS_PATH = "/_sim/chaos"
RESET_PATH = "/_sim/reset"

MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    """One HTTP answer; http_status None holds the connection without answering (the timeout fault)."""

    http_status: int | None
    body: bytes = b""
    content_type: str = "application/json"
    extra_headers: tuple[tuple[str, str], ...] = ()


def json_body(payload: Any) -> bytes:
    """``payload`` as an answer body."""
    # ensure_ascii=False: the answer is UTF-8 as NXCloud's; ints (customerIds) stay exact JSON integers.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Backend(Protocol):
    """What the server serves: the Simulator."""

    def answer_batch_create(self, headers: Mapping[str, str], body: bytes) -> Answer:
        """The answer to one batch_create call."""

    def hold(self) -> None:
        """Keep an unanswered call waiting, until the hang time passes or the simulator stops."""

    def state(self) -> dict[str, Any]:
        """What ``GET /_sim/state`` answers."""

    def inject(self, fault: str, count: int = 1, code: int | None = None, message: str | None = None) -> None:
        """``POST /_sim/faults``."""

    def chaos(self, seed: int, rates: Mapping[str, float], code: int | None = None) -> None:
        """``POST /_sim/chaos``."""

    def clear_faults(self) -> None:
        """``DELETE /_sim/faults``."""

    def reset(self) -> None:
        """``POST /_sim/reset``."""


class SimulatorServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server for ``backend`` that can cut its open connections, so stopping never waits."""

    daemon_threads = True
    # stop() must not wait for a request that is hanging on purpose.
    block_on_close = False

    def __init__(self, address: tuple[str, int], backend: Backend) -> None:
        self.backend = backend
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        """Remember an open connection."""
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a closed connection."""
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut every open connection down, idle keep-alive and hanging ones alike."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "NXCloudSimulator/1.0"
    # Idle keep-alive connections are dropped after this many seconds.
    timeout = 120

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms per keep-alive call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # batch_create calls are logged (without PII) by the simulator itself; the access line adds nothing.
        return

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator http error", extra={"detail": format % args})

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path = urlsplit(self.path).path
        backend = self.server.backend
        if path == PATH:
            answer = backend.answer_batch_create(dict(self.headers.items()), body)
            if answer.http_status is None:
                # The timeout fault: hold the connection without answering, then drop it.
                backend.hold()
                self.close_connection = True
                return
            self._send(answer)
        elif path in (FAULTS_PATH, CHAOS_PATH, RESET_PATH):
            self._control(path, body)
        else:
            self._send(Answer(404, json_body({"error": "not found"})))

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == STATE_PATH:
            self._send(Answer(200, json_body(self.server.backend.state())))
        elif path == PATH:
            self._send(Answer(405, json_body({"error": "method not allowed"}), extra_headers=(("Allow", "POST"),)))
        else:
            self._send(Answer(404, json_body({"error": "not found"})))

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path == FAULTS_PATH:
            self.server.backend.clear_faults()
            self._send(Answer(200, json_body({"ok": True})))
        else:
            self._send(Answer(404, json_body({"error": "not found"})))

    def _control(self, path: str, body: bytes) -> None:
        backend = self.server.backend
        try:
            request = json.loads(body) if body else {}
            if not isinstance(request, dict):
                raise ValueError("the body must be a JSON object")
            if path == FAULTS_PATH:
                backend.inject(
                    str(request.get("fault")),
                    int(request.get("count", 1)),
                    None if request.get("code") is None else int(request["code"]),
                    request.get("message"),
                )
            elif path == CHAOS_PATH:
                backend.chaos(
                    int(request["seed"]),
                    {str(k): float(v) for k, v in dict(request["rates"]).items()},
                    None if request.get("code") is None else int(request["code"]),
                )
            else:
                backend.reset()
        except (ValueError, TypeError, KeyError) as exc:
            self._send(Answer(400, json_body({"error": str(exc)})))
            return
        self._send(Answer(200, json_body({"ok": True})))

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            body = b""
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                self._send(Answer(411, b"Content-Length required", "text/plain"))
                return None
            return body
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._send(Answer(413, b"bad or too large Content-Length", "text/plain"))
            return None
        return self.rfile.read(length)

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.http_status or 500)
        self.send_header(
            "Content-Type", answer.content_type + ("; charset=utf-8" if "json" in answer.content_type else "")
        )
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.extra_headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)
