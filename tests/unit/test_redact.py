"""PII and secrets never reach a log line: the redacting formatter masks them wherever they appear."""

from __future__ import annotations

import io
import json
import logging

from aws_lambda_powertools import Logger

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
