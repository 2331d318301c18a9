"""The one error of the DLQ tools that is not about a single record."""

from __future__ import annotations


class ReplayError(Exception):
    """An operation could not run at all (bad configuration, unreachable queue)."""
