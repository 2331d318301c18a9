"""Signature verifiers, checked against published vectors (Standard Webhooks spec, RFC-style HMAC example)."""

from __future__ import annotations

import datetime as dt

import pytest

from nxbridge.sources.verify import base64_hmac, matches_base64_hmac, standard_signature, verify_standard

# The Standard Webhooks reference test vector (libraries/python/tests/test_webhooks.py::test_sign_function).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_PAYLOAD = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SPEC_TIME = dt.datetime.fromtimestamp(SPEC_TIMESTAMP, dt.UTC)

# HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog") = f7bc83f4...3cd8 (the well-known example).
FOX = b"The quick brown fox jumps over the lazy dog"
FOX_BASE64 = "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="


def spec_headers(signature: str = SPEC_SIGNATURE, **overrides: str) -> dict[str, str]:
    headers = {"webhook-id": SPEC_MSG_ID, "webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": signature}
    headers.update(overrides)
    return headers


def test_signing_the_spec_vector_gives_the_published_signature() -> None:
    assert standard_signature(SPEC_SECRET, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_PAYLOAD) == SPEC_SIGNATURE


def test_the_spec_vector_verifies_at_its_own_timestamp() -> None:
    assert verify_standard(spec_headers(), SPEC_PAYLOAD, [SPEC_SECRET], now=SPEC_TIME, tolerance_seconds=300)


def test_a_secret_without_the_whsec_prefix_verifies_too() -> None:
    bare = SPEC_SECRET.removeprefix("whsec_")

    assert verify_standard(spec_headers(), SPEC_PAYLOAD, [bare], now=SPEC_TIME, tolerance_seconds=300)


def test_one_valid_v1_signature_among_others_is_enough() -> None:
    listed = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==",
            "garbage",
            SPEC_SIGNATURE,
        ]
    )

    assert verify_standard(spec_headers(listed), SPEC_PAYLOAD, [SPEC_SECRET], now=SPEC_TIME, tolerance_seconds=300)


def test_the_published_invalid_signature_is_rejected() -> None:
    invalid = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="

    assert not verify_standard(spec_headers(invalid), SPEC_PAYLOAD, [SPEC_SECRET], now=SPEC_TIME, tolerance_seconds=300)


@pytest.mark.parametrize(("skew", "accepted"), [(-301, False), (-300, True), (0, True), (300, True), (301, False)])
def test_the_timestamp_must_be_within_five_minutes_in_either_direction(skew: int, accepted: bool) -> None:
    now = SPEC_TIME + dt.timedelta(seconds=-skew)

    assert verify_standard(spec_headers(), SPEC_PAYLOAD, [SPEC_SECRET], now=now, tolerance_seconds=300) is accepted


@pytest.mark.parametrize(
    "headers",
    [
        {"webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": SPEC_SIGNATURE},
        {"webhook-id": SPEC_MSG_ID, "webhook-signature": SPEC_SIGNATURE},
        {"webhook-id": SPEC_MSG_ID, "webhook-timestamp": str(SPEC_TIMESTAMP)},
        spec_headers(**{"webhook-timestamp": "hello"}),
        spec_headers(**{"webhook-timestamp": "1614265330.5"}),
        spec_headers(**{"webhook-id": "msg_other"}),
    ],
    ids=["no-id", "no-timestamp", "no-signature", "timestamp-not-a-number", "timestamp-not-an-integer", "other-id"],
)
def test_incomplete_or_altered_standard_headers_are_rejected(headers: dict[str, str]) -> None:
    assert not verify_standard(headers, SPEC_PAYLOAD, [SPEC_SECRET], now=SPEC_TIME, tolerance_seconds=300)


def test_a_rotation_accepts_the_old_and_the_new_standard_secret() -> None:
    new = "whsec_" + "bmV3LXNlY3JldC1rZXktZm9yLXJvdGF0aW9uLTAx"

    for signed_with in (SPEC_SECRET, new):
        signature = standard_signature(signed_with, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_PAYLOAD)
        assert verify_standard(
            spec_headers(signature), SPEC_PAYLOAD, [new, SPEC_SECRET], now=SPEC_TIME, tolerance_seconds=300
        )


def test_a_secret_that_is_not_base64_never_verifies() -> None:
    assert not verify_standard(spec_headers(), SPEC_PAYLOAD, ["whsec_!!!"], now=SPEC_TIME, tolerance_seconds=300)


def test_base64_hmac_matches_the_well_known_example() -> None:
    assert base64_hmac("key", FOX) == FOX_BASE64
    assert matches_base64_hmac(FOX_BASE64, FOX, ["key"])


@pytest.mark.parametrize(
    "signature",
    [None, "", "not base64!", FOX_BASE64[:-4], "sha256=" + FOX_BASE64],
    ids=["none", "empty", "junk", "cut", "prefixed"],
)
def test_missing_or_wrong_base64_signatures_are_rejected(signature: str | None) -> None:
    assert not matches_base64_hmac(signature, FOX, ["key"])


def test_a_prefixed_signature_needs_its_prefix() -> None:
    assert matches_base64_hmac("sha256=" + FOX_BASE64, FOX, ["key"], prefix="sha256=")
    assert not matches_base64_hmac(FOX_BASE64, FOX, ["key"], prefix="sha256=")


def test_any_of_the_listed_secrets_verifies_a_base64_signature() -> None:
    assert matches_base64_hmac(FOX_BASE64, FOX, ["new-secret", "key"])
    assert not matches_base64_hmac(FOX_BASE64, FOX, ["new-secret"])
    assert not matches_base64_hmac(FOX_BASE64, FOX, [])
