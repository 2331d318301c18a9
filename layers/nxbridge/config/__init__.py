"""Typed settings, read once from the environment (the template sets them; the local stack too).

One module per function (``ingest``, ``drain``, ``dlq`` for the replay and ``nxbridge dlq``), each class loaded
with its first use, so that a function builds its own settings model and not the others' on every cold start.
``from nxbridge.config import DrainSettings`` works as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nxbridge import facts
from nxbridge.lazy import lazy_exports

if TYPE_CHECKING:
    from nxbridge.config.dlq import DlqSettings, ReplaySettings
    from nxbridge.config.drain import DrainSettings
    from nxbridge.config.ingest import IngestSettings

# The replay guard, stated in nxbridge.facts: the ReplayFunction, the CLI's defaults and the replay logic read it.
MAX_REPLAYS = facts.MAX_REPLAYS
# How long a scan hides the DLQ messages it reads, and how long an empty receive waits (long polling queries
# every SQS server, so an empty answer means the queue has no visible message left).
SCAN_VISIBILITY_TIMEOUT = 120
SCAN_WAIT_SECONDS = 1

# Settings class -> the module that defines it.
_MODULES = {
    "IngestSettings": "ingest",
    "DrainSettings": "drain",
    "DlqSettings": "dlq",
    "ReplaySettings": "dlq",
}

__all__ = [
    "MAX_REPLAYS",
    "SCAN_VISIBILITY_TIMEOUT",
    "SCAN_WAIT_SECONDS",
    "DlqSettings",
    "DrainSettings",
    "IngestSettings",
    "ReplaySettings",
]


__getattr__ = lazy_exports(__name__, _MODULES, globals())
