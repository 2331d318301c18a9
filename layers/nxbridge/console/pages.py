"""The read-only pages: the overview, the dead letters with their counts, one record, the simulator's customers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, Response, abort, render_template, request, url_for

from nxbridge.console import params
from nxbridge.console.formatting import pretty
from nxbridge.console.state import current
from nxbridge.redact import redact
from nxbridge.replay import AGE_BUCKETS, DlqFilter, approximate_counts, find, select, stats, view

blueprint = Blueprint("pages", __name__)
# A page lists at most this many records; `nxbridge dlq export` is for more.
LIST_LIMIT = 100
# The filter each count of the dead-letters page sets when clicked: (title, query parameter, DlqStats field).
DIMENSIONS: tuple[tuple[str, str, str], ...] = (
    ("Stage", "stage", "by_stage"),
    ("errorCode", "error_code", "by_error_code"),
    ("Endpoint", "endpoint", "by_endpoint"),
    ("Age", "age", "by_age"),
)
NO_ENDPOINT = "(none)"
SIMULATOR_FIRST_COLUMNS = ("customerId", "full_name", "email", "phone", "whats_app_phone", "belong_seat_user")


@blueprint.get("/")
def overview() -> str:
    """The pipeline with its live counts, the endpoints, and the latest actions."""
    console = current()
    context = console.context
    problems: list[str] = []
    try:
        queue = approximate_counts(context.sqs, context.queue_url) if context.queue_url else None
        dlq = approximate_counts(context.sqs, context.dlq_url)
    except (ClientError, BotoCoreError) as exc:
        queue = dlq = None
        problems.append(f"queue counts unavailable: {exc}")
    try:
        figures = context.figures()
    except (ClientError, BotoCoreError) as exc:
        figures = None
        problems.append(f"metrics unavailable: {exc}")
    return render_template(
        "overview.html",
        queue=queue,
        dlq=dlq,
        figures=figures,
        endpoints=context.endpoints(),
        audit=console.audit.recent,
        job=console.jobs.running(),
        problems=problems,
    )


def link(view: str, query: Mapping[str, str | Sequence[str]]) -> str:
    """The URL of ``view`` with ``query`` (url_for's keywords would clash with a filter named ``endpoint``)."""
    pairs = [(k, v) for k, values in query.items() for v in ([values] if isinstance(values, str) else values)]
    return url_for(view) + (f"?{urlencode(pairs)}" if pairs else "")


def _filter_link(args: dict[str, list[str]], parameter: str, value: str) -> str:
    """The dead-letters URL with ``parameter`` set to ``value`` and the other criteria kept."""
    query = {k: v for k, v in args.items() if k != parameter and not (parameter == "age" and k.endswith("_than"))}
    return link("pages.dead_letters", {**query, parameter: [value]})


@blueprint.get("/dlq")
def dead_letters() -> Response | str:
    """Counts by stage, errorCode, endpoint and age (each a one-click filter) and the matching records."""
    context = current().context
    args = request.args.to_dict(flat=False)
    try:
        chosen = params.dlq_filter(request.args)
    except params.FormError as exc:
        return Response(render_template("dlq.html", error=str(exc), counts=None, records=[], args=args), status=400)
    with context.scanner() as scanner:
        counts = stats(scanner, DlqFilter())
    with context.scanner() as scanner:
        records = [view(message) for message in select(scanner, chosen, limit=LIST_LIMIT)]
    tables: list[dict[str, Any]] = []
    for title, parameter, attribute in DIMENSIONS:
        found: dict[str, int] = getattr(counts, attribute)
        keys = AGE_BUCKETS if parameter == "age" else tuple(found)
        active = set(params.items(request.args, parameter))
        rows = [
            {
                "value": key,
                "count": found.get(key, 0),
                # stats() counts records without an endpoint as "(none)", which no filter can select.
                "href": None if key == NO_ENDPOINT and parameter == "endpoint" else _filter_link(args, parameter, key),
                "on": key in active,
            }
            for key in keys
        ]
        tables.append({"title": title, "parameter": parameter, "rows": rows})
    criteria = {k: v for k, v in args.items() if any(x.strip() for x in v)}
    return render_template(
        "dlq.html",
        error=None,
        counts=counts,
        tables=tables,
        records=records,
        criteria=criteria,
        limit=LIST_LIMIT,
        args=args,
    )


@blueprint.get("/dlq/<message_id>")
def record(message_id: str) -> Response | str:
    """One record: its reason, attempts, replays and history, the customer masked unless revealed."""
    console = current()
    reveal = params.flag(request.args, "reveal")
    with console.context.scanner() as scanner:
        found = find(scanner, message_id)
    if found is None:
        page = render_template("missing.html", message_id=message_id)
        return Response(page, status=404)
    if reveal:
        console.audit.record("reveal", what="dlq record", records=1)
    shown = view(found, reveal=reveal)
    return render_template(
        "record.html",
        record=shown,
        reveal=reveal,
        customer_json=pretty(shown.customer) if shown.customer is not None else None,
    )


@blueprint.get("/simulator")
def simulator() -> str:
    """What the NXCloud simulator stored: each customer as NXCloud received it (local stack only)."""
    console = current()
    provider = console.context.stored_customers
    if provider is None:
        abort(404)
    reveal = params.flag(request.args, "reveal")
    customers = provider()
    if reveal:
        console.audit.record("reveal", what="simulator customers", records=len(customers))
    shown = customers if reveal else [redact(c) for c in customers]
    columns = [c for c in SIMULATOR_FIRST_COLUMNS if any(c in row for row in shown)]
    columns += sorted({k for row in shown for k in row} - set(columns))
    return render_template("simulator.html", customers=shown, columns=columns, reveal=reveal)
