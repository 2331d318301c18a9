"""``nxbridge dlq``: inspect, filter, replay, export and purge the CustomersDLQ, against AWS or the local stack."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from nxbridge.aws.clients import OPERATOR, client
from nxbridge.config import MAX_REPLAYS, SCAN_VISIBILITY_TIMEOUT, SCAN_WAIT_SECONDS, DlqSettings, ReplaySettings
from nxbridge.observability import logger
from nxbridge.ordering import Watermarks
from nxbridge.replay.errors import ReplayError
from nxbridge.replay.export import purge, write_export
from nxbridge.replay.filters import STAGES, DlqFilter
from nxbridge.replay.plan import Edits, ReplayOptions, parse_assignment
from nxbridge.replay.queues import approximate_counts, queues_from_stack
from nxbridge.replay.records import view
from nxbridge.replay.replayer import Replayer, parse_rate, replay_visibility
from nxbridge.replay.scan import AGE_BUCKETS, DlqScanner, find, select, stats
from nxbridge.replay.terminal import ProgressBar, age, dump, human_summary, say, stop_requests, table

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
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
        dynamodb: DynamoDBClient | None = None,
        make_dynamodb: Callable[[], DynamoDBClient] | None = None,
    ) -> None:
        self.sqs = sqs
        self._cloudformation = cloudformation
        self._make_cloudformation = make_cloudformation
        self._dynamodb = dynamodb
        self._make_dynamodb = make_dynamodb

    @property
    def cloudformation(self) -> CloudFormationClient:
        """The CloudFormation client, created on first use (only --stack needs it)."""
        if self._cloudformation is None:
            if self._make_cloudformation is None:
                raise ReplayError("no CloudFormation client to read --stack with")
            self._cloudformation = self._make_cloudformation()
        return self._cloudformation

    @property
    def dynamodb(self) -> DynamoDBClient:
        """The DynamoDB client, created on first use (only a replay with a watermark table needs it)."""
        if self._dynamodb is None:
            if self._make_dynamodb is None:
                raise ReplayError("no DynamoDB client to read the watermarks with")
            self._dynamodb = self._make_dynamodb()
        return self._dynamodb


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
    common, filters = common_options(), _filter_options()

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
        help=f"refuse records already replayed this many times (default: MAX_REPLAYS or {MAX_REPLAYS})",
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
    p.set_defaults(func=run, dlq_run=_replay, dlq_settings=ReplaySettings)

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


def common_options() -> argparse.ArgumentParser:
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
        help="seconds a scan hides the messages it reads (released at the end); "
        f"default REPLAY_VISIBILITY_TIMEOUT or {SCAN_VISIBILITY_TIMEOUT}",
    )
    group.add_argument(
        "--wait-seconds",
        type=_non_negative_int,
        help="long-poll wait of each receive; 0 only for local emulators; "
        f"default REPLAY_WAIT_SECONDS or {SCAN_WAIT_SECONDS}",
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
    group.add_argument(
        "--identity",
        action="append",
        default=[],
        help="customer: the SHA-256 the logs show, or an identity such as email:jane@example.com or shop:id:42",
    )
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
        sqs=client("sqs", OPERATOR, session, endpoint_url=args.endpoint_url),
        make_cloudformation=lambda: client("cloudformation", OPERATOR, session, endpoint_url=args.endpoint_url),
        make_dynamodb=lambda: client("dynamodb", OPERATOR, session, endpoint_url=args.endpoint_url),
    )


# The environment variables the settings read, with the flags and hints that stand for them in messages.
_SETTING_NAMES = {
    "DLQ_URL": "no DLQ: give --stack, --dlq-url or set DLQ_URL",
    "QUEUE_URL": "no CustomersQueue: give --stack, --queue-url or set QUEUE_URL",
    "REPLAY_VISIBILITY_TIMEOUT": "--visibility-timeout (REPLAY_VISIBILITY_TIMEOUT)",
    "REPLAY_WAIT_SECONDS": "--wait-seconds (REPLAY_WAIT_SECONDS)",
    "MAX_REPLAYS": "--max-replays (MAX_REPLAYS)",
    "ORDERING_TABLE": "the watermark table (ORDERING_TABLE or the stack's IdempotencyTableName)",
}


def load_settings(args: argparse.Namespace, clients: Clients, env: Mapping[str, str] | None = None) -> DlqSettings:
    """The settings the ReplayFunction would read from ``env``, overridden by the stack's outputs, then the flags.

    Queue URLs: explicit flags first, then the stack's outputs, then QUEUE_URL/DLQ_URL. A replay builds
    ReplaySettings (which needs the CustomersQueue; the watermark table comes from the stack or ORDERING_TABLE);
    every other action reads the DLQ only.
    """
    queue_url, dlq_url, table = args.queue_url, args.dlq_url, None
    replaying = getattr(args, "dlq_settings", DlqSettings) is ReplaySettings
    if args.stack and not (queue_url and dlq_url and not replaying):
        found = queues_from_stack(clients.cloudformation, args.stack)
        queue_url, dlq_url, table = queue_url or found.queue_url, dlq_url or found.dlq_url, found.ordering_table
    flags = {
        "QUEUE_URL": queue_url,
        "DLQ_URL": dlq_url,
        "ORDERING_TABLE": table,
        "REPLAY_VISIBILITY_TIMEOUT": args.visibility_timeout,
        "REPLAY_WAIT_SECONDS": args.wait_seconds,
        "MAX_REPLAYS": getattr(args, "max_replays", None),
    }
    source = {**(os.environ if env is None else env), **{k: str(v) for k, v in flags.items() if v is not None}}
    model: type[DlqSettings] = getattr(args, "dlq_settings", DlqSettings)
    try:
        settings: DlqSettings = model.from_env(source)
    except ValidationError as exc:
        raise ReplayError(_settings_problems(exc)) from None
    return settings


def _settings_problems(exc: ValidationError) -> str:
    """A settings error on one line, naming the flag or variable rather than the field."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = str(error["loc"][0]) if error["loc"] else ""
        if error["type"] == "missing" and name in ("DLQ_URL", "QUEUE_URL"):
            problems.append(_SETTING_NAMES[name])
        else:
            problems.append(f"{_SETTING_NAMES.get(name, name)}: {error['msg']}")
    return "; ".join(problems)


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
        with logs_to(io.err):
            dlq_filter = _filter(args)
            active = clients or make_clients(args)
            settings = load_settings(args, active)
            status: int = args.dlq_run(args, active, settings, dlq_filter, io)
    except ValidationError as exc:
        say(io.err, f"nxbridge dlq: {_problems(exc)}")
        return EXIT_USAGE
    except (ReplayError, ValueError, OSError) as exc:
        say(io.err, f"nxbridge dlq: {_one_line(str(exc))}")
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as exc:
        # Unreachable endpoints, missing credentials or regions, denied calls: the operator needs the reason, not
        # botocore's stack.
        say(io.err, f"nxbridge dlq: AWS error: {_one_line(str(exc))}")
        return EXIT_USAGE
    return status


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _problems(exc: ValidationError) -> str:
    """A model's validation errors on one line, without pydantic's decoration."""
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors(include_url=False))


@contextlib.contextmanager
def logs_to(err: IO[str]) -> Iterator[None]:
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
            identity=tuple(getattr(args, "identity", [])),
        )
    except ValidationError as exc:
        raise ReplayError(_problems(exc)) from None


def _scanner(clients: Clients, settings: DlqSettings) -> DlqScanner:
    return DlqScanner(
        clients.sqs,
        settings.dlq_url,
        visibility_timeout=settings.visibility_timeout,
        wait_seconds=settings.wait_seconds,
    )


def _stats(args: argparse.Namespace, clients: Clients, settings: DlqSettings, dlq_filter: DlqFilter, io: Io) -> int:
    approximate = approximate_counts(clients.sqs, settings.dlq_url)
    with _scanner(clients, settings) as scanner:
        counted = stats(scanner, dlq_filter)
    if args.json:
        dump(io.out, {"action": "stats", **counted.model_dump(mode="json"), "approximate": approximate})
        return EXIT_OK
    say(
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
        say(io.out, "")
        say(io.out, table([[k, str(v)] for k, v in counts.items()], [title.upper(), "COUNT"]))
    return EXIT_OK


def _list(args: argparse.Namespace, clients: Clients, settings: DlqSettings, dlq_filter: DlqFilter, io: Io) -> int:
    with _scanner(clients, settings) as scanner:
        records = [view(m, reveal=args.reveal) for m in select(scanner, dlq_filter, limit=args.limit)]
    if args.json:
        dump(io.out, {"count": len(records), "records": [r.model_dump(mode="json") for r in records]})
        return EXIT_OK
    rows = [
        [
            r.message_id,
            age(r.failed_at),
            r.stage,
            r.errorCode,
            r.endpoint or "-",
            str(r.replay_count),
            (r.errorMessage[:57] + "...") if len(r.errorMessage) > 60 else r.errorMessage,
        ]
        for r in records
    ]
    say(io.out, table(rows, ["MESSAGE ID", "AGE", "STAGE", "CODE", "ENDPOINT", "REPLAYS", "REASON"]))
    say(io.err, f"{len(records)} record(s)")
    return EXIT_OK


def _show(args: argparse.Namespace, clients: Clients, settings: DlqSettings, dlq_filter: DlqFilter, io: Io) -> int:
    with _scanner(clients, settings) as scanner:
        found = find(scanner, args.message_id)
    if found is None:
        say(io.err, f"nxbridge dlq: no message {args.message_id} in the DLQ (or another reader holds it right now)")
        return EXIT_INCOMPLETE
    dump(io.out, view(found, reveal=args.reveal).model_dump(mode="json"), indent=2)
    return EXIT_OK


def _export(args: argparse.Namespace, clients: Clients, settings: DlqSettings, dlq_filter: DlqFilter, io: Io) -> int:
    with contextlib.ExitStack() as stack:
        sink = io.out if args.out == "-" else stack.enter_context(open(args.out, "w", encoding="utf-8"))
        scanner = stack.enter_context(_scanner(clients, settings))
        count = write_export(select(scanner, dlq_filter, limit=args.limit), sink, reveal=args.reveal)
        scanned = scanner.scanned
    summary = {"action": "export", "out": args.out, "exported": count, "scanned": scanned, "revealed": args.reveal}
    if args.json:
        dump(io.err if args.out == "-" else io.out, summary)
    else:
        say(io.err, f"exported {count} of {scanned} record(s) to {args.out}")
    return EXIT_OK


def _purge(args: argparse.Namespace, clients: Clients, settings: DlqSettings, dlq_filter: DlqFilter, io: Io) -> int:
    if not args.yes:
        say(
            io.err,
            "nxbridge dlq purge: refusing to delete without --yes (see `nxbridge dlq list` with the same filters)",
        )
        return EXIT_USAGE
    name = args.out or dt.datetime.now(dt.UTC).strftime("dlq-purge-%Y%m%dT%H%M%SZ.jsonl")
    # The archive holds PII in clear (it is the only copy once deleted): owner-only, never overwritten.
    descriptor = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as archive, _scanner(clients, settings) as scanner:
        summary = purge(scanner, dlq_filter, archive, archive_name=name, limit=args.limit)
    if args.json:
        dump(io.out, summary.model_dump(mode="json"))
    else:
        say(io.out, f"deleted {summary.deleted} record(s); archived {summary.archived} to {name}")
        for message_id in summary.not_deleted:
            say(io.out, f"not deleted (still in the DLQ): {message_id}")
    return EXIT_OK if not summary.not_deleted else EXIT_INCOMPLETE


def _replay(args: argparse.Namespace, clients: Clients, settings: ReplaySettings, dlq_filter: DlqFilter, io: Io) -> int:
    options = ReplayOptions(
        dry_run=args.dry_run,
        limit=args.limit,
        rate=args.rate,
        max_replays=settings.max_replays,
        force=args.force,
        edits=Edits(set_fields=dict(args.set_fields), drop_fields=tuple(args.drop_field)),
    )
    bar: ProgressBar | None = None
    if io.err.isatty():
        total = args.limit or approximate_counts(clients.sqs, settings.dlq_url)["visible"]
        bar = ProgressBar(io.err, total, count_matched=args.limit is not None)
    scanner = _scanner(clients, settings)
    # A batch of ten held messages must not reappear while a slow --rate is still sending it.
    scanner.visibility_timeout = replay_visibility(settings.visibility_timeout, args.rate)
    watermarks = None
    if settings.ordering_table:
        watermarks = Watermarks(clients.dynamodb, settings.ordering_table)
    else:
        say(io.err, "nxbridge dlq: warning: no watermark table (--stack or ORDERING_TABLE): stale records not refused")
    with stop_requests(io.err) as should_stop:
        summary = Replayer(clients.sqs, settings.queue_url, watermarks=watermarks).run(
            scanner,
            dlq_filter,
            options,
            should_stop=should_stop,
            progress=bar.update if bar is not None else None,
        )
    if bar is not None:
        bar.close()
    if args.json or not io.out.isatty():
        dump(io.out, summary.model_dump(mode="json"))
    else:
        say(io.out, human_summary(summary))
    if summary.sent_not_deleted:
        return EXIT_POSSIBLE_DUPLICATE
    return EXIT_OK if summary.ok else EXIT_INCOMPLETE
