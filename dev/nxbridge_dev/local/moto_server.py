"""moto's WSGI application served over HTTP/1.1 connections that stay open, as AWS's endpoints keep them.

moto's own server (werkzeug's development server) closes the connection after every response, so each AWS call
of a function pays a TCP connect, a new server thread and werkzeug's linger: about as much work as moto's answer
to a small call. This handler keeps werkzeug's and moto's construction of the WSGI environ
(``MotoRequestHandler.make_environ``) and replaces only the connection handling: the request body is read whole,
the response goes out with its Content-Length, and the connection serves the client's next request.
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import functools
import io
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

# Responses that carry no body (RFC 9110), whatever the application returns.
_NO_BODY = frozenset({204, 304})


@functools.lru_cache(maxsize=2)
def _http_date(second: int) -> str:
    """An HTTP Date header value, as BaseHTTPRequestHandler.date_time_string formats it."""
    return email.utils.formatdate(second, usegmt=True)


class Turns:
    """Requests run in moto one at a time, in the order they arrived.

    moto runs one thread at a time anyway (the interpreter lock); threads that share it by time slices all finish
    late, each after the whole burst's work plus the switching. In turns, the k-th request of a burst waits for the
    k-1 before it and no more. Measured with two drains' sixteen concurrent claims: the slowest answer in 0.5 s
    instead of 1.3 s, inside the drain's 0.75 s read timeout.

    The turn is handed from one request to the next: each waiter sleeps on a lock of its own, which the request
    before it releases, so finishing a turn wakes one thread, not every thread that waits (a condition's
    ``notify_all`` woke them all to compare tickets: 13 to 16% of moto's process under eight clients).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy = False
        self._waiting: collections.deque[threading.Lock] = collections.deque()
        self._held = threading.local()

    def __enter__(self) -> None:
        with self._lock:
            if not self._busy:
                self._busy = True
                self._held.turn = True
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiting.append(gate)
        # Released by the request before this one, which hands its turn over without clearing ``_busy``.
        gate.acquire()
        self._held.turn = True

    def __exit__(self, *exc: object) -> None:
        self._held.turn = False
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._busy = False

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Let other requests run while this one waits (a long poll): it leaves its turn and queues up again after.

        Outside a turn (moto called in this process but not through this server) there is nothing to leave.
        """
        if not getattr(self._held, "turn", False):
            yield
            return
        self.__exit__()
        try:
            yield
        finally:
            self.__enter__()


TURNS = Turns()


class KeepAliveHandler(MotoRequestHandler):
    """One connection: moto's environ for each request, answered with a Content-Length, the connection kept."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        """Send small responses at once: headers and body go out in two writes (Nagle + delayed ACK: ~40 ms)."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        """Answer one request with the application; keep the connection unless the client asked to close it."""
        environ = self.make_environ()
        # Read the body whole so that the next request starts where this one ends.
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        answer: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return chunks.append

        try:
            with TURNS:
                result: Iterable[bytes] = self.server.app(environ, start_response)
                try:
                    chunks.extend(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
        except Exception:
            traceback.print_exc(file=sys.stderr)
            answer = {"status": "500 Internal Server Error", "headers": [("Content-Type", "text/plain")]}
            chunks = [b"Internal Server Error"]
        self._respond(answer["status"], answer["headers"], b"".join(chunks))

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once per second (email.utils.formatdate for every answer: 4% of moto's CPU)."""
        return _http_date(int(time.time() if timestamp is None else timestamp))

    def _respond(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        # What send_response, send_header and end_headers would write, without send_response's log_request
        # (werkzeug formats the request line of every request there, 7% of moto's process under eight clients,
        # before its logger, set to WARNING, drops it), and with the body in the same write: one system call, the
        # interpreter lock taken back once, not twice.
        code = int(status.partition(" ")[0])
        lines = [
            f"{self.protocol_version} {status}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
        ]
        given_length = None
        for name, value in headers:
            lower = name.lower()
            if lower == "content-length":
                given_length = value
            elif lower not in ("connection", "transfer-encoding", "date", "server"):
                lines.append(f"{name}: {value}")
        if code not in _NO_BODY:
            # A HEAD answer states the length of the body a GET would have (moto sets it); others state their own.
            head = self.command == "HEAD" and given_length is not None
            lines.append(f"Content-Length: {given_length if head else len(body)}")
        head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head_bytes + body if self.command != "HEAD" and code not in _NO_BODY else head_bytes)


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        # Chunked: werkzeug's DechunkedInput ends with the last chunk.
        data: bytes = stream.read()
        return data
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(stream.read(length)) if length > 0 else b""


class MotoServer:
    """moto's application on ``host:port`` with :class:`KeepAliveHandler`, served from a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=KeepAliveHandler,
        )
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        """Where it listens."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        """Stop serving and release the port (connections still open end with the process)."""
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._server.server_close()
