"""What the simulator holds: the account's seats, the customers it stored (upserted by contact), and every call."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nxbridge_dev.simulator.rules import CONTACT_FIELDS, SEAT_MESSAGE, RequestError, record_errors

# The page's example ids: above 2**53, so a client that parses them as floats loses digits.
FIRST_CUSTOMER_ID = 1214631327620775936


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


def customer_count(body: bytes) -> int | None:
    """How many customers ``body`` holds, read leniently for the call log; None when it has no list."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    customers = payload.get("customers") if isinstance(payload, dict) else None
    return len(customers) if isinstance(customers, list) else None


class Store:
    """Seats, customers and calls of one account, with their counters (not thread-safe: the caller locks)."""

    def __init__(self, seats: Iterable[str]) -> None:
        self.seats = set(seats)
        self.calls: list[Call] = []
        self.customers: dict[int, dict[str, Any]] = {}
        self._index: dict[tuple[str, str], int] = {}
        self._next_id = FIRST_CUSTOMER_ID
        self._ok = 0
        self._unanswered = 0
        self._garbled = 0
        self._success_items = 0
        self._fail_items = 0
        self._by_code: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()

    def record(self, call: Call) -> None:
        """Log ``call`` and count its outcome."""
        self.calls.append(call)
        if call.http_status is None:
            self._unanswered += 1
        elif call.http_status != 200:
            self._by_status[str(call.http_status)] += 1
        elif call.code == 0:
            self._ok += 1
        elif call.code is not None:
            self._by_code[str(call.code)] += 1
        else:
            self._garbled += 1

    def stats(self) -> dict[str, Any]:
        """Counters of the calls and of what was stored."""
        return {
            "calls": len(self.calls),
            "ok": self._ok,
            "failed_by_code": dict(self._by_code),
            "failed_by_http_status": dict(self._by_status),
            "unanswered": self._unanswered,
            "garbled": self._garbled,
            "stored": len(self.customers),
            "success_items": self._success_items,
            "fail_items": self._fail_items,
        }

    def apply(self, payload: Mapping[str, Any], forced: Mapping[str, tuple[int, str]]) -> dict[str, Any]:
        """Check each record of a valid batch and store the good ones; the answer's ``data``, or a 12148.

        ``forced`` maps a contact value to the (errorCode, errorMessage) its record fails with.
        """
        strict = payload.get("strict_binding") is True
        fail_items: list[dict[str, Any]] = []
        accepted: list[tuple[int, dict[str, Any]]] = []
        missing_seats: list[str] = []
        for index, record in enumerate(payload["customers"]):
            errors = record_errors(record)
            failure = _forced_failure(record, forced)
            seat = record.get("belong_seat_user")
            if errors:
                fail_items.append({"index": index, "errorCode": 1002, "errorMessage": "; ".join(errors)})
            elif failure is not None:
                fail_items.append({"index": index, "errorCode": failure[0], "errorMessage": failure[1]})
            elif seat and seat not in self.seats:
                if strict:
                    fail_items.append(
                        {"index": index, "errorCode": 12148, "errorMessage": SEAT_MESSAGE.format(seat=seat)}
                    )
                else:
                    missing_seats.append(seat)
            else:
                accepted.append((index, record))
        if missing_seats:
            raise RequestError(12148, SEAT_MESSAGE.format(seat=missing_seats[0]))
        success_items = []
        for index, record in accepted:
            customer_id = self._upsert(record, payload["type"])
            stored = self.customers[customer_id]
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
            merged = dict(self.customers[customer_id])
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
        old = self.customers.get(customer_id, {})
        for name in CONTACT_FIELDS:
            value = old.get(name)
            if isinstance(value, str) and self._index.get((name, value)) == customer_id:
                del self._index[(name, value)]
        self.customers[customer_id] = record
        for name in CONTACT_FIELDS:
            value = record.get(name)
            if value:
                self._index[(name, value)] = customer_id


def _forced_failure(record: Mapping[str, Any], forced: Mapping[str, tuple[int, str]]) -> tuple[int, str] | None:
    for name in CONTACT_FIELDS:
        value = record.get(name)
        if isinstance(value, str) and value in forced:
            return forced[value]
    return None
