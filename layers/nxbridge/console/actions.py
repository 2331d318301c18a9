"""The actions: replay (form, dry-run preview, confirmed run with progress) and purge (count, confirm, archive).

Each action goes through the replay module exactly as ``nxbridge dlq`` does: plan_replay for the preview,
Replayer for the run, purge for the purge. A confirmed action acts only on the records its preview listed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from nxbridge.console import params
from nxbridge.console.audit import describe_edits, describe_filter
from nxbridge.console.formatting import pretty
from nxbridge.console.jobs import ReplayJob
from nxbridge.console.security import CSRF_FIELD
from nxbridge.console.state import current
from nxbridge.envelope import Envelope, utcnow
from nxbridge.redact import redact, scrub_text
from nxbridge.replay import (
    STAGES,
    Refusal,
    Replayer,
    ReplayRequest,
    ReplaySummary,
    plan_replay,
    purge,
    replay_visibility,
    select,
)

blueprint = Blueprint("actions", __name__)
# The preview prints this many message bodies in full; it counts and confirms all of them.
PREVIEW_BODIES = 20
# Form fields a confirmation does not carry on: the CSRF token is added afresh, the ids become the preview's.
# The hidden field of a confirmation that carries the preview's replay time.
REPLAYED_AT = "replayed_at"
_NOT_CARRIED = frozenset({CSRF_FIELD, "id", "reveal", "expected", REPLAYED_AT})


def _carried(form: MultiDict[str, str], ids: list[str]) -> list[tuple[str, str]]:
    """The hidden fields of a confirmation: the request as submitted, restricted to the records listed."""
    kept = [(k, v) for k, v in form.items(multi=True) if k not in _NOT_CARRIED]
    return kept + [("id", message_id) for message_id in ids]


def _replayed_at(form: MultiDict[str, str]) -> dt.datetime | None:
    """The event time the preview fixed for edited or forced records (None: a form that carries none)."""
    try:
        return dt.datetime.fromisoformat(form.get(REPLAYED_AT, ""))
    except ValueError:
        return None


def _shown(body: str, reveal: bool) -> dict[str, Any]:
    """A message body for the preview: as sent, or with the customer and the failure messages masked (as
    ``dlq show`` masks them; ids and timestamps stay readable)."""
    message: dict[str, Any] = json.loads(body)
    if reveal:
        return message
    history = [{**entry, "errorMessage": scrub_text(entry["errorMessage"])} for entry in message.get("history", [])]
    return {**message, "customer": redact(message["customer"]), "history": history}


def _form_page(error: str | None, values: MultiDict[str, str], status: int = 200) -> Response:
    context = current().context
    page = render_template(
        "replay.html", error=error, values=values, stages=STAGES, default_max_replays=context.max_replays
    )
    return Response(page, status=status)


@blueprint.get("/replay")
def replay_form() -> Response:
    """The replay form, prefilled from the query string (the record page links here with its id)."""
    return _form_page(None, request.args)


@blueprint.post("/replay/preview")
def replay_preview() -> Response:
    """A dry run: exactly the message each matching record would be sent as, or why it would be refused."""
    console = current()
    context = console.context
    try:
        chosen = params.replay_request(request.form)
    except params.FormError as exc:
        return _form_page(str(exc), request.form, status=400)
    # An edited or forced record takes the replay's time as its event time: fixed here and carried to the confirm.
    replayed_at = utcnow()
    options = params.replay_options(
        chosen, default_max_replays=context.max_replays, dry_run=True, replayed_at=replayed_at
    )
    reveal = params.flag(request.form, "reveal")
    planned: list[tuple[str, Envelope]] = []
    refused: list[tuple[str, str]] = []
    with context.scanner() as scanner:
        for message in select(scanner, chosen.dlq_filter, limit=chosen.limit):
            plan = plan_replay(message, options)
            if isinstance(plan, Refusal):
                refused.append((message.message_id, plan.reason if reveal else scrub_text(plan.reason)))
            else:
                planned.append((message.message_id, plan))
    console.audit.record(
        "replay preview",
        matched=len(planned) + len(refused),
        wouldReplay=len(planned),
        refused=len(refused),
        **describe_filter(chosen.dlq_filter),
        **describe_edits(chosen.edits),
    )
    bodies = [(message_id, pretty(_shown(plan.to_message(), reveal))) for message_id, plan in planned[:PREVIEW_BODIES]]
    page = render_template(
        "preview.html",
        planned=planned,
        refused=refused,
        bodies=bodies,
        hidden=[
            *_carried(request.form, [message_id for message_id, _ in planned]),
            (REPLAYED_AT, replayed_at.isoformat()),
        ],
        reveal=reveal,
        edits=chosen.edits,
        can_send=context.queue_url is not None,
    )
    return Response(page)


def _replay_body(chosen: ReplayRequest, replayed_at: dt.datetime | None) -> Callable[..., ReplaySummary]:
    context = current().context
    options = params.replay_options(chosen, default_max_replays=context.max_replays, replayed_at=replayed_at)
    queue_url = context.queue_url
    assert queue_url is not None

    def body(progress: Callable[[ReplaySummary], None], should_stop: Callable[[], bool]) -> ReplaySummary:
        scanner = context.scanner()
        # A batch of ten held messages must not reappear while a slow rate is still sending it.
        scanner.visibility_timeout = replay_visibility(context.visibility_timeout, options.rate)
        return Replayer(context.sqs, queue_url).run(
            scanner, chosen.dlq_filter, options, should_stop=should_stop, progress=progress
        )

    return body


@blueprint.post("/replay/run")
def replay_run() -> BaseResponse:
    """Start the confirmed replay in the background and go to its progress page."""
    console = current()
    try:
        chosen = params.replay_request(request.form)
    except params.FormError as exc:
        return _form_page(str(exc), request.form, status=400)
    if not chosen.id:
        return _form_page("A replay runs only on the records a preview listed: preview it first.", request.form, 400)
    if console.context.queue_url is None:
        return _form_page("No CustomersQueue: start the console with --stack or --queue-url.", request.form, 400)
    audit_fields = {**describe_filter(chosen.dlq_filter), **describe_edits(chosen.edits)}

    def finished(job: ReplayJob) -> None:
        summary = job.snapshot()
        console.audit.record(
            "replay finished",
            job=job.id,
            replayed=summary.replayed,
            refused=summary.refused,
            duplicates=summary.duplicates,
            backInDlq=summary.back_in_dlq,
            failed=summary.failed,
            sentNotDeleted=len(summary.sent_not_deleted),
            interrupted=summary.interrupted,
            error=job.error is not None,
        )

    def started(job: ReplayJob) -> None:
        console.audit.record("replay started", job=job.id, confirmed=len(chosen.id), **audit_fields)

    try:
        job = console.jobs.start(len(chosen.id), _replay_body(chosen, _replayed_at(request.form)), finished, started)
    except RuntimeError as exc:
        return _form_page(str(exc), request.form, status=409)
    return redirect(url_for("actions.job", job_id=job.id), code=303)


@blueprint.get("/jobs/<job_id>")
def job(job_id: str) -> str:
    """A replay's progress (the page reloads itself while it runs, no script needed) and then its result."""
    found = current().jobs.get(job_id)
    if found is None:
        abort(404)
    return render_template("job.html", job=found, summary=found.snapshot(), running=not found.finished.is_set())


@blueprint.post("/jobs/<job_id>/stop")
def stop(job_id: str) -> BaseResponse:
    """Ask a running replay to stop after the record in flight."""
    console = current()
    found = console.jobs.get(job_id)
    if found is None:
        abort(404)
    found.stop_requested.set()
    console.audit.record("replay stop requested", job=found.id)
    return redirect(url_for("actions.job", job_id=found.id), code=303)


@blueprint.post("/purge/preview")
def purge_preview() -> Response:
    """How many records a purge would delete, and a confirmation that names exactly those."""
    console = current()
    try:
        chosen = params.dlq_filter(request.form)
    except params.FormError as exc:
        abort(Response(render_template("error.html", error=str(exc)), status=400))
    with console.context.scanner() as scanner:
        ids = [message.message_id for message in select(scanner, chosen)]
    console.audit.record("purge preview", matched=len(ids), **describe_filter(chosen))
    page = render_template(
        "purge.html", count=len(ids), hidden=_carried(request.form, ids), archive_dir=console.context.archive_dir
    )
    return Response(page)


@blueprint.post("/purge/run")
def purge_run() -> Response:
    """Delete the confirmed records, each batch archived (unmasked, owner-only file) before it is deleted."""
    console = current()
    context = console.context
    try:
        chosen = params.dlq_filter(request.form)
    except params.FormError as exc:
        abort(Response(render_template("error.html", error=str(exc)), status=400))
    expected = params.text(request.form, "expected")
    if not chosen.id or expected != str(len(chosen.id)):
        page = render_template("error.html", error="A purge deletes only the records its confirmation counted.")
        return Response(page, status=400)
    archive = context.archive_dir / dt.datetime.now(dt.UTC).strftime("dlq-purge-%Y%m%dT%H%M%S%fZ.jsonl")
    # The archive holds PII in clear (it is the only copy once deleted): owner-only, never overwritten.
    descriptor = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as sink, context.scanner() as scanner:
        summary = purge(scanner, chosen, sink, archive_name=str(archive))
    console.audit.record(
        "purge",
        confirmed=len(chosen.id),
        deleted=summary.deleted,
        notDeleted=len(summary.not_deleted),
        **describe_filter(chosen),
    )
    return Response(render_template("purged.html", summary=summary))
