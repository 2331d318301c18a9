"""events/forms holds what make_events.py generates: browser-built urlencoded and multipart posts."""

from __future__ import annotations

import json

import pytest

from nxbridge.endpoints import parse_endpoints
from nxbridge.sources import WebhookRequest, source_for
from tests.fixtures.forms import form_sample
from tests.fixtures.ingest import FIXED_NOW, body_of, endpoints_document, make_events


@pytest.mark.parametrize("name", sorted(make_events.FORM_SAMPLES))
def test_the_stored_form_samples_are_the_generated_ones(name: str) -> None:
    assert form_sample(name) == make_events.build_form_sample(name)


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("form-browser-urlencoded", make_events.browser_form_fields()),
        ("form-fetch-multipart", make_events.fetch_form_fields()),
    ],
)
def test_each_sample_body_reads_back_as_the_fields_the_browser_sent(name: str, fields: list[tuple[str, str]]) -> None:
    event = form_sample(name)
    request = WebhookRequest("contact", "POST", event["headers"], body_of(event), "r", FIXED_NOW)
    expected: dict[str, list[str]] = {}
    for key, value in fields:
        expected.setdefault(key, []).append(value)

    shipped = parse_endpoints(json.dumps(endpoints_document())).endpoints[make_events.BROWSER_FORM_ENDPOINT]

    parsed = source_for("form").parse(request, shipped)

    assert event["isBase64Encoded"] is True
    assert event["headers"]["content-length"] == str(len(body_of(event)))
    assert {k: v if isinstance(v, list) else [v] for k, v in parsed.items()} == expected
