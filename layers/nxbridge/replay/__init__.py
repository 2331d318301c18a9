"""DLQ operations: read, filter, replay, export and purge CustomersDLQ records, given an injected SQS client.

One module per concern (docs/replay.md states the safety model for users):

- ``records``: one DLQ message whatever its shape (``DlqMessage``, ``parse_message``) and its printable forms.
- ``filters``: ``DlqFilter`` and the time expressions it accepts.
- ``scan``: ``DlqScanner`` (each message once, everything held released at the end), ``select``, ``find``,
  ``stats``.
- ``plan``: customer ``Edits``, ``ReplayOptions`` and ``plan_replay`` (the fresh envelope, or a ``Refusal``).
- ``replayer``: ``Replayer`` (send, then delete), ``RatePacer``, ``ReplaySummary``.
- ``export``: ``write_export`` and ``purge`` (archived and synced before deleting).
- ``queues``: the queue URLs from a stack's outputs, SQS's approximate counts.
- ``request``: the ReplayFunction's ``ReplayRequest`` and ``run_request``.
- ``cli`` and ``terminal``: the ``nxbridge dlq`` command and what it prints; not imported here (Lambda needs
  neither).

The package re-exports the public names of the other modules, so ``from nxbridge.replay import X`` keeps working;
each loads with its first use, so that the ReplayFunction loads what its action needs (``request`` imports the
replay machinery only for a replay), not the whole package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nxbridge.lazy import lazy_exports

if TYPE_CHECKING:
    from nxbridge.replay.errors import ReplayError
    from nxbridge.replay.export import PurgeSummary, purge, write_export
    from nxbridge.replay.filters import STAGES, DlqFilter, parse_when
    from nxbridge.replay.plan import Edits, Refusal, ReplayOptions, parse_assignment, plan_replay
    from nxbridge.replay.queues import (
        DLQ_OUTPUT_FRAGMENT,
        DLQ_OUTPUT_KEY,
        QUEUE_OUTPUT_FRAGMENT,
        QUEUE_OUTPUT_KEY,
        StackQueues,
        approximate_counts,
        queues_from_stack,
    )
    from nxbridge.replay.records import (
        REDRIVE_CODE,
        DlqMessage,
        ExportLine,
        HistoryView,
        RecordView,
        Shape,
        export_line,
        parse_message,
        view,
    )
    from nxbridge.replay.replayer import (
        FRESH_MARGIN,
        OutcomeStatus,
        RatePacer,
        RecordOutcome,
        Replayer,
        ReplaySummary,
        parse_rate,
        replay_visibility,
    )
    from nxbridge.replay.request import LIST_LIMIT_DEFAULT, ReplayRequest, run_request
    from nxbridge.replay.scan import (
        AGE_BUCKETS,
        DlqScanner,
        DlqStats,
        age_bucket,
        find,
        select,
        stats,
    )

# Public name -> the module of the package that defines it.
_LAZY: dict[str, str] = {
    "ReplayError": "errors",
    "PurgeSummary": "export",
    "purge": "export",
    "write_export": "export",
    "STAGES": "filters",
    "DlqFilter": "filters",
    "parse_when": "filters",
    "Edits": "plan",
    "Refusal": "plan",
    "ReplayOptions": "plan",
    "parse_assignment": "plan",
    "plan_replay": "plan",
    "DLQ_OUTPUT_FRAGMENT": "queues",
    "DLQ_OUTPUT_KEY": "queues",
    "QUEUE_OUTPUT_FRAGMENT": "queues",
    "QUEUE_OUTPUT_KEY": "queues",
    "StackQueues": "queues",
    "approximate_counts": "queues",
    "queues_from_stack": "queues",
    "REDRIVE_CODE": "records",
    "DlqMessage": "records",
    "ExportLine": "records",
    "HistoryView": "records",
    "RecordView": "records",
    "Shape": "records",
    "export_line": "records",
    "parse_message": "records",
    "view": "records",
    "FRESH_MARGIN": "replayer",
    "OutcomeStatus": "replayer",
    "RatePacer": "replayer",
    "RecordOutcome": "replayer",
    "Replayer": "replayer",
    "ReplaySummary": "replayer",
    "parse_rate": "replayer",
    "replay_visibility": "replayer",
    "LIST_LIMIT_DEFAULT": "request",
    "ReplayRequest": "request",
    "run_request": "request",
    "AGE_BUCKETS": "scan",
    "DlqScanner": "scan",
    "DlqStats": "scan",
    "age_bucket": "scan",
    "find": "scan",
    "select": "scan",
    "stats": "scan",
}

__all__ = [
    "AGE_BUCKETS",
    "DLQ_OUTPUT_FRAGMENT",
    "DLQ_OUTPUT_KEY",
    "FRESH_MARGIN",
    "LIST_LIMIT_DEFAULT",
    "QUEUE_OUTPUT_FRAGMENT",
    "QUEUE_OUTPUT_KEY",
    "REDRIVE_CODE",
    "STAGES",
    "DlqFilter",
    "DlqMessage",
    "DlqScanner",
    "DlqStats",
    "Edits",
    "ExportLine",
    "HistoryView",
    "OutcomeStatus",
    "PurgeSummary",
    "RatePacer",
    "RecordOutcome",
    "RecordView",
    "Refusal",
    "ReplayError",
    "ReplayOptions",
    "ReplayRequest",
    "ReplaySummary",
    "Replayer",
    "Shape",
    "StackQueues",
    "age_bucket",
    "approximate_counts",
    "export_line",
    "find",
    "parse_assignment",
    "parse_message",
    "parse_rate",
    "parse_when",
    "plan_replay",
    "purge",
    "queues_from_stack",
    "replay_visibility",
    "run_request",
    "select",
    "stats",
    "view",
    "write_export",
]


__getattr__ = lazy_exports(__name__, _LAZY, globals())
