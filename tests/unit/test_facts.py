"""Each fact of nxbridge.facts is the one the template, the settings and the docs state: no copy has drifted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from nxbridge import facts
from nxbridge.config import DrainSettings, IngestSettings, ReplaySettings
from nxbridge.endpoints import KINDS, parse_endpoints
from nxbridge.envelope import FailureReason
from nxbridge.nxcloud.client import DEFAULT_BASE_URL, PATH
from tests.fixtures.template import ROOT, function, load_template

DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def env(template: dict[str, Any], name: str) -> dict[str, Any]:
    variables: dict[str, Any] = function(template, name)["Environment"]["Variables"]
    return variables


def test_nxcloud_target_and_timeouts_agree_with_the_template(template: dict[str, Any]) -> None:
    assert template["Parameters"]["NXCloudBaseUrl"]["Default"] == facts.NXCLOUD_DEFAULT_BASE_URL == DEFAULT_BASE_URL
    assert PATH == facts.NXCLOUD_PATH
    drain = env(template, "DrainFunction")
    assert float(drain["NXCLOUD_CONNECT_TIMEOUT"]) == facts.NXCLOUD_CONNECT_TIMEOUT_SECONDS
    assert float(drain["NXCLOUD_READ_TIMEOUT"]) == facts.NXCLOUD_READ_TIMEOUT_SECONDS
    settings = DrainSettings.from_env({"NXCLOUD_SECRET_ARN": "arn", "DLQ_URL": "url"})
    assert (settings.connect_timeout, settings.read_timeout) == (
        facts.NXCLOUD_CONNECT_TIMEOUT_SECONDS,
        facts.NXCLOUD_READ_TIMEOUT_SECONDS,
    )
    assert settings.max_attempts == facts.NXCLOUD_MAX_ATTEMPTS


def test_dedupe_outlives_every_provider_retry_window(template: dict[str, Any]) -> None:
    assert int(env(template, "IngestFunction")["IDEMPOTENCY_TTL_SECONDS"]) == facts.IDEMPOTENCY_TTL_SECONDS
    assert IngestSettings.from_env({"QUEUE_URL": "url"}).idempotency_ttl_seconds == facts.IDEMPOTENCY_TTL_SECONDS
    assert max(s.window_seconds for s in facts.PROVIDER_RETRIES.values()) < facts.IDEMPOTENCY_TTL_SECONDS


def test_replay_guard_agrees_with_the_template(template: dict[str, Any]) -> None:
    assert template["Parameters"]["MaxReplays"]["Default"] == facts.MAX_REPLAYS
    assert ReplaySettings.from_env({"QUEUE_URL": "q", "DLQ_URL": "d"}).max_replays == facts.MAX_REPLAYS


def test_source_kinds_are_the_endpoint_kinds_and_the_template_serves_each(template: dict[str, Any]) -> None:
    assert facts.SOURCE_KINDS == KINDS
    document = parse_endpoints(template["Resources"]["EndpointsParameter"]["Properties"]["Value"])
    assert {endpoint.kind for endpoint in document.endpoints.values()} == set(facts.SOURCE_KINDS)


def test_failure_stages_are_the_dlq_records_stages() -> None:
    for stage in facts.STAGES:
        assert FailureReason(stage=stage, errorCode="x", errorMessage="y").stage == stage
    with pytest.raises(ValueError, match="stage"):
        FailureReason(stage="elsewhere", errorCode="x", errorMessage="y")  # type: ignore[arg-type]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_state_shopifys_retry_schedule_as_the_facts_do(doc: Path) -> None:
    shopify = facts.PROVIDER_RETRIES["shopify"]
    text = doc.read_text(encoding="utf-8")
    for retries, window in re.findall(r"(\d+) (?:retries|times) over (\d+) (?:h|hours)\b", text):
        assert (int(retries), int(window) * 3600) == (shopify.retries, shopify.window_seconds), doc.name
    assert not re.search(r"retries for 48 ?h", text), doc.name
