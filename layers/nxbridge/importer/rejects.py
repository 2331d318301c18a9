"""The rejects file: for each record that cannot be a customer, its number, the column at fault, why, and the record.

A CSV: ``_row,_column,_reason`` and then the file's own columns (for CSV formats) or ``_original`` (the record's
JSON). The leading ``_`` keeps these three out of any mapping, so that the fixed file imports as it is. It holds
customer data in clear: created owner-only.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from nxbridge.importer.formats import Record

OWN_COLUMNS = ("_row", "_column", "_reason")
ORIGINAL = "_original"


class RejectsFile:
    """Appends refused records; ``keep`` bytes of an earlier run's file are kept (those it had when it stopped)."""

    def __init__(self, path: Path, *, keep: int = 0) -> None:
        self.path = path
        self._keep = keep
        self._stream: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None
        self._columns: list[str] = []
        self.count = 0

    def write(self, record: Record, columns: Sequence[str] | None, column: str, reason: str) -> None:
        """Add one refused record, with the file's columns (None for JSON formats)."""
        if self._stream is None:
            self._open(columns)
        row = {"_row": str(record.number), "_column": column, "_reason": reason}
        if isinstance(record.original, str):
            row[ORIGINAL] = record.original
        else:
            row.update((name, record.original.get(name, "")) for name in self._columns[len(OWN_COLUMNS) :])
        assert self._writer is not None
        self._writer.writerow(row)
        self.count += 1

    def size(self) -> int:
        """The bytes written so far (what a resumed run keeps)."""
        if self._stream is None:
            return self._keep
        self._stream.flush()
        return os.fstat(self._stream.fileno()).st_size

    def close(self) -> None:
        """Flush and close the file."""
        if self._stream is not None:
            self._stream.close()

    def _open(self, columns: Sequence[str] | None) -> None:
        resumed = self._keep > 0 and self.path.exists()
        # A rejects file imported again brings its own _row, _column, _reason: they are replaced, not repeated.
        own = [c for c in columns if c not in OWN_COLUMNS] if columns is not None else [ORIGINAL]
        self._columns = [*OWN_COLUMNS, *own]
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.ftruncate(descriptor, self._keep if resumed else 0)
        os.lseek(descriptor, 0, os.SEEK_END)
        # A BOM at the start, so that Excel reads the file as UTF-8; none in the middle of a resumed file.
        encoding = "utf-8" if resumed else "utf-8-sig"
        self._stream = os.fdopen(descriptor, "w", encoding=encoding, newline="")
        self._writer = csv.DictWriter(self._stream, self._columns, extrasaction="ignore")
        if not resumed:
            self._writer.writeheader()
