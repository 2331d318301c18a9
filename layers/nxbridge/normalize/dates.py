"""Dates as NXCloud wants them (``yyyy-MM-dd``), from the forms senders really send."""

from __future__ import annotations

import datetime as dt
import re

# A calendar date, optionally followed by a time of day and a zone: 1976-04-12, 1976-04-12T00:00:00Z,
# 1976-04-12 00:00:00.000+02:00 (a Typeform date answer, a shop's date-time field, a database export).
_TIME = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
_DATE_TIME = re.compile(rf"(\d{{4}}-\d{{2}}-\d{{2}})(?:[T ]{_TIME})?", re.ASCII)


def iso_date(text: str) -> str | None:
    """``yyyy-MM-dd`` for a real date written in ISO 8601 (with or without a time); None for anything else.

    A time and zone are checked but not applied: a birthday is the date the sender wrote, not a UTC instant.
    """
    text = text.strip()
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        return None
    try:
        day = dt.date.fromisoformat(match.group(1))
        if match.end(1) < len(text):
            dt.datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        return None
    return day.isoformat()
