"""The console's forms and query strings, read into the replay module's own models (DlqFilter, ReplayRequest)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Protocol

from pydantic import ValidationError

from nxbridge.replay import AGE_BUCKETS, DlqFilter, ReplayOptions, ReplayRequest, parse_assignment

FILTER_LISTS: tuple[str, ...] = ("error_code", "stage", "endpoint", "id")
FILTER_TEXTS: tuple[str, ...] = ("older_than", "newer_than", "contains")
# Each age bucket of `dlq stats` as the (newer_than, older_than) durations that select it.
AGE_WINDOWS: dict[str, tuple[str | None, str | None]] = dict(
    zip(AGE_BUCKETS, [("1h", None), ("24h", "1h"), ("7d", "24h"), (None, "7d")], strict=True)
)
_SEPARATORS = re.compile(r"[\s,]+")
_TRUE = frozenset({"1", "on", "true", "yes"})


class FormError(ValueError):
    """A form or query string the console cannot act on; the message says why, for the page."""


class Values(Protocol):
    """Request values as Flask gives them (a MultiDict): every value of a name, in order."""

    def getlist(self, key: str) -> list[str]:
        """All values of ``key``."""
        ...


def items(values: Values, name: str) -> list[str]:
    """The values of a list field: repeated, comma- or line-separated, blanks dropped."""
    return [part for value in values.getlist(name) for part in _SEPARATORS.split(value) if part]


def text(values: Values, name: str) -> str | None:
    """The first non-blank value of a single field, stripped."""
    return next((v.strip() for v in values.getlist(name) if v.strip()), None)


def flag(values: Values, name: str) -> bool:
    """Whether a checkbox or ``?name=1`` is on."""
    return (text(values, name) or "").lower() in _TRUE


def _number(values: Values, name: str) -> int | None:
    raw = text(values, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise FormError(f"{name.replace('_', ' ')} must be a whole number") from None


def _problem(exc: ValidationError) -> FormError:
    return FormError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()))


def filter_fields(values: Values) -> dict[str, Any]:
    """The filter criteria of a request (``age`` is one of AGE_BUCKETS, turned into newer/older than)."""
    fields: dict[str, Any] = {name: tuple(items(values, name)) for name in FILTER_LISTS}
    fields.update({name: text(values, name) for name in FILTER_TEXTS})
    age = text(values, "age")
    if age is not None:
        if age not in AGE_WINDOWS:
            raise FormError(f"unknown age {age!r}; one of {', '.join(AGE_BUCKETS)}")
        newer, older = AGE_WINDOWS[age]
        fields["newer_than"] = fields["newer_than"] or newer
        fields["older_than"] = fields["older_than"] or older
    return fields


def dlq_filter(values: Values) -> DlqFilter:
    """The DlqFilter a request asks for."""
    try:
        return DlqFilter.model_validate(filter_fields(values))
    except ValidationError as exc:
        raise _problem(exc) from None


def replay_request(values: Values) -> ReplayRequest:
    """A replay form as the ReplayFunction's request model: filters, ``set`` lines, dropped fields, options."""
    try:
        assignments = dict(
            parse_assignment(line.strip())
            for value in values.getlist("set")
            for line in value.splitlines()
            if line.strip()
        )
    except ValueError as exc:
        raise FormError(str(exc)) from None
    fields = {
        **filter_fields(values),
        "action": "replay",
        "set": assignments,
        "drop_fields": tuple(items(values, "drop_field")),
        "limit": _number(values, "limit"),
        "max_replays": _number(values, "max_replays"),
        "force": flag(values, "force"),
        "rate": text(values, "rate"),
    }
    try:
        return ReplayRequest.model_validate(fields)
    except ValidationError as exc:
        raise _problem(exc) from None


def replay_options(
    request: ReplayRequest,
    *,
    default_max_replays: int,
    dry_run: bool = False,
    replayed_at: dt.datetime | None = None,
) -> ReplayOptions:
    """The ReplayOptions of a replay request, as the CLI builds them."""
    return ReplayOptions(
        replayed_at=replayed_at,
        dry_run=dry_run,
        limit=request.limit,
        rate=request.rate,
        max_replays=default_max_replays if request.max_replays is None else request.max_replays,
        force=request.force,
        edits=request.edits,
    )
