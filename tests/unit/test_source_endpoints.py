"""Endpoint configuration and secrets documents: what is accepted, what is refused, and the defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nxbridge.config import IngestSettings
from nxbridge.endpoints import (
    ENDPOINT_MODELS,
    ConfigError,
    EndpointIndex,
    FileEndpoints,
    FileSecrets,
    FormEndpoint,
    InvalidConfig,
    MissingSecret,
    SettingsError,
    StoreUnavailable,
    parse_endpoints,
    parse_secrets,
)
from nxbridge.ingest import Ingest
from tests.fixtures.ingest import EVENTS, KINDS


def document(**endpoints: dict[str, Any]) -> str:
    return json.dumps({"endpoints": endpoints})


def test_the_shipped_configuration_has_one_endpoint_per_kind_named_after_it_and_a_browser_form() -> None:
    config = parse_endpoints((EVENTS / "endpoints.json").read_text(encoding="utf-8"))

    kinds = {name: endpoint.kind for name, endpoint in config.endpoints.items()}
    assert kinds == {**{kind: kind for kind in KINDS}, "contact": "form"}


def test_the_secret_defaults_to_the_endpoint_name_and_can_be_shared() -> None:
    config = parse_endpoints(document(eu={"kind": "shopify"}, us={"kind": "shopify", "secret": "eu"}))

    assert config.get("eu") is not None and config.get("eu").secret_name == "eu"  # type: ignore[union-attr]
    assert config.get("us").secret_name == "eu"  # type: ignore[union-attr]
    assert config.get("nope") is None


def test_only_form_endpoints_may_be_unsigned() -> None:
    config = parse_endpoints(document(contact={"kind": "form", "secret": None}))

    assert isinstance(config.endpoints["contact"], FormEndpoint)
    assert config.get("contact").secret_name is None  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="secret may be null only for form"):
        parse_endpoints(document(shop={"kind": "shopify", "secret": None}))


@pytest.mark.parametrize(
    ("endpoint", "complaint"),
    [
        ({"kind": "magento"}, "magento"),
        ({"kind": "shopify", "mapping": {"nickname": "first_name"}}, "unknown NXCloud field"),
        ({"kind": "standard", "mapping": {"email": "data.[email"}}, "is not a JMESPath expression"),
        ({"kind": "standard", "standard": {"records": "items[?"}}, "is not a JMESPath expression"),
        ({"kind": "tally", "mapping": {"email": "  "}}, "must not be empty"),
        ({"kind": "nxcloud", "mapping": {"email": "mail"}}, "no mapping"),
        ({"kind": "form", "phone_fields": ["email"]}, "phone_fields"),
        ({"kind": "shopify", "defaults": {"weight": 9}}, "weight"),
        ({"kind": "shopify", "colour": "blue"}, "colour"),
    ],
    ids=["kind", "target", "jmespath", "records", "empty-source", "nxcloud-mapping", "phone-field", "default", "extra"],
)
@pytest.mark.parametrize("reader", ["whole document", "ingest's index"])
def test_invalid_configurations_are_refused_with_a_reason(
    endpoint: dict[str, Any], complaint: str, reader: str
) -> None:
    with pytest.raises(InvalidConfig, match=complaint):
        if reader == "whole document":
            parse_endpoints(document(x=endpoint))
        else:
            EndpointIndex(document(x=endpoint)).get("x")


@pytest.mark.parametrize("reader", ["whole document", "ingest's index"])
def test_a_refusal_names_the_field_and_the_rule_but_never_a_value(reader: str) -> None:
    # A model-level rule fails on the whole endpoint; pydantic's own message would show it, fill-token key included.
    raw = document(contact={"kind": "form", "form": {"honeypot_field": "email", "fill_token_secret": "tok-4711-key"}})

    with pytest.raises(InvalidConfig) as refused:
        if reader == "whole document":
            parse_endpoints(raw)
        else:
            EndpointIndex(raw).get("contact")

    assert "customer fields" in str(refused.value)
    assert "tok-4711-key" not in str(refused.value) and "input_value" not in str(refused.value)


def test_the_ingests_index_knows_one_model_per_kind() -> None:
    assert {kind: model.__name__ for kind, model in ENDPOINT_MODELS.items()} == {
        "shopify": "ShopifyEndpoint",
        "woocommerce": "WooCommerceEndpoint",
        "typeform": "TypeformEndpoint",
        "tally": "TallyEndpoint",
        "standard": "StandardEndpoint",
        "form": "FormEndpoint",
        "nxcloud": "NxcloudEndpoint",
    }
    assert set(ENDPOINT_MODELS) == set(KINDS)


def test_the_ingests_index_refuses_only_the_invalid_endpoint_and_keeps_each_one_it_validated() -> None:
    index = EndpointIndex(document(shop={"kind": "shopify"}, broken={"kind": "tally", "mapping": {"email": " "}}))

    shop = index.get("shop")
    assert shop is not None and shop.kind == "shopify" and shop.secret_name == "shop"
    assert index.get("shop") is shop
    for _ in range(2):
        with pytest.raises(InvalidConfig, match=r"(?s)'broken'.*must not be empty"):
            index.get("broken")
    assert index.get("nope") is None
    assert index.get("shop") == parse_endpoints(document(shop={"kind": "shopify"})).get("shop")


@pytest.mark.parametrize(
    "raw",
    [document(**{"my shop": {"kind": "shopify"}}), '{"endpoints": {"a": 5}}', '{"endpoints": {}, "x": 1}', "nope"],
    ids=["name", "not-an-object", "extra", "not-json"],
)
def test_the_ingests_index_refuses_a_document_of_the_wrong_shape_at_once(raw: str) -> None:
    with pytest.raises(InvalidConfig):
        EndpointIndex(raw)


def test_type_2_is_refused_by_the_ingests_index_for_each_endpoint_that_receives_updates() -> None:
    index = EndpointIndex(document(shop={"kind": "shopify"}, contact={"kind": "form"}), nxcloud_type=2)

    assert index.get("contact") is not None
    with pytest.raises(InvalidConfig, match=r"NXCLOUD_TYPE is 2 .*shop \(customers/update\)"):
        index.get("shop")


def test_endpoint_names_must_be_url_safe() -> None:
    with pytest.raises(ConfigError):
        parse_endpoints(document(**{"my shop": {"kind": "shopify"}}))


def test_custom_field_targets_are_accepted() -> None:
    config = parse_endpoints(document(x={"kind": "form", "mapping": {"customize_field.customize_1_14": "plan"}}))

    assert config.endpoints["x"].mapping == {"customize_field.customize_1_14": "plan"}


def test_secrets_may_be_one_value_or_a_list_during_rotation() -> None:
    assert parse_secrets('{"shop": "s1", "form": ["new", "old"]}') == {"shop": ("s1",), "form": ("new", "old")}


@pytest.mark.parametrize("raw", ['{"shop": 5}', '{"shop": []}', '{"shop": ""}', '["s1"]', "not json"])
def test_a_bad_secrets_document_is_refused_without_echoing_values(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_secrets(raw)

    assert "s1" not in str(caught.value)


def test_file_stores_reload_when_the_file_changes(tmp_path: Path) -> None:
    endpoints_file = tmp_path / "endpoints.json"
    secrets_file = tmp_path / "secrets.json"
    endpoints_file.write_text(document(a={"kind": "shopify"}))
    secrets_file.write_text('{"a": "one"}')
    endpoints, secrets = FileEndpoints(str(endpoints_file)), FileSecrets(str(secrets_file))
    assert endpoints.get("b") is None
    assert secrets.get("a") == ("one",)

    endpoints_file.write_text(document(a={"kind": "shopify"}, b={"kind": "tally"}))
    secrets_file.write_text('{"a": ["two", "one"]}')

    assert endpoints.get("b") is not None
    assert secrets.get("a") == ("two", "one")


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        FileEndpoints(str(tmp_path / "missing.json")).get("a")


def test_each_kind_of_configuration_failure_has_its_own_class_under_config_error(tmp_path: Path) -> None:
    assert all(issubclass(c, ConfigError) for c in (InvalidConfig, StoreUnavailable, MissingSecret, SettingsError))
    with pytest.raises(InvalidConfig):
        parse_endpoints(document(x={"kind": "magento"}))
    with pytest.raises(InvalidConfig):
        parse_secrets('{"shop": ""}')
    with pytest.raises(StoreUnavailable):
        FileSecrets(str(tmp_path / "missing.json")).get("a")
    with pytest.raises(SettingsError, match="ENDPOINTS_PARAMETER"):
        Ingest.from_settings(IngestSettings.from_env({"QUEUE_URL": "https://sqs.invalid/q"}))
