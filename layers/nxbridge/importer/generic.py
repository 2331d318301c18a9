"""Any CSV with a header row: columns named by a mapping (column → NXCloud field) or by their common names.

Each row becomes one record in NXCloud's field names, the body a ``standard`` endpoint (phones read by the phone
library, unusable values dropped) or an ``nxcloud`` endpoint (values taken as written) receives.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import IO, Any, ClassVar

from nxbridge.contract import CONTACT_FIELDS
from nxbridge.endpoints import CUSTOM_FIELD_PREFIX, MAPPABLE_FIELDS, PHONE, Kind
from nxbridge.importer.formats import EPOCH, Format, Payload, Reader, Record, RowError, clean, csv_rows
from nxbridge.importer.streams import LayoutError

# The column that says when a row last changed (not an NXCloud field: it is the event time).
UPDATED_AT = "updated_at"
# Common column names (lower case, words joined by "_") -> NXCloud field; NXCloud's own names are taken too.
COMMON_NAMES: dict[str, str] = {
    "name": "full_name",
    "fullname": "full_name",
    "customer_name": "full_name",
    "contact_name": "full_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "e_mail": "email",
    "email_address": "email",
    "mail": "email",
    "phone_number": PHONE,
    "telephone": PHONE,
    "tel": PHONE,
    "mobile": PHONE,
    "mobile_phone": PHONE,
    "cell": PHONE,
    "whatsapp": "whats_app_phone",
    "country_code": "country",
    "street": "address",
    "street_address": "address",
    "tags": "tagStr",
    "tag": "tagStr",
    "tagstr": "tagStr",
    "note": "remark",
    "notes": "remark",
    "comment": "remark",
    "comments": "remark",
    "message": "remark",
    "date_of_birth": "birthday",
    "birth_date": "birthday",
    "dob": "birthday",
    "last_updated": UPDATED_AT,
    "modified": UPDATED_AT,
    "updated": UPDATED_AT,
    "updated_at": UPDATED_AT,
}
_USABLE = frozenset({*CONTACT_FIELDS, PHONE})


def _key(column: str) -> str:
    return re.sub(r"[\s\-]+", "_", column.strip().lower())


def _common(column: str) -> str | None:
    """The NXCloud field a column's name says: its own name (``First Name`` is first_name), or a common one."""
    if column in MAPPABLE_FIELDS:
        return column
    key = _key(column)
    return COMMON_NAMES.get(key) or (key if key in MAPPABLE_FIELDS else None)


def mapping_problems(mapping: Mapping[str, Any]) -> list[str]:
    """What is wrong with a ``--mapping`` document (column → NXCloud field), or nothing."""
    problems = [
        f"{column!r} maps to {target!r}, not a field name"
        for column, target in mapping.items()
        if not isinstance(target, str)
    ]
    unknown = sorted(
        str(t)
        for t in mapping.values()
        if isinstance(t, str) and t not in MAPPABLE_FIELDS and t != UPDATED_AT and not t.startswith(CUSTOM_FIELD_PREFIX)
    )
    if unknown:
        problems.append(
            f"unknown NXCloud field(s) {', '.join(unknown)}; use one of {', '.join(sorted(MAPPABLE_FIELDS))}, "
            f"{CUSTOM_FIELD_PREFIX}<key> or {UPDATED_AT}"
        )
    return problems


class GenericCsv(Reader):
    """A CSV of customers in any layout."""

    format: ClassVar[Format] = "csv"
    kinds: ClassVar[frozenset[Kind]] = frozenset({"standard", "nxcloud"})

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._mapping = dict(mapping) if mapping else None
        self._targets: dict[str, str] = {}

    def records(self, stream: IO[str]) -> Iterator[Record]:
        """The rows."""
        return csv_rows(self, stream, self._check)

    def _check(self, header: list[str]) -> None:
        if self._mapping is not None:
            absent = [column for column in self._mapping if column not in header]
            if absent:
                raise LayoutError(
                    f"the mapping names columns the file does not have: {', '.join(absent)}; "
                    f"found {', '.join(header) or 'no column'}"
                )
            self._targets = dict(self._mapping)
        else:
            # The rejects file's own columns (_row, _column, _reason) start with "_": never customer data.
            self._targets = {c: t for c in header if not c.startswith("_") and (t := _common(c)) is not None}
        if not _USABLE & set(self._targets.values()):
            raise LayoutError(
                f"no column holds a contact: expected one of {', '.join(sorted(_USABLE))} or a common name such as "
                f"Email, Phone, Mobile (or a --mapping); found {', '.join(header) or 'no column'}"
            )

    def payload(self, record: Record) -> Payload:
        """The record in NXCloud's field names; the ``updated_at`` column, if any, is the event time."""
        row: Mapping[str, str] = record.data
        body: dict[str, Any] = {}
        custom: dict[str, str] = {}
        event_at = EPOCH
        for column, target in self._targets.items():
            value = clean(row.get(column))
            if value is None:
                continue
            if target == UPDATED_AT:
                event_at = _utc(column, value)
            elif target.startswith(CUSTOM_FIELD_PREFIX):
                custom[target.removeprefix(CUSTOM_FIELD_PREFIX)] = value
            else:
                body[target] = value
        if custom:
            body["customize_field"] = custom
        return Payload(body, event_at)

    def column(self, field: str, record: Record) -> str:
        """The column mapped to an NXCloud field (the phone's column for a phone field)."""
        by_target = {target: column for column, target in self._targets.items()}
        if field == "customer":
            # "at least one contact is required": every contact column of the file is at fault.
            return "; ".join(column for column, target in self._targets.items() if target in _USABLE) or field
        found = by_target.get(field) or (by_target.get(PHONE) if field in _USABLE else None)
        return found or field


def _utc(column: str, value: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RowError(column, "is not an ISO 8601 time (2024-05-01T10:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
