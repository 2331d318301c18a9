"""PII and secrets never reach a log line: the redacting formatter masks them wherever they appear."""

from __future__ import annotations

import enum
import io
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord

from nxbridge.observability import RedactingFormatter
from nxbridge.redact import PII_FIELDS, SECRET_FIELDS, STRUCTURAL_KEYS, mask, redact, redact_fields, scrub_text


def test_mask_keeps_only_the_last_two_characters() -> None:
    assert mask("8618163725558") == "***58"
    assert mask("abc") == "***"


def test_redact_masks_pii_keys_and_removes_secrets_recursively() -> None:
    out = redact(
        {"customer": {"full_name": "Zhang San", "sms_phone": "8618163725558"}, "accessSecret": "s3cr3t", "count": 3}
    )
    assert out == {"customer": {"full_name": "***an", "sms_phone": "***58"}, "accessSecret": "***", "count": 3}


def test_free_text_loses_emails_phones_and_webhook_secrets_but_keeps_dates() -> None:
    text = scrub_text(
        "from zhang.san@example.com tel +86 181-6372-5558 key whsec_MfKQ9r8GKYqrTwjUPD8ILPZI on 2026-11-25"
    )
    assert "zhang.san" not in text
    assert "6372" not in text
    assert "whsec_" not in text
    assert "2026-11-25" in text


def test_logger_output_contains_no_pii_from_message_or_extras() -> None:
    stream = io.StringIO()
    log = Logger(service="redact-test", logger_formatter=RedactingFormatter(), stream=stream)
    log.info("customer zhang.san@example.com queued", extra={"email": "zhang.san@example.com", "queued": 1})
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert "zhang.san" not in stream.getvalue()
    assert line["queued"] == 1
    assert line["level"] == "INFO"
    logging.getLogger("redact-test").handlers.clear()


def test_numbers_are_masked_under_pii_and_secret_keys_and_kept_elsewhere() -> None:
    out = redact({"phone": 8618163725558, "token": 12345, "customerId": 1214631327620775936, "ok": True, "n": 1.5})
    assert out == {"phone": "***58", "token": "***", "customerId": 1214631327620775936, "ok": True, "n": 1.5}


def test_free_text_without_at_sign_still_loses_phone_numbers() -> None:
    assert "6372" not in scrub_text("call +86 181-6372-5558 today")


class _ReferenceFormatter(LambdaPowertoolsFormatter):
    """Powertools' own formatter with the redaction the package promises: what RedactingFormatter must write."""

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        return super().serialize(redact(dict(log)))


def _record(msg: object, created: float, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("nxbridge", logging.WARNING, "/x/drain.py", 42, msg, None, None, "rejected_letter")
    record.created, record.msecs = created, (created - int(created)) * 1000
    record.__dict__.update(extra)
    return record


def test_redacting_formatter_writes_what_powertools_formatter_and_redact_write() -> None:
    fast, reference = RedactingFormatter(), _ReferenceFormatter()
    for formatter in (fast, reference):
        formatter.append_keys(service="nxbridge", function_request_id="req-1")
    records = [
        _record("customer rejected", 1_764_640_000.123, messageId="m-1", errorCode="2001", traceId="t 8618163725558"),
        _record("customer rejected", 1_764_640_000.999, note="zhang.san@example.com", attempts=3, codes=["a", 1]),
        _record("customer rejected", 1_764_640_001.5, customer={"full_name": "Zhang San", "phone": 8618163725558}),
        _record('{"json": "message", "phone": "+86 181-6372-5558"}', 1_764_640_002.0, accessSecret="s"),
        _record(" [1, 2]", 1_764_640_002.25),
        _record("not json, starts like null", 1_764_640_002.5, level_hint=None),
        _record({"a": "dict message", "email": "x@example.com"}, 1_764_640_003.0),
    ]
    for record in records:
        assert fast.format(record) == reference.format(record)


def test_redacting_formatter_keeps_powertools_behaviour_for_custom_templates_and_date_formats() -> None:
    fast = RedactingFormatter(datefmt="%H:%M:%S.%F", log_record_order=["message", "level"])
    reference = _ReferenceFormatter(datefmt="%H:%M:%S.%F", log_record_order=["message", "level"])
    for formatter in (fast, reference):
        formatter.append_keys(location="%(module)s/%(funcName)s")
    record = _record("customer rejected", 1_764_640_000.5, messageId="m-1")
    assert fast.format(record) == reference.format(record)
    assert json.loads(fast.format(record))["location"] == "drain/rejected_letter"


_REFERENCE_ATOMS: frozenset[type] = frozenset({int, float, bool})


def _reference_redact(obj: Any, *, _key: str | None = None) -> Any:
    """The plain recursive walk ``redact`` and ``redact_fields`` must equal (their fast paths are shortcuts of it)."""
    if _key in STRUCTURAL_KEYS:
        return obj
    if _key in SECRET_FIELDS:
        return "***"
    if _key in PII_FIELDS and obj is not None and not isinstance(obj, Mapping | list):
        return mask(obj)
    if obj is None or type(obj) in _REFERENCE_ATOMS:
        return obj
    if isinstance(obj, Mapping):
        return {k: _reference_redact(v, _key=str(k)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_reference_redact(v, _key=_key) for v in obj]
    if isinstance(obj, str):
        return _reference_scrub(obj)
    return obj


def _reference_scrub(text: str) -> str:
    """``scrub_text`` without its shortcuts: every pattern run on every text."""
    text = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", lambda m: mask(m.group(0)), text)
    text = re.sub(r"whsec_[A-Za-z0-9+/=]+", "***", text)

    def phone_like(match: re.Match[str]) -> str:
        run = match.group(0)
        if sum(ch.isdigit() for ch in run) < 7 or re.fullmatch(r"\d{4}-\d{2}-\d{2}", run.strip()):
            return run
        return mask(run)

    return re.sub(r"\+?\d[\d\s().-]{5,}\d", phone_like, text)


class _Code(enum.StrEnum):
    RETRYABLE = "retryable"


class _Level(enum.IntEnum):
    HIGH = 3


def _batch_line(**dead_letter: object) -> dict[str, Any]:
    """A ``batch drained`` line as the formatter gets it, with one dead letter made of ``dead_letter``."""
    return {
        "level": "WARNING",
        "location": "record_outcome:35",
        "message": "batch drained",
        "timestamp": "2026-12-02 06:47:20,066+0000",
        "service": "nxbridge",
        "synced": 95,
        "deadLettered": 2,
        "halted": None,
        "traceId": "b8f1c2d3e4f5a6b7",
        "deadLetters": [
            {"messageId": "4f6e3c2a-0d1b-4c8e-9a7f-000000000003", "stage": "nxcloud", "errorCode": "1002"},
            dead_letter,
        ],
    }


_CORPUS: list[Any] = [
    _batch_line(messageId="m-2", stage="bisect", errorCode="12148", traceId="t-1"),
    _batch_line(messageId="m-3", stage="decode", errorCode="unknown_version"),
    # What must never pass: PII in a dead letter's values or under a PII key inside the list.
    _batch_line(messageId="m-4", stage="nxcloud", errorCode="8618163725558"),
    _batch_line(stage="zhang.san@example.com", errorCode="+86 181-6372-5558", full_name="Zhang San"),
    _batch_line(email="zhang.san@example.com", phone=8618163725558, note=["call 8618163725558"], token="t0k3n"),
    _batch_line(errorCode="whsec_MfKQ9r8GKYqrTwjUPD8ILPZI", stage="nxcloud 2026-11-25", customer={"name": "Li Si"}),
    {"customer": {"full_name": "Zhang San", "sms_phone": "8618163725558", "tags": ("vip", "+86 181 6372 5558")}},
    {"records": [[{"email": "a.b@example.com"}], ("x", 1, None)], "codes": {"7": "8618163725558", 3: "ok"}},
    {"phone": None, "secret": None, "name": ["Zhang San"], "address": {"line": "Road 1"}, "count": 0.5},
    {"kind": _Code.RETRYABLE, "level_hint": _Level.HIGH, "flag": True, "n": 12, "word": "Zhangsan"},
    {"short": "123456", "seven": "1234567", "letters": "abcdefghij", "spaced": "181 6372 5558"},
    ["zhang.san@example.com", {"remark": "anything"}, 8618163725558, "plain"],
    "free text zhang.san@example.com +86 181-6372-5558",
    8618163725558,
    None,
]


@pytest.mark.parametrize("value", _CORPUS)
def test_the_fast_walk_writes_what_the_plain_walk_writes(value: Any) -> None:
    assert redact(value) == _reference_redact(value)
    if isinstance(value, dict):
        assert redact_fields(value) == _reference_redact(value)
    for key in ("deadLetters", "email", "messageId", "token", None):
        assert redact(value, _key=key) == _reference_redact(value, _key=key)


def test_scrub_text_shortcuts_change_no_text() -> None:
    texts = ["", "1002", "12148", "123456", "1234567", "nxcloud", "decode", "unknown_version", "http_503", "+861816"]
    texts += ["181 6372 5558", "Zhangsan", "ZhangSan8618163725558", "a@b.co", "whsec_abc", "2026-11-25", "éèà1234567"]
    for text in texts:
        assert scrub_text(text) == _reference_scrub(text), text


def test_pii_inside_the_dead_letters_of_a_batch_line_stays_masked() -> None:
    stream = io.StringIO()
    log = Logger(service="redact-test-batch", logger_formatter=RedactingFormatter(), stream=stream)
    line = _batch_line(stage="zhang.san@example.com", errorCode="+86 181-6372-5558", full_name="Zhang San")
    dead_letters = line.pop("deadLetters")
    log.warning("batch drained", extra={"synced": 95, "deadLetters": dead_letters, "token": "t0k3n"})
    output = stream.getvalue()
    logging.getLogger("redact-test-batch").handlers.clear()
    for secret in ("zhang.san", "6372", "Zhang San", "t0k3n"):
        assert secret not in output
    written = json.loads(output.splitlines()[-1])
    assert written["deadLetters"][0] == {
        "messageId": "4f6e3c2a-0d1b-4c8e-9a7f-000000000003",
        "stage": "nxcloud",
        "errorCode": "1002",
    }
    assert written["deadLetters"][1] == {"stage": "***om", "errorCode": "***58", "full_name": "***an"}
    assert (written["synced"], written["token"]) == (95, "***")
