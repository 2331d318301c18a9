"""WooCommerce's REST API: what ``GET /wp-json/wc/v3/customers`` returns, one page or several concatenated.

A REST customer is already what a ``customer.updated`` webhook carries; ``date_modified_gmt`` is its event time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any, ClassVar

from nxbridge.endpoints import Kind
from nxbridge.importer.formats import EPOCH, Format, Payload, Reader, Record, RowError, clean
from nxbridge.importer.streams import JsonArrays, LayoutError

CUSTOMER_KEYS = ("id", "email", "first_name", "last_name", "username", "billing", "shipping")
_REQUIRED = frozenset({"id", "email", "billing", "shipping"})
# WooCommerce writes GMT times without a zone designator.
_TIME_KEYS = ("date_modified_gmt", "date_created_gmt")
_PHONE_FIELDS = frozenset({"phone", "sms_phone", "whats_app_phone", "viber_phone", "zalo"})


class WooCommerceJson(Reader):
    """A JSON array of WooCommerce REST customers (pages one after the other are one list)."""

    format: ClassVar[Format] = "woocommerce-json"
    kinds: ClassVar[frozenset[Kind]] = frozenset({"woocommerce"})
    # Every REST customer has one billing object: about one mark per customer.
    marker: ClassVar[bytes] = b'"billing"'

    def records(self, stream: IO[str]) -> Iterator[Record]:
        """The customers, read element by element."""
        for number, (value, text) in enumerate(JsonArrays(stream), start=1):
            if number == 1:
                _check_first(value)
            yield Record(number, text, value)

    def payload(self, record: Record) -> Payload:
        """The customer as it is; its last modification (GMT) is the event time."""
        customer = record.data
        if not isinstance(customer, dict):
            raise RowError("customer", "is not a JSON object")
        body = dict(customer)
        event_at = next((f"{t}Z" for t in (clean(body.get(k)) for k in _TIME_KEYS) if t), None)
        if event_at is None:
            # The time a webhook reads, set to the oldest there is: an import never outdates a newer webhook.
            body["date_modified_gmt"] = EPOCH.removesuffix("Z")
        return Payload(body, event_at or EPOCH)

    def column(self, field: str, record: Record) -> str:
        """The REST key of an NXCloud field."""
        if field in _PHONE_FIELDS:
            return "billing.phone"
        named = {
            "customer": "email",
            "full_name": "first_name",
            "country": "billing.country",
            "address": "billing.address_1",
            "remark": "customer_note",
        }
        return named.get(field, field)


def _check_first(value: Any) -> None:
    if isinstance(value, dict) and value.keys() >= _REQUIRED:
        return
    if isinstance(value, dict):
        missing = sorted(_REQUIRED - value.keys())
        found = f"an object with keys {', '.join(map(str, value)) or 'none'} (missing {', '.join(missing)})"
    else:
        found = f"a JSON {type(value).__name__}"
    raise LayoutError(
        "not WooCommerce REST customers (GET /wp-json/wc/v3/customers): expected a JSON array of objects with "
        f"the keys {', '.join(CUSTOMER_KEYS)}; found {found} first"
    )
