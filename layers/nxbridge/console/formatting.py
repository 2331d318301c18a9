"""How the console's pages print durations, moments, counts and JSON."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from nxbridge.envelope import utcnow


def age_text(value: float | dt.datetime | None) -> str:
    """A duration (seconds, or the time since a moment) as ``45s``, ``12m``, ``3h 5m`` or ``2d 4h``; ``—`` if None."""
    if value is None:
        return "—"
    seconds = (utcnow() - value).total_seconds() if isinstance(value, dt.datetime) else value
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def when_text(moment: dt.datetime | None) -> str:
    """A moment as ``2025-06-02 10:15:30 UTC``; ``—`` if None."""
    if moment is None:
        return "—"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def count_text(value: int | None) -> str:
    """A count, or ``—`` where the source does not measure it."""
    return "—" if value is None else str(value)


def pretty(value: Any) -> str:
    """JSON for a page: indented, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)
