"""Newest wins, the pure part: identities, coalescing, what a release writes, what a watermark says, event times."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from nxbridge.contract import Customer, validate_customer
from nxbridge.envelope import Envelope
from nxbridge.ordering import (
    Granted,
    Watermark,
    Watermarks,
    coalesce,
    customer_identity,
    from_micros,
    identities_of,
    identity_hash,
    micros,
    release_for,
)
from nxbridge.sources.base import event_time

T = dt.datetime(2025, 6, 2, 10, 0, tzinfo=dt.UTC)


def customer(**fields: str) -> Customer:
    return validate_customer({"full_name": "Jane Quokka", **fields})


def test_the_sources_own_id_names_the_customer_before_its_e_mail_and_phone() -> None:
    jane = customer(email="Jane.Quokka@Example.com", whats_app_phone="+44 7700 900123")

    assert customer_identity("shopify-eu", "706405506930370084", jane) == "shopify-eu:id:706405506930370084"
    assert customer_identity("form", None, jane) == "email:jane.quokka@example.com"
    assert customer_identity("form", None, customer(sms_phone="+44 7700 900123")) == "phone:447700900123"
    assert customer_identity("form", None, customer(line="jane_q")) is None


def test_an_envelope_is_known_by_its_identity_its_e_mail_and_each_phone() -> None:
    envelope = Envelope.model_validate(
        {
            "endpoint": "shop",
            "kind": "shopify",
            "identity": "shop:id:7",
            "customer": {"full_name": "J", "email": "j@example.com", "sms_phone": "4411", "whats_app_phone": "4422"},
        }
    )

    assert identities_of(envelope) == {"shop:id:7", "email:j@example.com", "phone:4411", "phone:4422"}


def test_keys_and_filters_carry_the_sha256_of_an_identity_never_the_identity() -> None:
    assert identity_hash("email:j@example.com") == hashlib.sha256(b"email:j@example.com").hexdigest()
    assert Watermarks.key("email:j@example.com") == {
        "id": {"S": "nxbridge-order#" + identity_hash("email:j@example.com")}
    }


def test_coalescing_keeps_the_newest_per_identity_and_a_tie_goes_to_the_later_item() -> None:
    items = [("a", T), ("b", T), ("a", T + dt.timedelta(seconds=1)), None, ("b", T), None]
    kept, beaten = coalesce(items, lambda item: item)

    assert kept == [("a", T + dt.timedelta(seconds=1)), None, ("b", T), None]
    assert beaten == [(("a", T), ("a", T + dt.timedelta(seconds=1))), (("b", T), ("b", T))]
    # The first "b" lost to the second one, the same object in value: positions decide, not equality.
    assert [id(loser) for loser, _ in beaten] == [id(items[0]), id(items[1])]


def test_a_release_sets_the_watermark_only_to_a_version_nxcloud_may_hold() -> None:
    assert release_for(Granted(), 50, maybe_stored=True) == 50
    assert release_for(Granted(), 50, maybe_stored=False) is None
    assert release_for(Granted(sent_at=40), 50, maybe_stored=False) is None
    # A vanished drain's version (the floor) stays counted even when this record was refused.
    assert release_for(Granted(sent_at=40, floor=45), 50, maybe_stored=False) == 45
    assert release_for(Granted(sent_at=40, floor=45), 50, maybe_stored=True) == 50
    assert release_for(Granted(sent_at=50), 50, maybe_stored=True) is None


def test_a_watermark_counts_an_expired_leases_version_as_possibly_stored() -> None:
    live = Watermark(sent_at=10, leased=30, lease_until=1_000)
    assert live.newest(now_us=999) == 10
    assert live.newest(now_us=1_001) == 30
    assert Watermark(sent_at=None, leased=None, lease_until=None).newest(0) is None


def test_times_are_integer_microseconds_both_ways() -> None:
    moment = dt.datetime(2025, 6, 2, 10, 5, 12, 345678, tzinfo=dt.UTC)
    assert micros(moment) == 1748858712345678
    assert from_micros(micros(moment)) == moment


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-06-02T12:15:29+02:00", dt.datetime(2025, 6, 2, 10, 15, 29, tzinfo=dt.UTC)),
        ("2025-06-02T10:15:29.000Z", dt.datetime(2025, 6, 2, 10, 15, 29, tzinfo=dt.UTC)),
        # WooCommerce's *_gmt fields carry no offset: UTC.
        ("2025-06-02T10:20:11", dt.datetime(2025, 6, 2, 10, 20, 11, tzinfo=dt.UTC)),
        ("2025-06-02 10:20:11", dt.datetime(2025, 6, 2, 10, 20, 11, tzinfo=dt.UTC)),
        ("1795589719", dt.datetime(2026, 11, 25, 6, 55, 19, tzinfo=dt.UTC)),
        (1795589719, dt.datetime(2026, 11, 25, 6, 55, 19, tzinfo=dt.UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (True, None),
        (10**20, None),
    ],
)
def test_event_times_are_read_from_iso_text_or_epoch_seconds(raw: object, expected: dt.datetime | None) -> None:
    parsed = event_time(raw)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None


def test_an_envelope_holds_its_event_time_in_utc_and_old_envelopes_still_decode() -> None:
    data = {"endpoint": "s", "kind": "shopify", "customer": {"full_name": "J", "email": "j@example.com"}}
    old = Envelope.model_validate_json(Envelope.model_validate(data).to_message())
    new = Envelope.model_validate({**data, "event_at": "2025-06-02T12:15:29+02:00", "event": "update"})

    assert (old.event_at, old.identity, old.event) == (None, None, None)
    assert new.event_at == dt.datetime(2025, 6, 2, 10, 15, 29, tzinfo=dt.UTC)
    assert '"event_at":"2025-06-02T10:15:29Z"' in new.to_message()
