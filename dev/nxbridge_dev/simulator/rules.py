"""The contract's request rules (docs/nxcloud-contract.md), written out with hashlib and json.

Headers, the signature, the body and every customer field are checked here as NXCloud checks them, in its order.
Nothing is imported from ``nxbridge.contract`` or ``nxbridge.nxcloud``: these rules referee them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

PATH = "/saas/cdp/openapi/customers/batch_create"

TS_WINDOW_MS = 60_000
MAX_CUSTOMERS = 100

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


class RequestError(Exception):
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


def check_request(
    headers: Mapping[str, str],
    body: bytes,
    *,
    access_key: str,
    access_secret: str,
    tenant_id: int,
    app_key: str,
    clock: Callable[[], float],
) -> dict[str, Any]:
    """The whole-request checks in NXCloud's order (``headers`` keys lowercased, ``clock`` in seconds); the body,
    or a RequestError."""
    missing = [name for name in REQUIRED_HEADERS if not headers.get(name.lower())]
    if missing:
        raise RequestError(1001, "Missing public parameters: " + ", ".join(missing))
    sent_key, ts = headers["accesskey"], headers["ts"]
    biz_type, action, sign = headers["biztype"], headers["action"], headers["sign"]
    if sent_key != access_key:
        raise RequestError(1005, "Insufficient permissions: unknown accessKey")
    if biz_type != "2" or action != "mt":
        raise RequestError(1002, 'Parameter error: bizType must be "2" and action "mt"')
    now_ms = round(clock() * 1000)
    if not _TS.fullmatch(ts) or abs(now_ms - int(ts)) > TS_WINDOW_MS:
        raise RequestError(1004, "Timestamp expired: ts must be Unix milliseconds within 60 s of now")
    expected = expected_sign(sent_key, ts, body, access_secret, biz_type=biz_type, action=action)
    if not hmac.compare_digest(expected.encode(), sign.encode()):
        raise RequestError(1003, "Invalid signature")
    payload = parse_body(body)
    if payload["tenant_id"] != tenant_id or payload["app_key"] != app_key:
        raise RequestError(1005, "Insufficient permissions: tenant_id or app_key is not this account's")
    return payload


def parse_body(body: bytes) -> dict[str, Any]:
    """The batch body, or a 1002 naming the first broken rule."""
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise RequestError(1002, "Parameter error: the body is not UTF-8 JSON") from None
    if not isinstance(payload, dict):
        raise RequestError(1002, "Parameter error: the body must be a JSON object")
    kind = payload.get("type")
    if type(kind) is not int or kind not in (0, 1, 2):
        raise RequestError(1002, "Parameter error: type must be 0, 1 or 2")
    if type(payload.get("tenant_id")) is not int:
        raise RequestError(1002, "Parameter error: tenant_id must be an integer")
    app_key = payload.get("app_key")
    if not isinstance(app_key, str) or not app_key:
        raise RequestError(1002, "Parameter error: app_key is required")
    customers = payload.get("customers")
    if (
        not isinstance(customers, list)
        or not 1 <= len(customers) <= MAX_CUSTOMERS
        or not all(isinstance(c, dict) for c in customers)
    ):
        raise RequestError(1002, f"Parameter error: customers must hold 1 to {MAX_CUSTOMERS} objects")
    strict = payload.get("strict_binding")
    if strict is not None and not isinstance(strict, bool):
        raise RequestError(1002, "Parameter error: strict_binding must be a boolean")
    return payload
