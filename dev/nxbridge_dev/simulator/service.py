"""The Simulator: one NXCloud account's batch_create, served on loopback in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from nxbridge.observability import logger
from nxbridge_dev.simulator.faults import Fault, FaultPlan
from nxbridge_dev.simulator.rules import MESSAGES, RequestError, check_request
from nxbridge_dev.simulator.server import Answer, SimulatorServer, json_body
from nxbridge_dev.simulator.store import Call, Store, customer_count

DEFAULT_ACCESS_KEY = "fme2na3kdi3ki"
DEFAULT_ACCESS_SECRET = "demo-secret"  # noqa: S105 (the contract's worked-example secret, local use only)
DEFAULT_TENANT_ID = 123
DEFAULT_APP_KEY = "46oKF=os"
DEFAULT_SEATS: tuple[str, ...] = ("agent@example.com", "agent2@example.com")

_HTTP_500 = Answer(500, b"<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html")


class Simulator:
    """NXCloud's batch_create for one account, served on loopback in a background thread."""

    def __init__(
        self,
        *,
        access_key: str = DEFAULT_ACCESS_KEY,
        access_secret: str = DEFAULT_ACCESS_SECRET,
        tenant_id: int = DEFAULT_TENANT_ID,
        app_key: str = DEFAULT_APP_KEY,
        seats: Iterable[str] = DEFAULT_SEATS,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        hang_seconds: float = 5.0,
    ) -> None:
        self.access_key = access_key
        self.access_secret = access_secret
        self.tenant_id = tenant_id
        self.app_key = app_key
        self.host = host
        self.requested_port = port
        self.clock = clock
        self.hang_seconds = hang_seconds
        self.per_record_failures: dict[str, tuple[int, str]] = {}
        self._initial_seats = frozenset(seats)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self._store = Store(self._initial_seats)
        self._faults = FaultPlan()
        self.per_record_failures.clear()

    def start(self) -> Simulator:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = SimulatorServer((self.host, self.requested_port), self)
        thread = threading.Thread(target=server.serve_forever, name="nxcloud-simulator", daemon=True)
        thread.start()
        self._server, self._thread = server, thread
        logger.info("NXCloud simulator started", extra={"url": self.base_url})
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests and idle keep-alive connections are cut, so this returns promptly."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        # serve_forever sees the shutdown request only when its select() returns: a connection wakes it now.
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection((self.host, self.port), timeout=0.2).close()
            stopper.join(0.01)
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)
        self._server = self._thread = None
        logger.info("NXCloud simulator stopped")

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port``: what NXCLOUD_BASE_URL / NXCloudClient take."""
        return f"http://{self.host}:{self.port}"

    def inject(self, fault: str, count: int = 1, code: int | None = None, message: str | None = None) -> None:
        """Answer the next ``count`` batch_create calls with ``fault`` (queued after faults already pending)."""
        with self._lock:
            self._faults.inject(fault, count, code, message)

    def chaos(self, seed: int, rates: Mapping[str, float], code: int | None = None) -> None:
        """Seeded random faults: each call draws one fault with the given probability (keys: fault names or
        ``code:<N>``; a bare ``code`` uses ``code``). Injected faults take precedence."""
        with self._lock:
            self._faults.chaos(seed, rates, code)

    def clear_faults(self) -> None:
        """Drop pending injected faults and chaos."""
        with self._lock:
            self._faults.clear()

    def add_seat(self, seat: str) -> None:
        """Make ``seat`` an existing seat user."""
        with self._lock:
            self._store.seats.add(seat)

    def remove_seat(self, seat: str) -> None:
        """Remove ``seat``: customers bound to it now fail with 12148."""
        with self._lock:
            self._store.seats.discard(seat)

    @property
    def seats(self) -> frozenset[str]:
        """The existing seat users."""
        with self._lock:
            return frozenset(self._store.seats)

    @property
    def calls(self) -> list[Call]:
        """Every batch_create call so far, oldest first (a copy)."""
        with self._lock:
            return list(self._store.calls)

    @property
    def customers(self) -> dict[int, dict[str, Any]]:
        """Stored customers by customerId (copies)."""
        with self._lock:
            return {cid: dict(record) for cid, record in self._store.customers.items()}

    def stats(self) -> dict[str, Any]:
        """Counters: calls, ok, failures by code / HTTP status, unanswered (hung), garbled (HTTP 200, not JSON),
        stored customers, success and fail items, faults injected by kind."""
        with self._lock:
            return {**self._store.stats(), "faults_injected": dict(self._faults.injected)}

    def reset(self) -> None:
        """Back to the state right after construction: no calls, customers, faults or per-record failures."""
        with self._lock:
            self._reset_state()

    def state(self) -> dict[str, Any]:
        """What ``GET /_sim/state`` answers: stats, seats, pending faults and stored customers."""
        with self._lock:
            return {
                "stats": self.stats(),
                "seats": sorted(self._store.seats),
                "pending_faults": self._faults.pending(),
                "chaos": self._faults.chaos_on,
                "customers": [{"customerId": cid, **record} for cid, record in self._store.customers.items()],
            }

    def hold(self) -> None:
        """Keep a call the timeout fault leaves unanswered waiting ``hang_seconds``, or until stop()."""
        self._stopping.wait(self.hang_seconds)

    def answer_batch_create(self, headers: Mapping[str, str], body: bytes) -> Answer:
        """Decide the answer to one batch_create call (headers looked up case-insensitively) and record it."""
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            if not lowered.get("content-type", "").lower().startswith("application/json"):
                rejected = Answer(415, b"Content-Type must be application/json", "text/plain")
                self._record(headers, body, rejected, code=None, trace_id=None, fault=None)
                return rejected
            fault = self._faults.next()
            trace_id: str | None = None
            code: int | None = None
            if fault is None or fault.kind == "store_then_500":
                trace_id = uuid.uuid4().hex
                code, message, data = self._process(lowered, body)
                answer = Answer(200, json_body({"code": code, "message": message, "traceId": trace_id, "data": data}))
                if fault is not None:
                    # Stored, but the answer is lost on the way back: the client must retry safely.
                    answer = _HTTP_500
            elif fault.kind == "code":
                trace_id = uuid.uuid4().hex
                code = fault.code
                message = fault.message or MESSAGES.get(code or 0, "Injected error")
                answer = Answer(200, json_body({"code": code, "message": message, "traceId": trace_id, "data": None}))
            elif fault.kind == "http_500":
                answer = _HTTP_500
            elif fault.kind == "http_429":
                answer = Answer(429, b"Too Many Requests", "text/plain", (("Retry-After", "1"),))
            elif fault.kind == "garbage":
                answer = Answer(200, b"<html>upstream hiccup", "text/html")
            else:
                answer = Answer(None)
            self._record(headers, body, answer, code=code, trace_id=trace_id, fault=fault)
        logger.debug(
            "batch_create",
            extra={
                "http_status": answer.http_status,
                "code": code,
                "trace_id": trace_id,
                "fault": fault and fault.kind,
            },
        )
        return answer

    def _record(
        self,
        headers: Mapping[str, str],
        body: bytes,
        answer: Answer,
        *,
        code: int | None,
        trace_id: str | None,
        fault: Fault | None,
    ) -> None:
        self._store.record(
            Call(
                time=self.clock(),
                headers=dict(headers),
                body=body,
                http_status=answer.http_status,
                code=code,
                customer_count=customer_count(body),
                trace_id=trace_id,
                fault=fault.kind if fault else None,
            )
        )

    def _process(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str | None, dict[str, Any] | None]:
        """The checks in NXCloud's order, then the records; returns (code, message, data)."""
        try:
            payload = check_request(
                headers,
                body,
                access_key=self.access_key,
                access_secret=self.access_secret,
                tenant_id=self.tenant_id,
                app_key=self.app_key,
                clock=self.clock,
            )
            return 0, None, self._store.apply(payload, self.per_record_failures)
        except RequestError as exc:
            return exc.code, exc.message, None
