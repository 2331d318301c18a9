"""``nxbridge dlq``: inspect, filter, replay, export and purge the CustomersDLQ, against AWS or the local stack."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from nxbridge.observability import logger
from nxbridge.replay import (
    AGE_BUCKETS,
    STAGES,
    DlqFilter,
    DlqScanner,
    Edits,
    Replayer,
    ReplayError,
    ReplayOptions,
    ReplaySummary,
    approximate_counts,
    find,
    parse_assignment,
    parse_rate,
    purge,
    queues_from_stack,
    replay_visibility,
    select,
    stats,
    view,
    write_export,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_sqs import SQSClient

EXIT_OK = 0
EXIT_INCOMPLETE = 1  # something matched was refused, failed, or the run was interrupted
EXIT_USAGE = 2
EXIT_POSSIBLE_DUPLICATE = 3  # a replay was sent but its DLQ message could not be deleted


class Clients:
    """The AWS clients a command uses; tests inject moto-backed or instrumented ones."""

    def __init__(
        self,
        sqs: SQSClient,
        cloudformation: CloudFormationClient | None = None,
        *,
        make_cloudformation: Callable[[], CloudFormationClient] | None = None,
    ) -> None:
        self.sqs = sqs
        self._cloudformation = cloudformation
        self._make_cloudformation = make_cloudformation

    @property
    def cloudformation(self) -> CloudFormationClient:
        """The CloudFormation client, created on first use (only --stack needs it)."""
        if self._cloudformation is None:
            if self._make_cloudformation is None:
                raise ReplayError("no CloudFormation client to read --stack with")
            self._cloudformation = self._make_cloudformation()
        return self._cloudformation


@dataclass(frozen=True)
class Io:
    """Where a command writes: data to ``out``, progress and messages to ``err``."""

    out: IO[str]
    err: IO[str]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``nxbridge dlq`` and its actions."""
    dlq = subparsers.add_parser(
        "dlq",
        help="inspect, filter, replay, export and purge the CustomersDLQ",
        description="Inspect, filter, replay, export and purge the CustomersDLQ, against AWS or the local stack.",
    )
    actions = dlq.add_subparsers(dest="dlq_action", required=True, metavar="ACTION")
    common, filters = _common_options(), _filter_options()

    p = actions.add_parser("stats", parents=[common, filters], help="counts by stage, errorCode, endpoint and age")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run, dlq_run=_stats)

    p = actions.add_parser("list", parents=[common, filters], help="records with their reason (PII masked)")
    p.add_argument("--limit", type=_positive_int, help="list at most N records")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--reveal", action="store_true", help="show PII unmasked")
    p.set_defaults(func=run, dlq_run=_list)

    p = actions.add_parser("show", parents=[common], help="one record in full (PII masked)")
    p.add_argument("message_id", metavar="ID", help="the DLQ message id (from dlq list)")
    p.add_argument("--reveal", action="store_true", help="show PII unmasked")
    p.add_argument("--json", action="store_true", help="accepted for symmetry: show always prints JSON")
    p.set_defaults(func=run, dlq_run=_show)

    p = actions.add_parser("replay", parents=[common, filters], help="send matching records back to the queue")
    p.add_argument("--dry-run", action="store_true", help="change nothing; report what would happen")
    p.add_argument("--rate", type=_rate, help="at most this many sends, e.g. 10/s or 300/m")
    p.add_argument("--limit", type=_positive_int, help="act on at most N matching records")
    p.add_argument(
        "--max-replays",
        type=_non_negative_int,
        default=None,
        help="refuse records already replayed this many times (default: MAX_REPLAYS or 3)",
    )
    p.add_argument("--force", action="store_true", help="replay even records over --max-replays")
    p.add_argument(
        "--set",
        dest="set_fields",
        action="append",
        type=_assignment,
        default=[],
        metavar="FIELD=VALUE",
        help="set a customer field before replaying (repeatable)",
    )
    p.add_argument(
        "--drop-field", action="append", default=[], metavar="FIELD", help="remove a customer field (repeatable)"
    )
    p.add_argument("--json", action="store_true", help="print the JSON summary even on a terminal")
    p.set_defaults(func=run, dlq_run=_replay)

    p = actions.add_parser("export", parents=[common, filters], help="write matching records to a JSONL file")
    p.add_argument("--out", required=True, help="file to write ('-' for standard output)")
    p.add_argument("--limit", type=_positive_int, help="export at most N records")
    p.add_argument("--reveal", action="store_true", help="write PII unmasked")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run, dlq_run=_export)

    p = actions.add_parser("purge", parents=[common, filters], help="delete matching records (archived first)")
    p.add_argument("--yes", action="store_true", help="really delete; without it purge refuses")
    p.add_argument("--out", help="archive file (default: dlq-purge-<UTC time>.jsonl); must not exist")
    p.add_argument("--limit", type=_positive_int, help="purge at most N records")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run, dlq_run=_purge)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("queues and AWS")
    group.add_argument("--stack", help="CloudFormation stack whose outputs name the queues")
    group.add_argument("--queue-url", help="CustomersQueue URL (default: stack output or QUEUE_URL)")
    group.add_argument("--dlq-url", help="CustomersDLQ URL (default: stack output or DLQ_URL)")
    group.add_argument("--region", help="AWS region (default: AWS_REGION / profile)")
    group.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    group.add_argument("--endpoint-url", help="AWS endpoint (default: AWS_ENDPOINT_URL), e.g. the local stack")
    group.add_argument(
        "--visibility-timeout",
        type=_positive_int,
        default=120,
        help="seconds a scan hides the messages it reads (released at the end); default 120",
    )
    group.add_argument(
        "--wait-seconds",
        type=_non_negative_int,
        default=1,
        help="long-poll wait of each receive; 0 only for local emulators; default 1",
    )
    return common


def _filter_options() -> argparse.ArgumentParser:
    filters = argparse.ArgumentParser(add_help=False)
    group = filters.add_argument_group("filters (all must hold; a repeated option matches any of its values)")
    group.add_argument("--error-code", action="append", default=[], help="errorCode, e.g. 12148 or maxReceiveCount")
    group.add_argument("--stage", action="append", default=[], choices=STAGES, help="failure stage")
    group.add_argument("--endpoint", action="append", default=[], help="webhook endpoint name")
    group.add_argument("--older-than", help="failed before: a duration (30m, 2h, 7d) ago or an ISO timestamp")
    group.add_argument("--newer-than", help="failed at or after: a duration (30m, 2h, 7d) ago or an ISO timestamp")
    group.add_argument("--contains", help="case-insensitive substring of the raw message body")
    group.add_argument("--id", action="append", default=[], help="DLQ message id")
    return filters


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _rate(text: str) -> float:
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _assignment(text: str) -> tuple[str, str]:
    try:
        return parse_assignment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def make_clients(args: argparse.Namespace) -> Clients:
    """boto3 clients configured like the AWS CLI: profile, region, and AWS_ENDPOINT_URL unless --endpoint-url."""
    # botocore reads AWS_DEFAULT_REGION but not AWS_REGION, which the AWS CLI (and Lambda) also honour.
    region = args.region or os.environ.get("AWS_REGION") or None
    session = boto3.Session(profile_name=args.profile, region_name=region)
    return Clients(
        sqs=session.client("sqs", endpoint_url=args.endpoint_url),
        make_cloudformation=lambda: session.client("cloudformation", endpoint_url=args.endpoint_url),
    )


@dataclass(frozen=True)
class Target:
    """The queues a command works on."""

    queue_url: str | None
    dlq_url: str


def resolve_target(args: argparse.Namespace, clients: Clients, env: dict[str, str] | None = None) -> Target:
    """Explicit URLs first, then the stack's outputs, then QUEUE_URL/DLQ_URL."""
    environ = dict(os.environ) if env is None else env
    queue_url, dlq_url = args.queue_url, args.dlq_url
    if args.stack and not (queue_url and dlq_url):
        found = queues_from_stack(clients.cloudformation, args.stack)
        queue_url, dlq_url = queue_url or found.queue_url, dlq_url or found.dlq_url
    queue_url = queue_url or environ.get("QUEUE_URL") or None
    dlq_url = dlq_url or environ.get("DLQ_URL") or None
    if not dlq_url:
        raise ReplayError("no DLQ: give --stack, --dlq-url or set DLQ_URL")
    return Target(queue_url=queue_url, dlq_url=dlq_url)


def run(
    args: argparse.Namespace,
    *,
    clients: Clients | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """Run one ``nxbridge dlq`` action; returns the exit status."""
    io = Io(out=out or sys.stdout, err=err or sys.stderr)
    try:
        with _logs_to(io.err):
            dlq_filter = _filter(args)
            active = clients or make_clients(args)
            target = resolve_target(args, active)
            status: int = args.dlq_run(args, active, target, dlq_filter, io)
    except (ReplayError, ValueError, OSError) as exc:
        _say(io.err, f"nxbridge dlq: {exc}")
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as exc:
        _say(io.err, f"nxbridge dlq: AWS error: {exc}")
        return EXIT_USAGE
    return status


@contextlib.contextmanager
def _logs_to(err: IO[str]) -> Iterator[None]:
    """Keep the package's JSON logs out of the command's output: warnings and errors only, on stderr."""
    handler = logger.registered_handler
    level = logger.log_level
    stream = handler.setStream(err) if isinstance(handler, logging.StreamHandler) else None
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)
        if stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def _filter(args: argparse.Namespace) -> DlqFilter:
    try:
        return DlqFilter(
            error_code=tuple(getattr(args, "error_code", [])),
            stage=tuple(getattr(args, "stage", [])),
            endpoint=tuple(getattr(args, "endpoint", [])),
            older_than=getattr(args, "older_than", None),
            newer_than=getattr(args, "newer_than", None),
            contains=getattr(args, "contains", None),
            id=tuple(getattr(args, "id", [])),
        )
    except ValidationError as exc:
        raise ReplayError("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())) from None


def _scanner(args: argparse.Namespace, clients: Clients, target: Target) -> DlqScanner:
    return DlqScanner(
        clients.sqs, target.dlq_url, visibility_timeout=args.visibility_timeout, wait_seconds=args.wait_seconds
    )


def _say(stream: IO[str], text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def _dump(stream: IO[str], value: Any, *, indent: int | None = None) -> None:
    _say(stream, json.dumps(value, ensure_ascii=False, indent=indent, default=str))


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def _age(moment: dt.datetime) -> str:
    seconds = max(0, int((dt.datetime.now(dt.UTC) - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _stats(args: argparse.Namespace, clients: Clients, target: Target, dlq_filter: DlqFilter, io: Io) -> int:
    approximate = approximate_counts(clients.sqs, target.dlq_url)
    with _scanner(args, clients, target) as scanner:
        counted = stats(scanner, dlq_filter)
    if args.json:
        _dump(io.out, {"action": "stats", **counted.model_dump(mode="json"), "approximate": approximate})
        return EXIT_OK
    _say(
        io.out,
        f"{counted.total} records (SQS approximate: {approximate['visible']} visible, "
        f"{approximate['in_flight']} in flight)",
    )
    for title, counts in (
        ("stage", counted.by_stage),
        ("errorCode", counted.by_error_code),
        ("endpoint", counted.by_endpoint),
        ("age", {b: counted.by_age[b] for b in AGE_BUCKETS}),
    ):
        _say(io.out, "")
        _say(io.out, _table([[k, str(v)] for k, v in counts.items()], [title.upper(), "COUNT"]))
    return EXIT_OK


def _list(args: argparse.Namespace, clients: Clients, target: Target, dlq_filter: DlqFilter, io: Io) -> int:
    with _scanner(args, clients, target) as scanner:
        records = [view(m, reveal=args.reveal) for m in select(scanner, dlq_filter, limit=args.limit)]
    if args.json:
        _dump(io.out, {"count": len(records), "records": [r.model_dump(mode="json") for r in records]})
        return EXIT_OK
    rows = [
        [
            r.message_id,
            _age(r.failed_at),
            r.stage,
            r.errorCode,
            r.endpoint or "-",
            str(r.replay_count),
            (r.errorMessage[:57] + "...") if len(r.errorMessage) > 60 else r.errorMessage,
        ]
        for r in records
    ]
    _say(io.out, _table(rows, ["MESSAGE ID", "AGE", "STAGE", "CODE", "ENDPOINT", "REPLAYS", "REASON"]))
    _say(io.err, f"{len(records)} record(s)")
    return EXIT_OK


def _show(args: argparse.Namespace, clients: Clients, target: Target, dlq_filter: DlqFilter, io: Io) -> int:
    with _scanner(args, clients, target) as scanner:
        found = find(scanner, args.message_id)
    if found is None:
        _say(io.err, f"nxbridge dlq: no message {args.message_id} in the DLQ (or another reader holds it right now)")
        return EXIT_INCOMPLETE
    _dump(io.out, view(found, reveal=args.reveal).model_dump(mode="json"), indent=2)
    return EXIT_OK


def _export(args: argparse.Namespace, clients: Clients, target: Target, dlq_filter: DlqFilter, io: Io) -> int:
    with contextlib.ExitStack() as stack:
        sink = io.out if args.out == "-" else stack.enter_context(open(args.out, "w", encoding="utf-8"))
        scanner = stack.enter_context(_scanner(args, clients, target))
        count = write_export(select(scanner, dlq_filter, limit=args.limit), sink, reveal=args.reveal)
        scanned = scanner.scanned
    summary = {"action": "export", "out": args.out, "exported": count, "scanned": scanned, "revealed": args.reveal}
    if args.json:
        _dump(io.err if args.out == "-" else io.out, summary)
    else:
        _say(io.err, f"exported {count} of {scanned} record(s) to {args.out}")
    return EXIT_OK


def _purge(args: argparse.Namespace, clients: Clients, target: Target, dlq_filter: DlqFilter, io: Io) -> int:
    if not args.yes:
        _say(
            io.err,
            "nxbridge dlq purge: refusing to delete without --yes (see `nxbridge dlq list` with the same filters)",
        )
        return EXIT_USAGE
    name = args.out or dt.datetime.now(dt.UTC).strftime("dlq-purge-%Y%m%dT%H%M%SZ.jsonl")
    # The archive holds PII in clear (it is the only copy once deleted): owner-only, never overwritten.
    descriptor = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as archive, _scanner(args, clients, target) as scanner:
        summary = purge(scanner, dlq_filter, archive, archive_name=name, limit=args.limit)
    if args.json:
        _dump(io.out, summary.model_dump(mode="json"))
    else:
        _say(io.out, f"deleted {summary.deleted} record(s); archived {summary.archived} to {name}")
        for message_id in summary.not_deleted:
            _say(io.out, f"not deleted (still in the DLQ): {message_id}")
    return EXIT_OK if not summary.not_deleted else EXIT_INCOMPLETE


class ProgressBar:
    """A one-line progress bar on a terminal (stderr); no dependency.

    With a limit it counts matching records towards it, otherwise scanned records towards the DLQ's size.
    """

    WIDTH = 30

    def __init__(self, stream: IO[str], total: int | None, *, count_matched: bool) -> None:
        self.stream = stream
        self.total = total
        self.count_matched = count_matched

    def update(self, summary: ReplaySummary) -> None:
        """Redraw the bar for the records handled so far."""
        done = summary.matched if self.count_matched else summary.scanned
        if self.total:
            filled = min(self.WIDTH, self.WIDTH * done // self.total)
            bar = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total}"
        else:
            bar = f"{done} scanned"
        verb = "would replay" if summary.dry_run else "replayed"
        count = summary.would_replay if summary.dry_run else summary.replayed
        self.stream.write(f"\r{bar}  {verb} {count}  refused {summary.refused}  duplicates {summary.duplicates}")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        self.stream.write("\n")
        self.stream.flush()


@contextlib.contextmanager
def stop_requests(err: IO[str]) -> Iterator[Callable[[], bool]]:
    """Turn the first Ctrl-C/SIGTERM into a stop request honoured between records; a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    requested = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()
        err.write("\nstopping after the record in flight (press Ctrl-C again to abort at once)\n")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested.is_set
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _replay(args: argparse.Namespace, clients: Clients, target: Target, dlq_filter: DlqFilter, io: Io) -> int:
    if not target.queue_url:
        raise ReplayError("no CustomersQueue: give --stack, --queue-url or set QUEUE_URL")
    max_replays = args.max_replays if args.max_replays is not None else int(os.environ.get("MAX_REPLAYS") or 3)
    options = ReplayOptions(
        dry_run=args.dry_run,
        limit=args.limit,
        rate=args.rate,
        max_replays=max_replays,
        force=args.force,
        edits=Edits(set_fields=dict(args.set_fields), drop_fields=tuple(args.drop_field)),
    )
    bar: ProgressBar | None = None
    if io.err.isatty():
        total = args.limit or approximate_counts(clients.sqs, target.dlq_url)["visible"]
        bar = ProgressBar(io.err, total, count_matched=args.limit is not None)
    scanner = _scanner(args, clients, target)
    # A batch of ten held messages must not reappear while a slow --rate is still sending it.
    scanner.visibility_timeout = replay_visibility(args.visibility_timeout, args.rate)
    with stop_requests(io.err) as should_stop:
        summary = Replayer(clients.sqs, target.queue_url).run(
            scanner,
            dlq_filter,
            options,
            should_stop=should_stop,
            progress=bar.update if bar is not None else None,
        )
    if bar is not None:
        bar.close()
    if args.json or not io.out.isatty():
        _dump(io.out, summary.model_dump(mode="json"))
    else:
        _say(io.out, _human_summary(summary))
    if summary.sent_not_deleted:
        return EXIT_POSSIBLE_DUPLICATE
    return EXIT_OK if summary.ok else EXIT_INCOMPLETE


def _human_summary(summary: ReplaySummary) -> str:
    done = f"would replay {summary.would_replay}" if summary.dry_run else f"replayed {summary.replayed}"
    lines = [
        f"{done}, refused {summary.refused}, duplicates {summary.duplicates}, back in the DLQ {summary.back_in_dlq}, "
        f"failed {summary.failed} "
        f"(scanned {summary.scanned}, matched {summary.matched}, released {summary.released})"
    ]
    if summary.interrupted:
        lines.append("interrupted: the records not handled are back in the DLQ")
    lines += [f"{p.status:<16} {p.message_id}  {p.reason or ''}" for p in summary.problems]
    if summary.sent_not_deleted:
        lines.append(
            "these were sent but are still in the DLQ; delete them with "
            "`nxbridge dlq purge --id ID --yes` once the sent copy is processed: " + ", ".join(summary.sent_not_deleted)
        )
    return "\n".join(lines)
