"""PII and secrets never reach a log line: the redacting formatter masks them wherever they appear."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord

from nxbridge.observability import RedactingFormatter
from nxbridge.redact import mask, redact, scrub_text


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
