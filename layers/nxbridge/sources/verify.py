"""Signature schemes the sources share: base64 HMAC-SHA256 of the raw body, and Standard Webhooks.

Pure functions of (headers, body bytes, secrets, clock); every comparison is constant-time, and every accepted
secret is tried so that a rotation (old and new secret side by side) never rejects a genuine delivery.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

STANDARD_SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
# Senders built on Svix send the same three headers under svix-* names; the spec's names come first.
STANDARD_ID_HEADERS = ("webhook-id", "svix-id")
STANDARD_TIMESTAMP_HEADERS = ("webhook-timestamp", "svix-timestamp")
STANDARD_SIGNATURE_HEADERS = ("webhook-signature", "svix-signature")
_TIMESTAMP = re.compile(r"\d{1,12}")


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """The raw HMAC-SHA256 digest."""
    return hmac.new(key, message, hashlib.sha256).digest()


def base64_hmac(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, body)): what Shopify, WooCommerce, Typeform and Tally send."""
    return base64.b64encode(hmac_sha256(secret.encode("utf-8"), body)).decode("ascii")


def _decode_base64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def matches_base64_hmac(signature: str | None, body: bytes, secrets: Sequence[str], *, prefix: str = "") -> bool:
    """Whether ``signature`` (``prefix`` + base64 digest) is the HMAC-SHA256 of ``body`` under one of ``secrets``."""
    if signature is None or not signature.startswith(prefix):
        return False
    received = _decode_base64(signature[len(prefix) :])
    if received is None:
        return False
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(received, hmac_sha256(secret.encode("utf-8"), body))
    return matched


def first_header(headers: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The value of the first of ``names`` (lower-case) present in ``headers``."""
    return next((headers[name] for name in names if name in headers), None)


def standard_key(secret: str) -> bytes | None:
    """The HMAC key of a Standard Webhooks secret (``whsec_`` + base64), or None when it is not one."""
    encoded = secret.removeprefix(STANDARD_SECRET_PREFIX)
    try:
        # Like the reference implementation: tolerate unpadded base64.
        key = base64.b64decode(encoded + "==")
    except (binascii.Error, ValueError):
        return None
    return key or None


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of ``{msg_id}.{timestamp}.{body}`` (for senders, samples and tests)."""
    key = standard_key(secret)
    if key is None:
        raise ValueError("not a Standard Webhooks secret (whsec_ + base64)")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac_sha256(key, signed)).decode("ascii")


def verify_standard(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: dt.datetime,
    tolerance_seconds: int,
) -> bool:
    """Standard Webhooks verification: webhook-id, webhook-timestamp within tolerance (both directions), and one
    ``v1`` signature of the space-separated webhook-signature list matching one of ``secrets`` (svix-* names too)."""
    msg_id = first_header(headers, STANDARD_ID_HEADERS)
    timestamp = first_header(headers, STANDARD_TIMESTAMP_HEADERS)
    signatures = first_header(headers, STANDARD_SIGNATURE_HEADERS)
    if not msg_id or not timestamp or not signatures or not _TIMESTAMP.fullmatch(timestamp.strip()):
        return False
    sent_at = int(timestamp.strip())
    if abs(now.timestamp() - sent_at) > tolerance_seconds:
        return False
    signed = f"{msg_id}.{sent_at}.".encode() + body
    expected = [hmac_sha256(key, signed) for key in (standard_key(s) for s in secrets) if key is not None]
    matched = False
    for versioned in signatures.split():
        version, _, encoded = versioned.partition(",")
        received = _decode_base64(encoded) if version == "v1" else None
        if received is None:
            continue
        for digest in expected:
            matched |= hmac.compare_digest(received, digest)
    return matched
