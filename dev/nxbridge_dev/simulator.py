"""A strict local NXCloud ``customers/batch_create`` over real HTTP, with fault injection (docs/nxcloud-contract.md).

It is the referee for the client and the models, so every check here is written from the contract with
hashlib and json directly and shares no code with ``nxbridge.contract`` or ``nxbridge.nxcloud``.
Run it with ``python -m nxbridge_dev.simulator`` or ``nxbridge simulator``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import hmac
import http.server
import json
import random
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from nxbridge.observability import logger

PATH = "/saas/cdp/openapi/customers/batch_create"
STATE_PATH = "/_sim/state"
FAULTS_PATH = "/_sim/faults"
CHAOS_PATH = "/_sim/chaos"
RESET_PATH = "/_sim/reset"

DEFAULT_ACCESS_KEY = "fme2na3kdi3ki"
DEFAULT_ACCESS_SECRET = "demo-secret"  # noqa: S105 (the contract's worked-example secret, local use only)
DEFAULT_TENANT_ID = 123
DEFAULT_APP_KEY = "46oKF=os"
DEFAULT_SEATS: tuple[str, ...] = ("agent@example.com", "agent2@example.com")
# The page's example ids: above 2**53, so a client that parses them as floats loses digits.
FIRST_CUSTOMER_ID = 1214631327620775936

TS_WINDOW_MS = 60_000
MAX_CUSTOMERS = 100
MAX_BODY_BYTES = 8 * 1024 * 1024

FAULTS: frozenset[str] = frozenset({"http_500", "http_429", "timeout", "garbage", "code", "store_then_500"})
REQUIRED_HEADERS: tuple[str, ...] = ("accessKey", "ts", "bizType", "action", "sign")
MESSAGES: dict[int, str] = {
    1001: "Missing public parameters",
    1002: "Parameter error",
    1003: "Invalid signature",
    1004: "Timestamp expired",
    1005: "Insufficient permissions",
    12148: "The belonging seat does not exist. Please go to Management->Members to confirm",
}
SEAT_MESSAGE = "The belonging seat {seat} does not exist. Please go to Management->Members to confirm"

# Customer fields of the contract table: strings with their max length (None: no limit) and bounded ints.
STRING_FIELDS: dict[str, int | None] = {
    "full_name": 255,
    "first_name": 128,
    "last_name": 128,
    "sms_phone": 30,
    "whats_app_phone": 30,
    "viber_phone": 30,
    "messenger": 32,
    "instagram": 32,
    "zalo": 32,
    "line": 50,
    "country": 50,
    "email": 50,
    "address": 100,
    "birthday": None,
    "tagStr": None,
    "remark": 2000,
    "time_zone": None,
    "customize_field": None,
    "belong_seat_user": 128,
}
INT_FIELDS: dict[str, tuple[int, int]] = {"gender": (0, 1), "weight": (1, 5)}
DIGIT_FIELDS: frozenset[str] = frozenset(
    {"sms_phone", "whats_app_phone", "viber_phone", "messenger", "instagram", "zalo"}
)
# Also the upsert identity, in priority order.
CONTACT_FIELDS: tuple[str, ...] = (
    "whats_app_phone",
    "sms_phone",
    "email",
    "viber_phone",
    "messenger",
    "instagram",
    "line",
    "zalo",
)
_ASCII_DIGITS = re.compile(r"[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class Call:
    """One request to batch_create as received, and what the simulator answered (http_status None: no answer)."""

    time: float
    headers: dict[str, str]
    body: bytes
    http_status: int | None
    code: int | None
    customer_count: int | None
    trace_id: str | None
    fault: str | None


@dataclass(frozen=True)
class _Fault:
    kind: str
    code: int | None = None
    message: str | None = None


@dataclass
class _Pending:
    fault: _Fault
    remaining: int


@dataclass(frozen=True)
class _Answer:
    http_status: int | None
    body: bytes = b""
    content_type: str = "application/json"
    extra_headers: tuple[tuple[str, str], ...] = ()


_HTTP_500 = _Answer(500, b"<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html")


class _RequestError(Exception):
    """A whole-request rejection: NXCloud answers HTTP 200 with this code and data null."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def record_errors(record: Mapping[str, Any]) -> list[str]:
    """Every contract rule ``record`` breaks, as ``field: rule`` texts that never echo the value."""
    errors = [f"{name}: unknown field" for name in record if name not in STRING_FIELDS and name not in INT_FIELDS]
    for name, max_len in STRING_FIELDS.items():
        value = record.get(name)
        # A JSON null is an absent field, as a Java service reads it.
        if value is None:
            continue
        if not isinstance(value, str):
            errors.append(f"{name}: must be a string")
            continue
        if max_len is not None and len(value) > max_len:
            errors.append(f"{name}: longer than {max_len} characters")
        if value == "":
            continue
        if name in DIGIT_FIELDS and not _ASCII_DIGITS.fullmatch(value):
            errors.append(f"{name}: must contain digits only")
        elif name == "birthday" and not _is_real_date(value):
            errors.append(f"{name}: must be a real date as yyyy-MM-dd")
        elif name == "customize_field" and not _is_json_object(value):
            errors.append(f"{name}: must be a string holding a JSON object")
    if record.get("full_name") in (None, ""):
        errors.append("full_name: is required")
    for name, (low, high) in INT_FIELDS.items():
        value = record.get(name)
        if value is not None and (type(value) is not int or not low <= value <= high):
            errors.append(f"{name}: must be an integer from {low} to {high}")
    if not any(isinstance(record.get(name), str) and record.get(name) for name in CONTACT_FIELDS):
        errors.append("contact: at least one of " + ", ".join(CONTACT_FIELDS) + " must be non-empty")
    return errors


def _is_real_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_json_object(value: str) -> bool:
    try:
        return isinstance(json.loads(value, parse_constant=_reject_constant), dict)
    except ValueError:
        return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def expected_sign(
    access_key: str, ts: str, body: bytes, access_secret: str, *, biz_type: str = "2", action: str = "mt"
) -> str:
    """The signature of docs/nxcloud-contract.md written out: headers sorted by key (accessKey, action, bizType, ts)."""
    text = f"accessKey={access_key}&action={action}&bizType={biz_type}&ts={ts}".encode()
    if body:
        text += b"&body=" + body
    text += b"&accessSecret=" + access_secret.encode()
    return hashlib.md5(text, usedforsecurity=False).hexdigest()


def _parse_body(body: bytes) -> dict[str, Any]:
    """The batch body, or a 1002 naming the first broken rule."""
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise _RequestError(1002, "Parameter error: the body is not UTF-8 JSON") from None
    if not isinstance(payload, dict):
        raise _RequestError(1002, "Parameter error: the body must be a JSON object")
    kind = payload.get("type")
    if type(kind) is not int or kind not in (0, 1, 2):
        raise _RequestError(1002, "Parameter error: type must be 0, 1 or 2")
    if type(payload.get("tenant_id")) is not int:
        raise _RequestError(1002, "Parameter error: tenant_id must be an integer")
    app_key = payload.get("app_key")
    if not isinstance(app_key, str) or not app_key:
        raise _RequestError(1002, "Parameter error: app_key is required")
    customers = payload.get("customers")
    if (
        not isinstance(customers, list)
        or not 1 <= len(customers) <= MAX_CUSTOMERS
        or not all(isinstance(c, dict) for c in customers)
    ):
        raise _RequestError(1002, f"Parameter error: customers must hold 1 to {MAX_CUSTOMERS} objects")
    strict = payload.get("strict_binding")
    if strict is not None and not isinstance(strict, bool):
        raise _RequestError(1002, "Parameter error: strict_binding must be a boolean")
    return payload


def _customer_count(body: bytes) -> int | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    customers = payload.get("customers") if isinstance(payload, dict) else None
    return len(customers) if isinstance(customers, list) else None


def _json(payload: Any) -> bytes:
    # ensure_ascii=False: the answer is UTF-8 as NXCloud's; ints (customerIds) stay exact JSON integers.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self._seats = set(self._initial_seats)
        self._calls: list[Call] = []
        self._customers: dict[int, dict[str, Any]] = {}
        self._index: dict[tuple[str, str], int] = {}
        self._next_id = FIRST_CUSTOMER_ID
        self._pending: list[_Pending] = []
        self._chaos: tuple[random.Random, list[tuple[float, _Fault]]] | None = None
        self._ok = 0
        self._unanswered = 0
        self._garbled = 0
        self._success_items = 0
        self._fail_items = 0
        self._by_code: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self.per_record_failures.clear()

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.requested_port), self)
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

    # --- faults ----------------------------------------------------------------------------------------

    def inject(self, fault: str, count: int = 1, code: int | None = None, message: str | None = None) -> None:
        """Answer the next ``count`` batch_create calls with ``fault`` (queued after faults already pending)."""
        made = _make_fault(fault, code, message)
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._pending.append(_Pending(made, count))

    def chaos(self, seed: int, rates: Mapping[str, float], code: int | None = None) -> None:
        """Seeded random faults: each call draws one fault with the given probability (keys: fault names or
        ``code:<N>``; a bare ``code`` uses ``code``). Injected faults take precedence."""
        table: list[tuple[float, _Fault]] = []
        total = 0.0
        for name, rate in sorted(rates.items()):
            kind, _, number = name.partition(":")
            fault = _make_fault(kind, int(number) if number else code, None)
            if rate < 0:
                raise ValueError(f"rate of {name} is negative")
            total += rate
            table.append((total, fault))
        if total > 1.0:
            raise ValueError("the rates add up to more than 1")
        with self._lock:
            self._chaos = (random.Random(seed), table)

    def clear_faults(self) -> None:
        """Drop pending injected faults and chaos."""
        with self._lock:
            self._pending.clear()
            self._chaos = None

    def _next_fault(self) -> _Fault | None:
        if self._pending:
            head = self._pending[0]
            head.remaining -= 1
            if head.remaining == 0:
                self._pending.pop(0)
            return head.fault
        if self._chaos is not None:
            rng, table = self._chaos
            draw = rng.random()
            for bound, fault in table:
                if draw < bound:
                    return fault
        return None

    # --- seats and state -------------------------------------------------------------------------------

    def add_seat(self, seat: str) -> None:
        """Make ``seat`` an existing seat user."""
        with self._lock:
            self._seats.add(seat)

    def remove_seat(self, seat: str) -> None:
        """Remove ``seat``: customers bound to it now fail with 12148."""
        with self._lock:
            self._seats.discard(seat)

    @property
    def seats(self) -> frozenset[str]:
        """The existing seat users."""
        with self._lock:
            return frozenset(self._seats)

    @property
    def calls(self) -> list[Call]:
        """Every batch_create call so far, oldest first (a copy)."""
        with self._lock:
            return list(self._calls)

    @property
    def customers(self) -> dict[int, dict[str, Any]]:
        """Stored customers by customerId (copies)."""
        with self._lock:
            return {cid: dict(record) for cid, record in self._customers.items()}

    def stats(self) -> dict[str, Any]:
        """Counters: calls, ok, failures by code / HTTP status, unanswered (hung), garbled (HTTP 200, not JSON),
        stored customers, success and fail items, faults injected by kind."""
        with self._lock:
            return {
                "calls": len(self._calls),
                "ok": self._ok,
                "failed_by_code": dict(self._by_code),
                "failed_by_http_status": dict(self._by_status),
                "unanswered": self._unanswered,
                "garbled": self._garbled,
                "stored": len(self._customers),
                "success_items": self._success_items,
                "fail_items": self._fail_items,
                "faults_injected": dict(self._faults),
            }

    def reset(self) -> None:
        """Back to the state right after construction: no calls, customers, faults or per-record failures."""
        with self._lock:
            self._reset_state()

    def state(self) -> dict[str, Any]:
        """What ``GET /_sim/state`` answers: stats, seats, pending faults and stored customers."""
        with self._lock:
            return {
                "stats": self.stats(),
                "seats": sorted(self._seats),
                "pending_faults": [
                    {"fault": p.fault.kind, "remaining": p.remaining, "code": p.fault.code} for p in self._pending
                ],
                "chaos": self._chaos is not None,
                "customers": [{"customerId": cid, **record} for cid, record in self._customers.items()],
            }

    # --- batch_create ----------------------------------------------------------------------------------

    def _handle_batch_create(self, headers: Mapping[str, str], body: bytes) -> _Answer:
        """Decide the answer to one batch_create call (headers looked up case-insensitively) and record it."""
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            if not lowered.get("content-type", "").lower().startswith("application/json"):
                rejected = _Answer(415, b"Content-Type must be application/json", "text/plain")
                self._record(headers, body, rejected, code=None, trace_id=None, fault=None)
                return rejected
            fault = self._next_fault()
            if fault is not None:
                self._faults[fault.kind] += 1
            trace_id: str | None = None
            code: int | None = None
            if fault is None or fault.kind == "store_then_500":
                trace_id = uuid.uuid4().hex
                code, message, data = self._process(lowered, body)
                answer = _Answer(200, _json({"code": code, "message": message, "traceId": trace_id, "data": data}))
                if fault is not None:
                    # Stored, but the answer is lost on the way back: the client must retry safely.
                    answer = _HTTP_500
            elif fault.kind == "code":
                trace_id = uuid.uuid4().hex
                code = fault.code
                message = fault.message or MESSAGES.get(code or 0, "Injected error")
                answer = _Answer(200, _json({"code": code, "message": message, "traceId": trace_id, "data": None}))
            elif fault.kind == "http_500":
                answer = _HTTP_500
            elif fault.kind == "http_429":
                answer = _Answer(429, b"Too Many Requests", "text/plain", (("Retry-After", "1"),))
            elif fault.kind == "garbage":
                answer = _Answer(200, b"<html>upstream hiccup", "text/html")
            else:
                answer = _Answer(None)
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
        answer: _Answer,
        *,
        code: int | None,
        trace_id: str | None,
        fault: _Fault | None,
    ) -> None:
        self._calls.append(
            Call(
                time=self.clock(),
                headers=dict(headers),
                body=body,
                http_status=answer.http_status,
                code=code,
                customer_count=_customer_count(body),
                trace_id=trace_id,
                fault=fault.kind if fault else None,
            )
        )
        if answer.http_status is None:
            self._unanswered += 1
        elif answer.http_status != 200:
            self._by_status[str(answer.http_status)] += 1
        elif code == 0:
            self._ok += 1
        elif code is not None:
            self._by_code[str(code)] += 1
        else:
            self._garbled += 1

    def _process(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str | None, dict[str, Any] | None]:
        """The checks in NXCloud's order, then the records; returns (code, message, data)."""
        try:
            payload = self._check_request(headers, body)
            return 0, None, self._apply(payload)
        except _RequestError as exc:
            return exc.code, exc.message, None

    def _check_request(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        missing = [name for name in REQUIRED_HEADERS if not headers.get(name.lower())]
        if missing:
            raise _RequestError(1001, "Missing public parameters: " + ", ".join(missing))
        access_key, ts = headers["accesskey"], headers["ts"]
        biz_type, action, sign = headers["biztype"], headers["action"], headers["sign"]
        if access_key != self.access_key:
            raise _RequestError(1005, "Insufficient permissions: unknown accessKey")
        if biz_type != "2" or action != "mt":
            raise _RequestError(1002, 'Parameter error: bizType must be "2" and action "mt"')
        now_ms = round(self.clock() * 1000)
        if not _TS.fullmatch(ts) or abs(now_ms - int(ts)) > TS_WINDOW_MS:
            raise _RequestError(1004, "Timestamp expired: ts must be Unix milliseconds within 60 s of now")
        expected = expected_sign(access_key, ts, body, self.access_secret, biz_type=biz_type, action=action)
        if not hmac.compare_digest(expected.encode(), sign.encode()):
            raise _RequestError(1003, "Invalid signature")
        payload = _parse_body(body)
        if payload["tenant_id"] != self.tenant_id or payload["app_key"] != self.app_key:
            raise _RequestError(1005, "Insufficient permissions: tenant_id or app_key is not this account's")
        return payload

    def _apply(self, payload: dict[str, Any]) -> dict[str, Any]:
        strict = payload.get("strict_binding") is True
        fail_items: list[dict[str, Any]] = []
        accepted: list[tuple[int, dict[str, Any]]] = []
        missing_seats: list[str] = []
        for index, record in enumerate(payload["customers"]):
            errors = record_errors(record)
            forced = self._forced_failure(record)
            seat = record.get("belong_seat_user")
            if errors:
                fail_items.append({"index": index, "errorCode": 1002, "errorMessage": "; ".join(errors)})
            elif forced is not None:
                fail_items.append({"index": index, "errorCode": forced[0], "errorMessage": forced[1]})
            elif seat and seat not in self._seats:
                if strict:
                    fail_items.append(
                        {"index": index, "errorCode": 12148, "errorMessage": SEAT_MESSAGE.format(seat=seat)}
                    )
                else:
                    missing_seats.append(seat)
            else:
                accepted.append((index, record))
        if missing_seats:
            raise _RequestError(12148, SEAT_MESSAGE.format(seat=missing_seats[0]))
        success_items = []
        for index, record in accepted:
            customer_id = self._upsert(record, payload["type"])
            stored = self._customers[customer_id]
            success_items.append(
                {"index": index, "customerId": customer_id, "whatsAppPhone": stored.get("whats_app_phone")}
            )
        self._success_items += len(success_items)
        self._fail_items += len(fail_items)
        return {
            "totalCount": len(payload["customers"]),
            "successCount": len(success_items),
            "failCount": len(fail_items),
            "failItems": fail_items,
            "successItems": success_items,
        }

    def _forced_failure(self, record: Mapping[str, Any]) -> tuple[int, str] | None:
        for name in CONTACT_FIELDS:
            value = record.get(name)
            if isinstance(value, str) and value in self.per_record_failures:
                return self.per_record_failures[value]
        return None

    def _upsert(self, record: Mapping[str, Any], kind: int) -> int:
        """Store ``record`` per ``type`` (0 replace, 1 merge non-empty fields, 2 keep old) and return its id."""
        incoming = {k: v for k, v in record.items() if v is not None}
        customer_id = self._find(incoming)
        if customer_id is None:
            customer_id = self._next_id
            self._next_id += 1
            self._store(customer_id, incoming)
        elif kind == 0:
            self._store(customer_id, incoming)
        elif kind == 1:
            merged = dict(self._customers[customer_id])
            merged.update({k: v for k, v in incoming.items() if v != ""})
            self._store(customer_id, merged)
        return customer_id

    def _find(self, record: Mapping[str, Any]) -> int | None:
        for name in CONTACT_FIELDS:
            value = record.get(name)
            if value and (name, value) in self._index:
                return self._index[(name, value)]
        return None

    def _store(self, customer_id: int, record: dict[str, Any]) -> None:
        old = self._customers.get(customer_id, {})
        for name in CONTACT_FIELDS:
            value = old.get(name)
            if isinstance(value, str) and self._index.get((name, value)) == customer_id:
                del self._index[(name, value)]
        self._customers[customer_id] = record
        for name in CONTACT_FIELDS:
            value = record.get(name)
            if value:
                self._index[(name, value)] = customer_id


def _make_fault(kind: str, code: int | None, message: str | None) -> _Fault:
    if kind not in FAULTS:
        raise ValueError(f"unknown fault {kind!r}; known: {', '.join(sorted(FAULTS))}")
    if kind == "code" and code is None:
        raise ValueError("the 'code' fault needs a code")
    return _Fault(kind, code, message)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # stop() must not wait for a request that is hanging on purpose.
    block_on_close = False

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
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
        simulator = self.server.simulator
        if path == PATH:
            answer = simulator._handle_batch_create(dict(self.headers.items()), body)
            if answer.http_status is None:
                # The timeout fault: hold the connection without answering, then drop it.
                simulator._stopping.wait(simulator.hang_seconds)
                self.close_connection = True
                return
            self._send(answer)
        elif path in (FAULTS_PATH, CHAOS_PATH, RESET_PATH):
            self._control(path, body)
        else:
            self._send(_Answer(404, _json({"error": "not found"})))

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == STATE_PATH:
            self._send(_Answer(200, _json(self.server.simulator.state())))
        elif path == PATH:
            self._send(_Answer(405, _json({"error": "method not allowed"}), extra_headers=(("Allow", "POST"),)))
        else:
            self._send(_Answer(404, _json({"error": "not found"})))

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path == FAULTS_PATH:
            self.server.simulator.clear_faults()
            self._send(_Answer(200, _json({"ok": True})))
        else:
            self._send(_Answer(404, _json({"error": "not found"})))

    def _control(self, path: str, body: bytes) -> None:
        simulator = self.server.simulator
        try:
            request = json.loads(body) if body else {}
            if not isinstance(request, dict):
                raise ValueError("the body must be a JSON object")
            if path == FAULTS_PATH:
                simulator.inject(
                    str(request.get("fault")),
                    int(request.get("count", 1)),
                    None if request.get("code") is None else int(request["code"]),
                    request.get("message"),
                )
            elif path == CHAOS_PATH:
                simulator.chaos(
                    int(request["seed"]),
                    {str(k): float(v) for k, v in dict(request["rates"]).items()},
                    None if request.get("code") is None else int(request["code"]),
                )
            else:
                simulator.reset()
        except (ValueError, TypeError, KeyError) as exc:
            self._send(_Answer(400, _json({"error": str(exc)})))
            return
        self._send(_Answer(200, _json({"ok": True})))

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            body = b""
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                self._send(_Answer(411, b"Content-Length required", "text/plain"))
                return None
            return body
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._send(_Answer(413, b"bad or too large Content-Length", "text/plain"))
            return None
        return self.rfile.read(length)

    def _send(self, answer: _Answer) -> None:
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


# --- command line ----------------------------------------------------------------------------------------


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


if __name__ == "__main__":
    sys.exit(main())
