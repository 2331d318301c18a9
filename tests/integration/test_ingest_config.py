"""Where the function's configuration comes from: SSM and Secrets Manager (cached) in AWS, files locally."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from nxbridge.endpoints import SecretsManagerSecrets
from nxbridge.handlers.ingest import make_handler
from tests.fixtures.aws import REGION
from tests.fixtures.ingest import (
    EVENTS,
    FakeLambdaContext,
    IngestStack,
    Invoke,
    documented_secrets,
    endpoints_document,
    load_event,
    resign,
    response_body,
)


class CountingSecretsManager:
    """moto's Secrets Manager client, counting GetSecretValue calls."""

    def __init__(self) -> None:
        self.real = boto3.client("secretsmanager", region_name=REGION)
        self.reads = 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.real.get_secret_value(**kwargs)


def test_a_signature_failure_rereads_the_secrets_at_most_once_per_interval(ingest_stack: IngestStack) -> None:
    client = CountingSecretsManager()
    clock = [1000.0]
    secrets = SecretsManagerSecrets(
        client,  # type: ignore[arg-type]
        ingest_stack.secrets_arn,
        max_age=300,
        min_refresh_seconds=10,
        monotonic=lambda: clock[0],
    )

    secrets.get("shopify")
    secrets.get("shopify", refresh=True)
    secrets.get("shopify", refresh=True)
    clock[0] += 10
    secrets.get("shopify", refresh=True)

    assert client.reads == 3


def test_a_rejected_request_refreshes_the_cached_secrets_for_the_requests_after_it(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    ingest_handler(load_event("shopify"))
    ingest_stack.put_secrets({**documented_secrets(), "shopify": "rotated"})

    first = ingest_handler(resign(load_event("shopify"), "forged-1"))
    second = ingest_handler(resign(load_event("shopify"), "rotated"))

    # The forged request spent the forced read and picked up the rotation; the next request is verified from it
    # (and is a duplicate of the first delivery, which was accepted).
    assert (first["statusCode"], second["statusCode"]) == (401, 200)


def test_local_files_configure_the_function_without_ssm_or_secrets_manager(
    queues: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUE_URL", queues["queue_url"])
    monkeypatch.setenv("ENDPOINTS_FILE", str(EVENTS / "endpoints.json"))
    monkeypatch.setenv("WEBHOOK_SECRETS_FILE", str(EVENTS / "webhook-secrets.json"))
    for name in ("ENDPOINTS_PARAMETER", "WEBHOOK_SECRETS_ARN", "IDEMPOTENCY_TABLE"):
        monkeypatch.delenv(name, raising=False)
    handler = make_handler()

    result = handler(load_event("tally"), FakeLambdaContext())

    assert result["statusCode"] == 202


def test_a_new_endpoint_is_served_once_the_cache_expires(
    ingest_stack: IngestStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARAMETERS_CACHE_SECONDS", "0")
    handler = make_handler()
    event = load_event("shopify")
    event["pathParameters"] = {"endpoint": "shopify-eu"}
    before = handler(event, FakeLambdaContext())

    document = endpoints_document()
    document["endpoints"]["shopify-eu"] = {"kind": "shopify", "secret": "shopify"}
    ingest_stack.put_endpoints(document)
    after = handler(event, FakeLambdaContext())

    assert (before["statusCode"], after["statusCode"]) == (404, 202)


def test_an_unreadable_endpoint_configuration_answers_503(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    boto3.client("ssm", region_name=REGION).delete_parameter(Name=ingest_stack.parameter)

    result = ingest_handler(load_event("shopify"))

    assert result["statusCode"] == 503
    assert response_body(result)["error"] == "config_unavailable"
    assert ingest_stack.depth() == 0


def test_an_invalid_endpoint_configuration_answers_503(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    ingest_stack.put_endpoints({"endpoints": {"shopify": {"kind": "shopify", "mapping": {"nickname": "x"}}}})

    assert ingest_handler(load_event("shopify"))["statusCode"] == 503


def test_an_invalid_endpoint_refuses_only_its_own_requests(ingest_handler: Invoke, ingest_stack: IngestStack) -> None:
    document = endpoints_document()
    document["endpoints"]["tally"] = {"kind": "tally", "mapping": {"email": "  "}}
    ingest_stack.put_endpoints(document)

    tally, shopify = ingest_handler(load_event("tally")), ingest_handler(load_event("shopify"))

    assert (tally["statusCode"], response_body(tally)["error"]) == (503, "config_unavailable")
    assert shopify["statusCode"] == 202
    assert ingest_stack.depth() == 1


def test_type_2_with_an_endpoint_that_receives_updates_is_refused_at_load_and_logged(
    ingest_stack: IngestStack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NXCLOUD_TYPE", "2")
    handler = make_handler()

    result = handler(load_event("shopify"), FakeLambdaContext())

    assert (result["statusCode"], response_body(result)["error"]) == (503, "config_unavailable")
    assert ingest_stack.depth() == 0
    assert any("NXCLOUD_TYPE is 2" in str(getattr(r, "detail", "")) for r in caplog.records)


def test_an_endpoint_whose_secret_is_missing_answers_503_not_401(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    ingest_stack.put_secrets({k: v for k, v in documented_secrets().items() if k != "tally"})

    result = ingest_handler(load_event("tally"))

    assert result["statusCode"] == 503
    assert json.loads(result["body"])["error"] == "config_unavailable"


def test_an_unsigned_form_endpoint_accepts_posts_without_a_secret(
    ingest_handler: Invoke, ingest_stack: IngestStack
) -> None:
    document = endpoints_document()
    document["endpoints"]["form"]["secret"] = None
    ingest_stack.put_endpoints(document)
    event = load_event("form")
    del event["headers"]["x-webhook-secret"]

    assert ingest_handler(event)["statusCode"] == 202
