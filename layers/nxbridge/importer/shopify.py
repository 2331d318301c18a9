"""Shopify's files: the admin's *Customers → Export* CSV and a GraphQL Admin bulk operation's JSONL result.

Each record becomes the REST customer resource a ``customers/update`` webhook carries, so that the endpoint's
mapping (JMESPath over that resource) applies to it as to its webhooks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import IO, Any, ClassVar

from nxbridge.endpoints import Kind
from nxbridge.importer.formats import EPOCH, Format, Payload, Reader, Record, RowError, clean, csv_rows, require_columns
from nxbridge.importer.streams import LayoutError
from nxbridge.sources.base import as_object

# The export of today's admin, in its order.
EXPORT_COLUMNS = (
    "Customer ID",
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Default Address Company",
    "Default Address Address1",
    "Default Address Address2",
    "Default Address City",
    "Default Address Province Code",
    "Default Address Country Code",
    "Default Address Zip",
    "Default Address Phone",
    "Phone",
    "Accepts SMS Marketing",
    "Total Spent",
    "Total Orders",
    "Note",
    "Tax Exempt",
    "Tags",
)
# Exports before 2023 had no customer id and flat address columns.
LEGACY_COLUMNS = (
    "First Name",
    "Last Name",
    "Email",
    "Company",
    "Address1",
    "Address2",
    "City",
    "Province",
    "Province Code",
    "Country",
    "Country Code",
    "Zip",
    "Phone",
    "Accepts Marketing",
    "Total Spent",
    "Total Orders",
    "Tags",
    "Note",
    "Tax Exempt",
)
_REQUIRED = ("First Name", "Last Name", "Email", "Phone")
# REST default_address key -> column, per layout.
_ADDRESS = {
    "company": "Default Address Company",
    "address1": "Default Address Address1",
    "address2": "Default Address Address2",
    "city": "Default Address City",
    "province_code": "Default Address Province Code",
    "country_code": "Default Address Country Code",
    "zip": "Default Address Zip",
    "phone": "Default Address Phone",
}
_LEGACY_ADDRESS = {
    "company": "Company",
    "address1": "Address1",
    "address2": "Address2",
    "city": "City",
    "province": "Province",
    "province_code": "Province Code",
    "country": "Country",
    "country_code": "Country Code",
    "zip": "Zip",
}
# Shopify writes ids, phones and zips as '+14155550100 so that spreadsheets keep them as text.
_TEXT_QUOTED = frozenset({"Customer ID", "Phone", "Default Address Phone", "Default Address Zip", "Zip"})
_PHONE_FIELDS = frozenset({"phone", "sms_phone", "whats_app_phone", "viber_phone", "zalo"})
CUSTOMER_GID = "gid://shopify/Customer/"


def _cell(row: Mapping[str, str], column: str) -> str | None:
    """One cell as ``_cells`` reads it."""
    return _cells({column: row[column]}).get(column) if column in row else None


def _cells(row: Mapping[str, str]) -> dict[str, str | None]:
    """Every cell of a row as trimmed text or None (the spreadsheet's ' taken off ids, phones and zips), in one
    pass: the export's twenty cells a row, without twenty calls."""
    cells: dict[str, str | None] = {}
    for column, raw in row.items():
        if isinstance(raw, str):
            value = raw.strip()
            if column in _TEXT_QUOTED:
                value = value.removeprefix("'").strip()
            cells[column] = value or None
        else:
            cells[column] = clean(raw)
    return cells


def _yes(cells: Mapping[str, str | None], column: str) -> bool | None:
    value = (cells.get(column) or "").lower()
    return True if value == "yes" else False if value == "no" else None


def _consent(accepts: bool | None) -> dict[str, str] | None:
    if accepts is None:
        return None
    return {"state": "subscribed" if accepts else "not_subscribed"}


class ShopifyCsv(Reader):
    """The CSV of Shopify admin's *Customers → Export* (today's layout, or the older one without ``Customer ID``)."""

    format: ClassVar[Format] = "shopify-csv"
    kinds: ClassVar[frozenset[Kind]] = frozenset({"shopify"})

    def __init__(self) -> None:
        super().__init__()
        self._legacy = False

    def records(self, stream: IO[str]) -> Iterator[Record]:
        """The export's rows."""
        return csv_rows(self, stream, self._check)

    def _check(self, header: list[str]) -> None:
        self._legacy = "Customer ID" not in header and not any(c.startswith("Default Address ") for c in header)
        expected = (
            f"{', '.join(EXPORT_COLUMNS)} (Shopify admin, Customers, Export; older exports: "
            f"{', '.join(LEGACY_COLUMNS)})"
        )
        required = _REQUIRED if self._legacy else ("Customer ID", *_REQUIRED)
        require_columns(header, required, "a Shopify customer export", [expected])

    def payload(self, record: Record) -> Payload:
        """The REST customer resource; the export has no update time, so the event time is the epoch."""
        cells = _cells(record.data)
        cell = cells.get
        customer_id: int | None = None
        raw_id = cell("Customer ID")
        if raw_id is not None:
            if not raw_id.isdigit():
                raise RowError("Customer ID", "is not a Shopify customer id (digits)")
            customer_id = int(raw_id)
        columns = _LEGACY_ADDRESS if self._legacy else _ADDRESS
        address = {key: cell(column) for key, column in columns.items()}
        email_consent = _yes(cells, "Accepts Marketing" if self._legacy else "Accepts Email Marketing")
        orders = cell("Total Orders")
        has_address = any(value is not None for value in address.values())
        body: dict[str, Any] = {
            "id": customer_id,
            "email": cell("Email"),
            "first_name": cell("First Name"),
            "last_name": cell("Last Name"),
            "phone": cell("Phone"),
            "tags": cell("Tags") or "",
            "note": cell("Note"),
            "accepts_marketing": email_consent,
            "email_marketing_consent": _consent(email_consent),
            "sms_marketing_consent": _consent(_yes(cells, "Accepts SMS Marketing")),
            "tax_exempt": _yes(cells, "Tax Exempt"),
            "total_spent": cell("Total Spent"),
            "orders_count": int(orders) if orders is not None and orders.isdigit() else None,
            "updated_at": EPOCH,
            "default_address": {**address, "default": True} if has_address else None,
            "addresses": [{**address, "default": True}] if has_address else [],
        }
        return Payload(body, EPOCH)

    def column(self, field: str, record: Record) -> str:
        """The export's column of an NXCloud field."""
        row: Mapping[str, str] = record.data
        address = _LEGACY_ADDRESS if self._legacy else _ADDRESS
        if field in _PHONE_FIELDS:
            return "Phone" if self._legacy or _cell(row, "Phone") else "Default Address Phone"
        named = {
            "email": "Email",
            "customer": "Email",
            "first_name": "First Name",
            "last_name": "Last Name",
            "full_name": "First Name",
            "country": address["country_code"],
            "address": address["address1"],
            "tagStr": "Tags",
            "remark": "Note",
        }
        return named.get(field, field)


def _address(node: Any) -> dict[str, Any] | None:
    if not isinstance(node, dict):
        return None
    return {
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "name": node.get("name"),
        "company": node.get("company"),
        "address1": node.get("address1"),
        "address2": node.get("address2"),
        "city": node.get("city"),
        "province": node.get("province"),
        "province_code": node.get("provinceCode"),
        "country": node.get("country"),
        "country_code": node.get("countryCodeV2") or node.get("countryCode"),
        "zip": node.get("zip"),
        "phone": node.get("phone"),
    }


def _graphql_consent(consent: Any, *, updated: str) -> dict[str, Any] | None:
    if not isinstance(consent, dict) or not isinstance(consent.get("marketingState"), str):
        return None
    level = consent.get("marketingOptInLevel")
    return {
        "state": consent["marketingState"].lower(),
        "opt_in_level": level.lower() if isinstance(level, str) else None,
        "consent_updated_at": consent.get(updated),
    }


def rest_customer(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL Admin ``Customer`` as the REST resource of Shopify's customer webhooks."""
    gid = str(node.get("id", ""))
    email_address = as_object(node.get("defaultEmailAddress"))
    phone_number = as_object(node.get("defaultPhoneNumber"))
    tags = node.get("tags")
    email_consent = _graphql_consent(node.get("emailMarketingConsent"), updated="consentUpdatedAt") or (
        _graphql_consent(email_address, updated="marketingUpdatedAt")
    )
    sms_consent = _graphql_consent(node.get("smsMarketingConsent"), updated="consentUpdatedAt") or (
        _graphql_consent(phone_number, updated="marketingUpdatedAt")
    )
    state = node.get("state")
    addresses = node.get("addresses")
    return {
        "id": int(gid.removeprefix(CUSTOMER_GID)),
        "email": node.get("email") or email_address.get("emailAddress"),
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "phone": node.get("phone") or phone_number.get("phoneNumber"),
        "tags": ", ".join(str(t) for t in tags) if isinstance(tags, list) else tags or "",
        "note": node.get("note"),
        "state": state.lower() if isinstance(state, str) else None,
        "verified_email": node.get("verifiedEmail"),
        "tax_exempt": node.get("taxExempt"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "accepts_marketing": None if email_consent is None else email_consent["state"] == "subscribed",
        "email_marketing_consent": email_consent,
        "sms_marketing_consent": sms_consent,
        "default_address": _address(node.get("defaultAddress")),
        "addresses": [a for a in map(_address, addresses) if a] if isinstance(addresses, list) else [],
    }


class ShopifyJsonl(Reader):
    """The JSONL result of a GraphQL Admin bulk operation over ``customers`` (one object a line).

    Lines with ``__parentId`` are the rows of a nested connection, not customers: they are passed over.
    """

    format: ClassVar[Format] = "shopify-jsonl"
    kinds: ClassVar[frozenset[Kind]] = frozenset({"shopify"})

    def records(self, stream: IO[str]) -> Iterator[Record]:
        """The customer lines."""
        number = 0
        for line in stream:
            text = line.strip()
            if not text:
                continue
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if number == 0:
                _check_first(data)
            if isinstance(data, dict) and "__parentId" in data:
                continue
            number += 1
            yield Record(number, text, data)

    def payload(self, record: Record) -> Payload:
        """The REST customer resource; ``updatedAt`` is the event time."""
        node = record.data
        if record.data is None:
            raise RowError("line", "is not valid JSON")
        if not isinstance(node, dict):
            raise RowError("line", "is not a JSON object")
        gid = node.get("id")
        if not isinstance(gid, str) or not gid.startswith(CUSTOMER_GID) or not gid[len(CUSTOMER_GID) :].isdigit():
            raise RowError("id", f"is not a customer id ({CUSTOMER_GID}<digits>)")
        body = rest_customer(node)
        updated = body.get("updated_at")
        return Payload(body, updated if isinstance(updated, str) and updated else EPOCH)

    def column(self, field: str, record: Record) -> str:
        """The GraphQL key of an NXCloud field."""
        if field in _PHONE_FIELDS:
            return "phone"
        named = {
            "email": "email",
            "customer": "email",
            "first_name": "firstName",
            "last_name": "lastName",
            "full_name": "firstName",
            "country": "defaultAddress.countryCodeV2",
            "address": "defaultAddress.address1",
            "tagStr": "tags",
            "remark": "note",
        }
        return named.get(field, field)


def _check_first(data: Any) -> None:
    gid = data.get("id") if isinstance(data, dict) else None
    if isinstance(gid, str) and gid.startswith(CUSTOMER_GID):
        return
    found = f"keys {', '.join(map(str, data))}" if isinstance(data, dict) else "a line that is not a JSON object"
    if isinstance(gid, str):
        found = f"id {gid} and {found}"
    raise LayoutError(
        "not the JSONL result of a bulk operation over customers: expected one object a line with "
        f'"id": "{CUSTOMER_GID}<digits>" and keys such as email, firstName, lastName, phone, tags, updatedAt, '
        f"defaultAddress; found {found} on the first line"
    )
