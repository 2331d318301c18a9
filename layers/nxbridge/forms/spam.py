"""Spam defences of a form endpoint that cost the visitor nothing: a honeypot field and a minimum fill time.

The fill time is proven by a *fill token*, ``<unix seconds>.<hex HMAC-SHA256(key, "<endpoint>.<unix seconds>")>``,
that the page carries in a hidden field: the bridge issues one at ``GET /webhooks/{endpoint}/token``, or the
site's own server computes it with the same key (one line of PHP, Node or Python; see docs/forms.md). A post is
screened in this order: a filled honeypot, then the token (missing, forged, too young, too old).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from nxbridge.forms.options import FormOptions
from nxbridge.sources.form import FormData, is_filled

# A site server's clock may run a little ahead of AWS's: a token that young still counts as just issued.
CLOCK_SKEW_SECONDS = 30
_TOKEN = re.compile(r"(\d{1,12})\.([0-9a-f]{64})")


class SpamReason(StrEnum):
    """Why a post was held back; the ``reason`` dimension of the WebhooksRejected metric."""

    HONEYPOT = "honeypot"
    FILL_TIME_MISSING = "fill_time_missing"
    FILL_TIME_INVALID = "fill_time_invalid"
    TOO_FAST = "fill_time_too_fast"
    EXPIRED = "fill_time_expired"


@dataclass(frozen=True)
class Spam:
    """A post held back: ``silent`` ones are answered like a success (only a bot fills a hidden field)."""

    reason: SpamReason

    @property
    def silent(self) -> bool:
        """Whether the sender is told the post was accepted."""
        return self.reason is SpamReason.HONEYPOT


def issue_fill_token(key: str, endpoint: str, at: dt.datetime) -> str:
    """The fill token for a page of ``endpoint`` shown at ``at``."""
    issued = int(at.timestamp())
    return f"{issued}.{_mac(key, endpoint, issued)}"


def check_fill_token(
    token: str | None, keys: Sequence[str], endpoint: str, now: dt.datetime, options: FormOptions
) -> SpamReason | None:
    """None when ``token`` was signed with one of ``keys`` for ``endpoint`` and is old enough and young enough."""
    if not token:
        return SpamReason.FILL_TIME_MISSING
    match = _TOKEN.fullmatch(token.strip())
    if match is None:
        return SpamReason.FILL_TIME_INVALID
    issued, received = int(match[1]), match[2]
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(received, _mac(key, endpoint, issued))
    age = now.timestamp() - issued
    if not matched or age < -CLOCK_SKEW_SECONDS:
        return SpamReason.FILL_TIME_INVALID
    if options.min_fill_seconds is not None and age < options.min_fill_seconds:
        return SpamReason.TOO_FAST
    if age > options.fill_token_max_age_seconds:
        return SpamReason.EXPIRED
    return None


def screen(
    form: FormData, options: FormOptions, endpoint: str, now: dt.datetime, keys: Callable[[], Sequence[str]]
) -> Spam | None:
    """Why this post is spam, or None; ``keys`` (the fill-token keys) is called only when the fill time is checked."""
    if options.honeypot_field is not None and is_filled(form.get(options.honeypot_field)):
        return Spam(SpamReason.HONEYPOT)
    if options.min_fill_seconds is None:
        return None
    reason = check_fill_token(fill_token_of(form, options), keys(), endpoint, now, options)
    return None if reason is None else Spam(reason)


def fill_token_of(form: FormData, options: FormOptions) -> str | None:
    """The fill token the post carries (the first one, should the field be repeated)."""
    value = form.get(options.fill_token_field)
    return value if isinstance(value, str) or value is None else (value[0] if value else None)


def _mac(key: str, endpoint: str, issued: int) -> str:
    return hmac.new(key.encode("utf-8"), f"{endpoint}.{issued}".encode(), hashlib.sha256).hexdigest()
