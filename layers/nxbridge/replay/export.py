"""Export, purge and erase: matching DLQ records written as JSONL; deleted once their archive is on disk (purge), or
deleted with no copy kept (erase: a privacy request, whose point is that nothing remains)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO, Literal

from pydantic import BaseModel, Field

from nxbridge.aws.sqs import MAX_BATCH_ENTRIES
from nxbridge.observability import logger
from nxbridge.replay.filters import DlqFilter
from nxbridge.replay.records import DlqMessage, export_line
from nxbridge.replay.scan import DlqScanner, select


def write_export(messages: Iterable[DlqMessage], out: IO[str], *, reveal: bool = False) -> int:
    """Write records as JSONL; return how many lines were written."""
    count = 0
    for message in messages:
        out.write(export_line(message, reveal=reveal).model_dump_json() + "\n")
        count += 1
    return count


def _sync(out: IO[str]) -> None:
    """Force written lines to disk, so that the archive survives a crash right after the deletes."""
    try:
        os.fsync(out.fileno())
    except (OSError, ValueError):
        # An in-memory or piped output has no file to sync; what was written is as durable as it gets.
        return


class PurgeSummary(BaseModel):
    """What a purge deleted and where it archived it first."""

    action: Literal["purge"] = "purge"
    archive: str
    scanned: int = 0
    archived: int = 0
    deleted: int = 0
    not_deleted: list[str] = Field(default_factory=list)


def purge(
    scanner: DlqScanner,
    dlq_filter: DlqFilter,
    archive: IO[str],
    *,
    archive_name: str,
    limit: int | None = None,
) -> PurgeSummary:
    """Delete matching records, each batch written (unmasked) and synced to ``archive`` before it is deleted."""
    summary = PurgeSummary(archive=archive_name)
    batch: list[DlqMessage] = []

    def flush() -> None:
        if not batch:
            return
        summary.archived += write_export(batch, archive, reveal=True)
        archive.flush()
        _sync(archive)
        failed = scanner.delete_many([m.message_id for m in batch])
        summary.deleted += len(batch) - len(failed)
        summary.not_deleted.extend(failed)
        batch.clear()

    for message in select(scanner, dlq_filter, limit=limit):
        batch.append(message)
        if len(batch) == MAX_BATCH_ENTRIES:
            flush()
    flush()
    summary.scanned = scanner.scanned
    logger.info("DLQ purge", extra={"deleted": summary.deleted, "notDeleted": len(summary.not_deleted)})
    return summary


class EraseSummary(BaseModel):
    """What an erase deleted (no archive: the records are gone)."""

    action: Literal["erase"] = "erase"
    scanned: int = 0
    erased: int = 0
    not_erased: list[str] = Field(default_factory=list)


def erase(scanner: DlqScanner, dlq_filter: DlqFilter) -> EraseSummary:
    """Delete every matching record, keeping no copy (a privacy request); ids that could not be deleted are listed."""
    summary = EraseSummary()
    batch: list[str] = []
    for message in select(scanner, dlq_filter):
        batch.append(message.message_id)
        if len(batch) == MAX_BATCH_ENTRIES:
            summary.not_erased.extend(scanner.delete_many(batch))
            summary.erased += len(batch)
            batch.clear()
    if batch:
        summary.not_erased.extend(scanner.delete_many(batch))
        summary.erased += len(batch)
    summary.erased -= len(summary.not_erased)
    summary.scanned = scanner.scanned
    return summary
