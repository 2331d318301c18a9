"""An imported record's queue message is the one its webhook request would give: the same path, byte for byte.

The importer hands the pipeline the reader's payload itself rather than its JSON text; this proves the two agree
for every sample file of every format, rejections included.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
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
from nxbridge.importer.shopify import EXPORT_COLUMNS, ShopifyCsv, ShopifyJsonl
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
    expected, refused, bodies, rejected = _both_ways(SAMPLES / sample, reader_for, endpoint_name)

    assert expected, "the sample holds customers"
    assert bodies == expected
    assert rejected == refused


# Cells of every kind a real export holds: phones national, international, with "00", with an extension, two in one
# cell, full-width, too short, not phones; e-mails malformed, too long, with a non-character; unknown countries;
# names and addresses too long; ids that are not Shopify's; tags repeated or empty.
_PHONES = (
    "'+34 612 345 678",
    "'0612345678",
    "'612345678",
    "'+1 (415) 555-0100 ext 12",
    "'00447700900123",
    "'12",
    "'not a phone",
    "'+44 07700 900123",
    "'0011 61 2 9374 4000",
    "'+39 06 1234 5678",
    "'+1 212 555 0100 / +1 415 555 0101",
    "'+49 (0) 151 23456789",
    "",
    "'+81 90-1234-5678",
    "'\uff10\uff16\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
)
_COUNTRIES = ("ES", "FR", "US", "GB", "DE", "IT", "AU", "XX", "", "JP")
_EMAILS = ("ana@example.com", "not-an-email", "", "x" * 60 + "@example.com", "\u00fcn\u00ef@example.com", "a@b.c\uffff")


def _messy_export(path: Path, rows: int) -> None:
    """A Shopify export of ``rows`` made-up customers, most of them with something wrong, always the same ones."""
    pick = random.Random(16).choice
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(EXPORT_COLUMNS)
        for n in range(rows):
            writer.writerow(
                [
                    pick([f"'{7000 + n}", f"'{7000 + n}", "abc", ""]),
                    pick(["Ana", "", " L\u00e9a ", "N" * 200]),
                    pick(["Souza", "", "X" * 150]),
                    pick(_EMAILS),
                    pick(["yes", "no", ""]),
                    pick(["", "Acme"]),
                    pick(["Calle 1", "", "Y" * 120]),
                    "",
                    pick(["Madrid", ""]),
                    "",
                    pick(_COUNTRIES),
                    pick(["'28014", ""]),
                    pick(_PHONES),
                    pick(_PHONES),
                    pick(["yes", "no"]),
                    "1.00",
                    pick(["3", "", "x"]),
                    pick(["", "note, with a comma", "\ufffe odd"]),
                    "no",
                    pick(["", "a, b, a", " , ", "vip"]),
                ]
            )


def test_every_row_of_a_messy_export_is_queued_or_refused_as_its_webhook_request_would_be(tmp_path: Path) -> None:
    export = tmp_path / "customers_export.csv"
    _messy_export(export, 400)

    expected, refused, bodies, rejected = _both_ways(export, ShopifyCsv, "shopify")

    assert bodies == expected
    assert rejected == refused
    # Both kinds of row are there in numbers: the comparison covers refusals as well as customers.
    assert len(expected) > 100
    assert refused > 100


def _both_ways(
    path: Path, reader_for: Callable[[], Reader], endpoint_name: str
) -> tuple[list[str], int, list[str], int]:
    """The messages (and count of refused records) of each record's encoded webhook request, then the importer's."""
    endpoints = parse_endpoints((EVENTS / "endpoints.json").read_text(encoding="utf-8"))
    endpoint = endpoints.get(endpoint_name)
    assert endpoint is not None
    source, topic, reader = source_for(endpoint.kind), import_topic(endpoint), reader_for()
    expected: list[str] = []
    refused = 0
    with open_text(path) as stream:
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
    summary = ImportSummary(file=path.name, format=reader.format, endpoint=endpoint_name)
    with open_text(path) as stream:
        importer.run(stream, summary, journal=None, rejects=None, options=ImportOptions())
    return expected, refused, sqs.bodies, summary.rejected
