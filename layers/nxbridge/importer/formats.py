"""What every import format shares: a record of the file, the reader that turns records into webhook payloads."""

from __future__ import annotations

import csv
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, ClassVar, Literal

from nxbridge.endpoints import Kind
from nxbridge.importer.streams import LayoutError

Format = Literal["shopify-csv", "shopify-jsonl", "woocommerce-json", "csv"]
FORMATS: tuple[Format, ...] = ("shopify-csv", "shopify-jsonl", "woocommerce-json", "csv")
# The event time of a record whose format has none (Shopify's CSV export): older than anything a webhook carries,
# so that the drain's per-customer watermark keeps whatever a webhook already delivered.
EPOCH = "1970-01-01T00:00:00Z"


class RowError(Exception):
    """A record that cannot be a customer payload: the column (or JSON key) at fault and why."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class Record:
    """One customer as the file holds it: its position among the file's customers (from 1), and its content."""

    number: int
    # A CSV row by column name, or the JSON text of the record (for the rejects file).
    original: Mapping[str, str] | str
    # A CSV row by column name, or the decoded JSON value (None when the text is not JSON).
    data: Any


@dataclass(frozen=True)
class Payload:
    """A record in the shape its platform's webhook carries, and when the record last changed (ISO 8601, UTC)."""

    body: dict[str, Any]
    event_at: str


class Reader(ABC):
    """One file format: its records, each as the payload of the webhook kind that carries that shape."""

    format: ClassVar[Format]
    # The endpoint kinds whose webhooks carry this shape; their mapping and defaults apply to the records.
    kinds: ClassVar[frozenset[Kind]]
    # Counted in the file's bytes to estimate how many records it holds (for the time left on the progress bar).
    marker: ClassVar[bytes] = b"\n"

    def __init__(self) -> None:
        # The header of a CSV file, once read: the rejects file repeats it.
        self.columns: list[str] | None = None

    @abstractmethod
    def records(self, stream: IO[str]) -> Iterator[Record]:
        """The file's records in order; LayoutError (before the first) when the file is of another layout."""

    @abstractmethod
    def payload(self, record: Record) -> Payload:
        """The webhook payload of one record; RowError when it cannot be one."""

    def column(self, field: str, record: Record) -> str:
        """The column (or JSON key) an NXCloud field's value came from, to name it in the rejects file."""
        return field


def csv_rows(reader: Reader, stream: IO[str], check: Callable[[list[str]], None]) -> Iterator[Record]:
    """The data rows of a CSV file with a header row, by column name; ``check(header)`` raises LayoutError.

    Blank lines are skipped; a row shorter than the header has its missing cells empty.
    """
    rows = csv.reader(stream)
    header = next(rows, None)
    if header is None:
        raise LayoutError("the file is empty: expected a header row")
    columns = [name.strip() for name in header]
    check(columns)
    reader.columns = columns
    number = 0
    for cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        number += 1
        row = dict(zip(columns, cells, strict=False))
        if len(cells) < len(columns):
            row.update((name, "") for name in columns[len(cells) :])
        yield Record(number, row, row)


def require_columns(found: Sequence[str], required: Sequence[str], what: str, expected: Sequence[str]) -> None:
    """LayoutError naming ``expected`` and what the header holds when it lacks one of ``required``."""
    present = set(found)
    missing = [name for name in required if name not in present]
    if missing:
        raise LayoutError(
            f"not {what}: expected the columns {', '.join(expected)}; "
            f"missing {', '.join(missing)}; found {', '.join(found) or 'no column'}"
        )


def clean(value: Any) -> str | None:
    """A cell or JSON value as trimmed text; None when empty or not text."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None
