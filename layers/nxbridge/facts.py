"""Facts the code, the template checks and the docs share, each stated once: limits, timeouts, schedules, names.

A value here is read by the code that applies it; ``tests/unit/test_facts.py`` checks that ``template.yaml`` and
the docs agree with it, so that no copy can drift.
"""

from __future__ import annotations

from typing import Literal, get_args

from nxbridge.record import Record

# --- NXCloud (docs/nxcloud-contract.md) ---
NXCLOUD_DEFAULT_BASE_URL = "https://api-hk.nxlink.ai"
NXCLOUD_PATH = "/saas/cdp/openapi/customers/batch_create"
# "customers: 1..100 per request".
NXCLOUD_MAX_CUSTOMERS = 100
# NXCloud refuses a ts more than 60 s away from its clock.
NXCLOUD_MAX_CLOCK_SKEW_SECONDS = 60
# requests' convention: a connect timeout a little over a multiple of 3 s (the TCP retransmission window).
NXCLOUD_CONNECT_TIMEOUT_SECONDS = 3.05
NXCLOUD_READ_TIMEOUT_SECONDS = 10.0
# Tries of one NXCloud call for a passing failure, inside the drain's deadline.
NXCLOUD_MAX_ATTEMPTS = 4


# --- webhook senders ---
class RetrySchedule(Record):
    """How a sender retries a delivery it did not get a 2xx for: how many times, over how long."""

    retries: int
    window_seconds: int
    summary: str


PROVIDER_RETRIES: dict[str, RetrySchedule] = {
    # Shopify: a delivery not answered 2xx within 5 s is retried 8 times over the next 4 hours.
    "shopify": RetrySchedule(8, 4 * 3600, "8 retries over 4 hours"),
    # The Standard Webhooks reference sender (Svix): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    "standard": RetrySchedule(7, 5 + 300 + 1800 + 7200 + 18000 + 36000 + 36000, "7 retries over about 27.6 hours"),
}
# Shopify drops a delivery that is not answered within 5 s; the other senders wait longer.
SENDER_TIMEOUT_SECONDS = 5
# Delivery dedupe records outlive the longest retry window above, with a margin for manual re-sends.
IDEMPOTENCY_TTL_SECONDS = 72 * 3600

# --- the source kinds an endpoint can be ---
SourceKind = Literal["shopify", "woocommerce", "typeform", "tally", "standard", "form", "nxcloud"]
SOURCE_KINDS: tuple[SourceKind, ...] = get_args(SourceKind)

# --- where a record can fail (the DLQ record's ``stage``) ---
Stage = Literal["decode", "nxcloud", "bisect", "config", "redrive", "replay"]
STAGES: tuple[Stage, ...] = get_args(Stage)

# --- replay ---
# A record replayed this many times is refused unless the operator forces it (a loop guard).
MAX_REPLAYS = 3
