"""PII masking: the one place that decides what a phone, e-mail, name or secret looks like in output."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Customer fields that identify a person. Anything keyed by one of these is masked wherever it is printed.
PII_FIELDS: frozenset[str] = frozenset(
    {
        "full_name",
        "first_name",
        "last_name",
        "name",
        "sms_phone",
        "whats_app_phone",
        "whatsAppPhone",
        "viber_phone",
        "messenger",
        "instagram",
        "zalo",
        "line",
        "email",
        "phone",
        "address",
        "address1",
        "address2",
        "birthday",
        "belong_seat_user",
        "customize_field",
        "remark",
        "note",
    }
)
SECRET_FIELDS: frozenset[str] = frozenset(
    {"accessSecret", "access_secret", "secret", "secrets", "signing_secret", "password", "token", "sign"}
)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DIGITS = re.compile(r"\+?\d[\d\s().-]{5,}\d")
# The shortest text _DIGITS matches: a digit, five more characters of the run, a digit.
_DIGITS_MIN_CHARS = 7
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Log keys Powertools itself writes, and the machine ids the drain logs (SQS message ids, NXCloud trace ids):
# they carry no PII and must stay readable for correlation, even when a UUID holds a phone-like digit run.
STRUCTURAL_KEYS: frozenset[str] = frozenset(
    {
        "messageId",
        "traceId",
        "level",
        "location",
        "timestamp",
        "service",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "sampling_rate",
        "correlation_id",
    }
)
_SECRET_LIKE = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def mask(value: Any) -> str:
    """Mask a PII value, keeping only its length class and last two characters for support look-ups."""
    text = "" if value is None else str(value)
    if len(text) <= 4:
        return "***"
    return "***" + text[-2:]


def scrub_text(text: str) -> str:
    """Mask e-mail addresses, phone-like digit runs and webhook secrets inside free text."""
    # Every string of every log line passes here: skip the patterns whose literal part the text lacks.
    if "@" in text:
        text = _EMAIL.sub(lambda m: mask(m.group(0)), text)
    if "whsec_" in text:
        text = _SECRET_LIKE.sub("***", text)
    # A phone-like run starts with a digit and is at least _DIGITS_MIN_CHARS long: a shorter text (a code, a count)
    # has none, nor has a word of letters only (a stage, a kind).
    if len(text) < _DIGITS_MIN_CHARS or text.isalpha():
        return text
    return _DIGITS.sub(_mask_phone_like, text)


def _mask_phone_like(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = sum(ch.isdigit() for ch in run)
    if digits < 7 or _DATE.fullmatch(run.strip()):
        return run
    return mask(run)


# Values that hold no text to scrub (counts, flags, None): returned as they are unless their key is a PII or secret
# field. Exact types: a subclass (an IntEnum) goes the general way.
_PLAIN: frozenset[type] = frozenset({int, float, bool, type(None)})


def redact(obj: Any, *, _key: str | None = None) -> Any:
    """Return a copy of ``obj`` with PII values masked and secrets removed, recursively."""
    if _key is not None:
        if _key in STRUCTURAL_KEYS:
            return obj
        if _key in SECRET_FIELDS:
            return "***"
        if _key in PII_FIELDS and obj is not None and not isinstance(obj, Mapping | list):
            return mask(obj)
    # The exact built-in types first (a log line holds little else), without the Mapping check's ABC machinery.
    kind = type(obj)
    if kind is str:
        return scrub_text(obj)
    if kind in _PLAIN:
        return obj
    if kind is dict:
        return redact_fields(obj)
    if kind is list:
        return [redact(v, _key=_key) for v in obj]
    if isinstance(obj, Mapping):
        return {k: redact(v, _key=str(k)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact(v, _key=_key) for v in obj]
    if isinstance(obj, str):
        return scrub_text(obj)
    return obj


_SENSITIVE_FIELDS: frozenset[str] = PII_FIELDS | SECRET_FIELDS


def redact_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``redact(fields)`` of a mapping (a log line's keys, or a dict inside one), with its common cases inline (a
    call per key saved): a structural key's value as it is, a string scrubbed, a count or a flag as it is."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        name = key if type(key) is str else str(key)
        if name in STRUCTURAL_KEYS:
            out[key] = value
        elif name in _SENSITIVE_FIELDS:
            out[key] = redact(value, _key=name)
        elif type(value) is str:
            out[key] = scrub_text(value)
        elif type(value) in _PLAIN:
            out[key] = value
        elif type(value) is list:
            # A list of entries (the dead letters of a batch): each dict redacted as redact would, without the call.
            out[key] = [redact_fields(v) if type(v) is dict else redact(v, _key=name) for v in value]
        else:
            out[key] = redact(value, _key=name)
    return out
