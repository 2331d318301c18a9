"""Each import format's records become the payload its platform's webhook carries; other layouts are refused."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from nxbridge.importer.formats import EPOCH, Reader, Record, RowError
from nxbridge.importer.generic import GenericCsv, mapping_problems
from nxbridge.importer.shopify import ShopifyCsv, ShopifyJsonl
from nxbridge.importer.streams import JsonArrays, LayoutError, examine, open_text
from nxbridge.importer.woocommerce import WooCommerceJson

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "import"


def records(reader: Reader, path: Path) -> list[Record]:
    with open_text(path) as stream:
        return list(reader.records(stream))


def bodies(reader: Reader, path: Path) -> list[dict[str, Any]]:
    return [reader.payload(r).body for r in records(reader, path)]


def test_a_shopify_export_row_becomes_the_rest_customer_resource() -> None:
    reader = ShopifyCsv()
    [jane, *_] = records(reader, SAMPLES / "shopify-customers-export.csv")
    payload = reader.payload(jane)
    assert payload.event_at == EPOCH
    body = payload.body
    assert body["id"] == 7101010101
    assert (body["email"], body["first_name"], body["last_name"]) == ("jane.doe@example.com", "Jane", "Doe")
    assert body["phone"] == "+14155550100"
    assert body["tags"] == "vip, newsletter"
    assert body["note"] == "Prefers email, not calls"
    assert body["accepts_marketing"] is True
    assert body["email_marketing_consent"] == {"state": "subscribed"}
    assert body["sms_marketing_consent"] == {"state": "subscribed"}
    assert body["updated_at"] == EPOCH
    assert body["default_address"] == {
        "company": "Acme Inc",
        "address1": "1 Market St",
        "address2": "Suite 5",
        "city": "San Francisco",
        "province_code": "CA",
        "country_code": "US",
        "zip": "94105",
        "phone": "+14155550101",
        "default": True,
    }
    assert reader.columns is not None and reader.columns[0] == "Customer ID"


def test_a_quoted_note_spanning_lines_is_one_row() -> None:
    reader = ShopifyCsv()
    found = records(reader, SAMPLES / "shopify-customers-export.csv")
    assert [r.number for r in found] == [1, 2, 3, 4, 5, 6]
    assert reader.payload(found[2]).body["note"] == "Line one\nline two"


def test_an_export_from_before_2023_is_read_from_its_flat_address_columns() -> None:
    oliver, ana = bodies(ShopifyCsv(), SAMPLES / "shopify-customers-export-2019.csv")
    assert oliver["id"] is None
    assert oliver["phone"] == "+44 20 7946 0958"
    assert oliver["default_address"]["country_code"] == "GB"
    assert oliver["default_address"]["country"] == "United Kingdom"
    assert oliver["accepts_marketing"] is True
    assert ana["default_address"]["company"] == "Loja Azul"


def test_an_excel_saved_export_with_a_bom_and_crlf_reads_the_same(tmp_path: Path) -> None:
    original = (SAMPLES / "shopify-customers-export.csv").read_text(encoding="utf-8")
    excel = tmp_path / "customers_export.csv"
    excel.write_bytes(b"\xef\xbb\xbf" + original.replace("\n", "\r\n").encode("utf-8"))
    # The quoted note keeps its line break, as Excel writes it (CRLF inside the quotes).
    read = bodies(ShopifyCsv(), excel)
    expected = bodies(ShopifyCsv(), SAMPLES / "shopify-customers-export.csv")
    expected[2]["note"] = "Line one\r\nline two"
    assert read == expected


def test_a_file_of_another_layout_names_the_columns_expected_and_found(tmp_path: Path) -> None:
    orders = tmp_path / "orders_export.csv"
    orders.write_text("Name,Email,Financial Status,Paid at,Total\n#1001,jane.doe@example.com,paid,,10.00\n")
    with pytest.raises(LayoutError) as raised:
        records(ShopifyCsv(), orders)
    message = str(raised.value)
    assert "not a Shopify customer export" in message
    assert "expected the columns Customer ID, First Name, Last Name, Email" in message
    # Without Customer ID it is taken for the older layout, whose columns it lacks too.
    assert "missing First Name, Last Name, Phone" in message
    assert "found Name, Email, Financial Status, Paid at, Total" in message


def test_a_bad_customer_id_is_a_row_error_naming_its_column(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    header = (SAMPLES / "shopify-customers-export.csv").read_text(encoding="utf-8").splitlines()[0]
    path.write_text(header + "\n'71x,Jane,Doe,jane.doe@example.com\n", encoding="utf-8")
    reader = ShopifyCsv()
    [record] = records(reader, path)
    with pytest.raises(RowError) as raised:
        reader.payload(record)
    assert raised.value.column == "Customer ID"


def test_a_bulk_operation_line_becomes_the_rest_customer_with_its_update_time() -> None:
    reader = ShopifyJsonl()
    found = records(reader, SAMPLES / "shopify-bulk-customers.jsonl")
    # The nested connection's line (__parentId) is not a customer.
    assert [r.number for r in found] == [1, 2, 3, 4]
    jane = reader.payload(found[0])
    assert jane.event_at == "2025-03-14T09:26:53Z"
    body = jane.body
    assert body["id"] == 7101010101
    assert body["updated_at"] == "2025-03-14T09:26:53Z"
    assert body["tags"] == "vip, newsletter"
    assert body["state"] == "enabled"
    assert body["accepts_marketing"] is True
    assert body["email_marketing_consent"]["state"] == "subscribed"
    assert body["default_address"]["country_code"] == "US"
    assert body["default_address"]["province_code"] == "CA"


def test_the_newer_api_s_default_email_and_phone_are_read() -> None:
    reader = ShopifyJsonl()
    jose = reader.payload(records(reader, SAMPLES / "shopify-bulk-customers.jsonl")[1]).body
    assert (jose["email"], jose["phone"]) == ("jose.garcia@example.es", "+34612345678")
    assert jose["sms_marketing_consent"] == {
        "state": "subscribed",
        "opt_in_level": "single_opt_in",
        "consent_updated_at": "2024-11-20T08:00:00Z",
    }
    assert jose["accepts_marketing"] is False


def test_a_bulk_operation_over_orders_is_refused_on_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "bulk.jsonl"
    path.write_text('{"id":"gid://shopify/Order/1","name":"#1001"}\n')
    with pytest.raises(LayoutError, match=r"over customers.*found id gid://shopify/Order/1 and keys id, name"):
        records(ShopifyJsonl(), path)


def test_a_broken_line_of_a_bulk_result_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "bulk.jsonl"
    first = (SAMPLES / "shopify-bulk-customers.jsonl").read_text(encoding="utf-8").splitlines()[0]
    path.write_text(first + '\n{"id": "gid://shopify/Customer/2", "email": \n')
    reader = ShopifyJsonl()
    _, broken = records(reader, path)
    with pytest.raises(RowError, match="not valid JSON"):
        reader.payload(broken)


@pytest.mark.parametrize("window", [7, 512, 1 << 16])
def test_woocommerce_pages_one_after_the_other_are_one_list(window: int) -> None:
    with open_text(SAMPLES / "woocommerce-customers.json") as stream:
        values = [value for value, _ in JsonArrays(stream, window=window)]
    assert [v["id"] for v in values] == [25, 26, 27, 28]


def test_a_woocommerce_customer_is_its_webhook_body_with_its_modification_time() -> None:
    reader = WooCommerceJson()
    lena, ahmed, *_ = records(reader, SAMPLES / "woocommerce-customers.json")
    payload = reader.payload(lena)
    assert payload.event_at == "2025-02-11T15:20:00Z"
    assert isinstance(lena.original, str)
    assert payload.body == json.loads(lena.original)
    # No modification time: the creation time is the event time.
    assert reader.payload(ahmed).event_at == "2024-03-01T09:00:00Z"


def test_a_woocommerce_error_answer_is_refused_with_the_keys_expected() -> None:
    error = io.StringIO('{"code": "woocommerce_rest_cannot_view", "message": "Sorry", "data": {"status": 401}}')
    with pytest.raises(LayoutError, match="expected a JSON array of objects with the keys id, email"):
        list(WooCommerceJson().records(error))


def test_a_csv_is_mapped_by_common_column_names() -> None:
    reader = GenericCsv()
    sophie, noah, nameless = (reader.payload(r) for r in records(reader, SAMPLES / "contacts.csv"))
    assert sophie.body == {
        "full_name": "Sophie Dubois",
        "email": "sophie.dubois@example.fr",
        "phone": "+33 6 12 34 56 78",
        "country": "FR",
        "remark": "met at the Lyon fair",
    }
    assert sophie.event_at == "2025-01-15T10:00:00Z"
    assert noah.event_at == "2025-02-01T00:30:00Z"
    assert nameless.event_at == EPOCH


def test_a_csv_is_mapped_by_the_mapping_custom_fields_included() -> None:
    mapping = json.loads((SAMPLES / "contacts-de-mapping.json").read_text(encoding="utf-8"))
    assert mapping_problems(mapping) == []
    reader = GenericCsv(mapping)
    lukas = reader.payload(records(reader, SAMPLES / "contacts-de.csv")[0]).body
    assert lukas == {
        "full_name": "Lukas Becker",
        "email": "lukas.becker@example.de",
        "phone": "0151 23456789",
        "country": "DE",
        "customize_field": {"customer_number": "K-1001"},
    }


def test_a_mapping_naming_absent_columns_or_unknown_fields_is_refused() -> None:
    assert mapping_problems({"Mail": "e_mail"})[0].startswith("unknown NXCloud field(s) e_mail")
    with pytest.raises(LayoutError, match="the mapping names columns the file does not have: Telefon"):
        records(GenericCsv({"Telefon": "phone"}), SAMPLES / "contacts-de.csv")


def test_a_csv_without_a_contact_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text("Handle,Title,Price\nshirt,Shirt,10\n")
    with pytest.raises(LayoutError, match=r"no column holds a contact.*found Handle, Title, Price"):
        records(GenericCsv(), path)


def test_examine_hashes_the_file_and_counts_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a\nb\nc\n")
    facts = examine(path, b"\n")
    assert (facts.size, facts.marks) == (6, 3)
    assert facts.sha256 == hashlib.sha256(b"a\nb\nc\n").hexdigest()
