"""The audit log: one JSON line per console action, saying what was done and to how many records, never PII."""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Callable
from typing import Any

from nxbridge.envelope import utcnow
from nxbridge.replay import DlqFilter, Edits

AuditValue = str | int | bool | list[str] | None


def describe_filter(dlq_filter: DlqFilter) -> dict[str, AuditValue]:
    """A filter as audit fields: codes, stages and endpoints as given; ids counted; free text only flagged."""
    return {
        "errorCode": list(dlq_filter.error_code),
        "stage": list(dlq_filter.stage),
        "endpoint": list(dlq_filter.endpoint),
        "ids": len(dlq_filter.id),
        "olderThan": dlq_filter.older_than.isoformat() if dlq_filter.older_than else None,
        "newerThan": dlq_filter.newer_than.isoformat() if dlq_filter.newer_than else None,
        # The substring may be a phone number or an address: only whether one was given.
        "contains": dlq_filter.contains is not None,
    }


def describe_edits(edits: Edits) -> dict[str, AuditValue]:
    """Edits as audit fields: the field names, never the values set (a seat or a phone is PII)."""
    return {"setFields": sorted(edits.set_fields), "dropFields": sorted(edits.drop_fields)}


class AuditLog:
    """Hands each action as a JSON line to ``sink`` (if any) and keeps the latest ones for the overview."""

    def __init__(self, sink: Callable[[str], None] | None = None, *, keep: int = 20) -> None:
        self.sink = sink
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def record(self, action: str, **fields: AuditValue) -> dict[str, Any]:
        """Log one action with its counts and filter; returns the line as written."""
        line: dict[str, Any] = {"time": utcnow().isoformat(timespec="seconds"), "audit": action, **fields}
        with self._lock:
            self._recent.append(line)
            if self.sink is not None:
                self.sink(json.dumps(line, ensure_ascii=False))
        return line

    @property
    def recent(self) -> list[dict[str, Any]]:
        """The latest lines, newest first."""
        with self._lock:
            return list(reversed(self._recent))
