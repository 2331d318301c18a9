"""The mapping steps every kind shares: phone fields, defaults, name fallback, text limits, type coercion."""

from __future__ import annotations

from typing import Any

import pytest

from nxbridge.sources import WebhookRequest, finalize, source_for
from nxbridge.sources.base import apply_mapping, text
from tests.fixtures.ingest import FIXED_NOW, KINDS, endpoint_config


def final(candidate: dict[str, Any], **config: Any) -> dict[str, Any]:
    return finalize(candidate, endpoint_config("form", **config))


def test_the_phone_fills_both_default_phone_fields_unless_a_field_is_given_explicitly() -> None:
    assert final({"phone": "+1 415 555 0100"}) == {
        "sms_phone": "14155550100",
        "whats_app_phone": "14155550100",
        "full_name": "14155550100",
    }
    assert final({"phone": "+1 415 555 0100", "whats_app_phone": "+44 7700 900123", "email": "a@example.com"}) == {
        "sms_phone": "14155550100",
        "whats_app_phone": "447700900123",
        "email": "a@example.com",
        "full_name": "a@example.com",
    }


def test_phone_fields_are_configurable() -> None:
    assert final({"phone": "+1 415 555 0100"}, phone_fields=["viber_phone"]) == {
        "viber_phone": "14155550100",
        "full_name": "14155550100",
    }


def test_the_full_name_is_built_from_first_and_last_name_before_any_contact() -> None:
    assert (
        final({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"})["full_name"] == "Ada Lovelace"
    )
    assert final({"last_name": "Lovelace", "email": "ada@example.com"})["full_name"] == "Lovelace"
    assert final({"email": "ada@example.com", "phone": "5550100"})["full_name"] == "ada@example.com"


def test_defaults_fill_gaps_and_add_their_tags_to_the_sources_tags() -> None:
    defaults = {"tagStr": "web", "country": "PT", "belong_seat_user": "seat@example.com", "weight": 2}

    result = final({"email": "a@example.com", "tagStr": ["x", "y"], "country": "ES"}, defaults=defaults)

    assert result["tagStr"] == ["x", "y", "web"]
    assert (result["country"], result["belong_seat_user"], result["weight"]) == ("Spain", "seat@example.com", 2)
    assert final({"email": "a@example.com"}, defaults=defaults)["country"] == "Portugal"


def test_the_defaults_read_once_for_every_customer_are_never_changed_by_one() -> None:
    config = endpoint_config("form", defaults={"tagStr": ["web", "shop"], "country": "PT", "weight": 2})
    given = config.defaults.model_dump(exclude_none=True)

    first = finalize({"email": "a@example.com", "tagStr": "x"}, config)
    second = finalize({"email": "b@example.com"}, config)

    assert first["tagStr"] == ["x", "web", "shop"]
    assert (second["tagStr"], second["country"], second["weight"]) == (["web", "shop"], "Portugal", 2)
    assert config.defaults.given == given


def test_free_text_is_cut_to_nxclouds_limits_but_identity_fields_never_are() -> None:
    long_email = "a" * 60 + "@example.com"

    result = final({"full_name": "N" * 300, "address": "A" * 150, "remark": "R" * 2500, "email": long_email})

    assert (len(result["full_name"]), len(result["address"]), len(result["remark"])) == (255, 100, 2000)
    assert result["email"] == long_email


def test_empty_values_are_dropped_and_numbers_become_text() -> None:
    assert final(
        {"email": " ", "remark": None, "phone": 4155550100, "country": [], "address": ["Main St 1", 5]},
        normalize={"default_region": "US"},
    ) == {
        "sms_phone": "14155550100",
        "whats_app_phone": "14155550100",
        "full_name": "14155550100",
        "address": "Main St 1, 5",
    }


def test_a_mapping_that_finds_nothing_keeps_the_built_in_value() -> None:
    found = {"b": "from b"}

    assert apply_mapping({"email": "built@in.com"}, {"email": "a", "remark": "b"}, found.get) == {
        "email": "built@in.com",
        "remark": "from b",
    }


@pytest.mark.parametrize(
    ("value", "shown"), [(" x ", "x"), (3, "3"), (2.0, "2"), (2.5, "2.5"), (True, None), ({}, None)]
)
def test_text_reads_scalars_only(value: Any, shown: str | None) -> None:
    assert text(value) == shown


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_an_adapter_loaded_on_demand(kind: str) -> None:
    assert source_for(kind).kind == kind


def test_the_media_type_ignores_parameters_and_case() -> None:
    request = WebhookRequest("e", "POST", {"content-type": "Application/JSON; charset=UTF-8"}, b"", "r", FIXED_NOW)

    assert request.media_type == "application/json"
    assert source_for("shopify").accepts(request.media_type)
    assert source_for("shopify").accepts("application/vnd.shop+json")
    assert not source_for("shopify").accepts("text/plain")
