"""An imported record's queue message is the one its webhook request would give: the same path, byte for byte.

The importer hands the pipeline the reader's payload itself rather than its JSON text; this proves the two agree
for every sample file of every format, rejections included.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from nxbridge.aws.retry import RetryPolicy
from nxbridge.endpoints import parse_endpoints
from nxbridge.importer.delivery import delivery_id, import_request, import_topic
from nxbridge.importer.formats import Reader, RowError
from nxbridge.importer.generic import GenericCsv
from nxbridge.importer.importer import Importer, ImportOptions, ImportSummary
from nxbridge.importer.shopify import ShopifyCsv, ShopifyJsonl
from nxbridge.importer.streams import open_text
from nxbridge.importer.woocommerce import WooCommerceJson
from nxbridge.ingest.pipeline import CustomerMessages, customer_messages, read_payload
from nxbridge.rejections import Rejection
from nxbridge.sources import source_for

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = EVENTS / "import"
NOW = dt.datetime(2025, 6, 2, 10, 15, 30, tzinfo=dt.UTC)
IMPORT_ID = "0123456789ab"


class CapturingSqs:
    """``send_message_batch`` that takes every entry and keeps its body."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send_message_batch(self, *, QueueUrl: str, Entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        self.bodies.extend(entry["MessageBody"] for entry in Entries)
        return {"Successful": [{"Id": entry["Id"], "MessageId": entry["Id"]} for entry in Entries], "Failed": []}


def _german_contacts() -> GenericCsv:
    return GenericCsv(json.loads((SAMPLES / "contacts-de-mapping.json").read_text(encoding="utf-8")))


SAMPLE_READERS: list[tuple[str, Callable[[], Reader], str]] = [
    ("shopify-customers-export.csv", ShopifyCsv, "shopify"),
    ("shopify-customers-export-2019.csv", ShopifyCsv, "shopify"),
    ("shopify-bulk-customers.jsonl", ShopifyJsonl, "shopify"),
    ("woocommerce-customers.json", WooCommerceJson, "woocommerce"),
    ("contacts.csv", GenericCsv, "standard"),
    ("contacts.csv", GenericCsv, "nxcloud"),
    ("contacts-de.csv", _german_contacts, "standard"),
]


@pytest.mark.parametrize(
    ("sample", "reader_for", "endpoint_name"), SAMPLE_READERS, ids=[f"{s}-{e}" for s, _, e in SAMPLE_READERS]
)
def test_an_imported_record_is_queued_as_its_encoded_webhook_request_would_be(
    sample: str, reader_for: Callable[[], Reader], endpoint_name: str
) -> None:
    endpoints = parse_endpoints((EVENTS / "endpoints.json").read_text(encoding="utf-8"))
    endpoint = endpoints.get(endpoint_name)
    assert endpoint is not None
    source, topic, reader = source_for(endpoint.kind), import_topic(endpoint), reader_for()
    expected: list[str] = []
    refused = 0
    with open_text(SAMPLES / sample) as stream:
        for record in reader.records(stream):
            try:
                payload = reader.payload(record)
                request = import_request(
                    endpoint, topic, payload, delivery=delivery_id(IMPORT_ID, record.number), received_at=NOW
                )
                built = customer_messages(request, endpoint, source, read_payload(request, endpoint, source))
            except (RowError, Rejection):
                refused += 1
                continue
            assert isinstance(built, CustomerMessages)
            expected.extend(built.messages)

    sqs = CapturingSqs()
    importer = Importer(
        reader_for(),
        endpoint,
        sqs=sqs,  # type: ignore[arg-type]
        queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/CustomersQueue",
        import_id=IMPORT_ID,
        policy=RetryPolicy(attempts=1),
        clock=lambda: NOW,
    )
    summary = ImportSummary(file=sample, format=reader.format, endpoint=endpoint_name)
    with open_text(SAMPLES / sample) as stream:
        importer.run(stream, summary, journal=None, rejects=None, options=ImportOptions())

    assert expected, "the sample holds customers"
    assert sqs.bodies == expected
    assert summary.rejected == refused
