"""Senders built on Svix sign with svix-id / svix-timestamp / svix-signature: accepted like the webhook-* names."""

from __future__ import annotations

import datetime as dt

import pytest

from nxbridge.sources import source_for
from tests.fixtures.ingest import endpoint_config, webhook_request

# The Standard Webhooks spec's test vector.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
AT_SIGNING = dt.datetime.fromtimestamp(TIMESTAMP, dt.UTC)


def svix_headers(signature: str = SIGNATURE) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "svix-id": MSG_ID,
        "svix-timestamp": str(TIMESTAMP),
        "svix-signature": signature,
    }


@pytest.mark.parametrize("kind", ["standard", "nxcloud"])
def test_the_spec_vector_under_svix_names_verifies_and_gives_the_delivery_id(kind: str) -> None:
    source, config = source_for(kind), endpoint_config(kind)
    request = webhook_request(BODY, svix_headers())

    assert source.verify(request, [SECRET], config, AT_SIGNING) is True
    assert source.delivery_id(request, None, config) == MSG_ID


@pytest.mark.parametrize("kind", ["standard", "nxcloud"])
def test_a_wrong_or_stale_svix_signature_is_refused(kind: str) -> None:
    source, config = source_for(kind), endpoint_config(kind)
    wrong = webhook_request(BODY, svix_headers("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
    genuine = webhook_request(BODY, svix_headers())

    assert source.verify(wrong, [SECRET], config, AT_SIGNING) is False
    assert source.verify(genuine, [SECRET], config, AT_SIGNING + dt.timedelta(seconds=301)) is False


def test_the_webhook_names_win_when_both_are_sent() -> None:
    source, config = source_for("standard"), endpoint_config("standard")
    headers = {**svix_headers(), "webhook-id": "msg_from_webhook_header", "svix-id": "msg_from_svix_header"}

    assert source.delivery_id(webhook_request(BODY, headers), None, config) == "msg_from_webhook_header"
